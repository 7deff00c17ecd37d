"""Run git in a subprocess with a hard deadline that kills its whole process group."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

# Variables that would redirect git to another repository, change its configuration
# behind our back, or make it ask someone for a password.
_SCRUBBED_PREFIXES = ("GIT_CONFIG_KEY_", "GIT_CONFIG_VALUE_")
_SCRUBBED = frozenset(
    {
        "GIT_DIR",
        "GIT_WORK_TREE",
        "GIT_INDEX_FILE",
        "GIT_OBJECT_DIRECTORY",
        "GIT_ALTERNATE_OBJECT_DIRECTORIES",
        "GIT_NAMESPACE",
        "GIT_ASKPASS",
        "SSH_ASKPASS",
        "GIT_PROTOCOL",
        "GIT_CEILING_DIRECTORIES",
        "GIT_CONFIG",
        "GIT_CONFIG_COUNT",
        "GIT_CONFIG_PARAMETERS",
        "GIT_TRACE_REDACT",
    }
)
# Enough for OneDev's reasons when it refuses a few dozen refs of one push (~600 bytes each).
_STDERR_TAIL = 16_000

# What git (through curl) says when the server or the network failed for a moment, or when
# a ref moved under a push (curl sends a POST again by itself when the connection it reused
# died, so a push that landed is replayed and finds its refs already there). A 4xx, even
# inside "RPC failed", is the server's considered answer and is never among them.
_CLIENT_ERROR = re.compile(r"returned error: 4\d\d|HTTP 4\d\d")
# The local disk refused a write: no later try can do better until someone frees space.
_DISK_FULL = re.compile(r"No space left on device|Disk quota exceeded", re.IGNORECASE)
_PASSING_TROUBLE = re.compile(
    r"returned error: 5\d\d|HTTP 5\d\d|RPC failed|Connection reset|Empty reply from server"
    r"|Recv failure|Send failure|transfer closed|early EOF|unexpected disconnect"
    r"|remote end hung up unexpectedly|Could not resolve host|Failed to connect"
    r"|Operation timed out|Connection timed out|cannot lock ref",
    re.IGNORECASE,
)
# git's own words (LC_ALL=C) when the server answered 404 to its first request, and when it
# answered 401 to a request that carried no credentials (git may not prompt for any).
_NO_SUCH_REPOSITORY = re.compile(r"^fatal: repository '[^'\n]*' not found$", re.MULTILINE)
_CREDENTIALS_WANTED = re.compile(r"^fatal: could not read Username for ", re.MULTILINE)


class GitError(Exception):
    """A git command failed; the message holds its command name and the end of stderr.

    ``stdout`` is what git wrote there before failing: ``push --porcelain`` reports each
    ref's fate, rejections included, on stdout.
    """

    def __init__(
        self, message: str, *, stderr: str = "", stdout: str = "", returncode: int | None = None
    ) -> None:
        super().__init__(message)
        self.stderr = stderr
        self.stdout = stdout
        self.returncode = returncode

    @property
    def transient(self) -> bool:
        """Whether git failed because the server or the network did for a moment, so the
        same command may well succeed in a second."""
        if _CLIENT_ERROR.search(self.stderr) or self.disk_full is not None:
            return False
        return _PASSING_TROUBLE.search(self.stderr) is not None

    @property
    def no_such_repository(self) -> bool:
        """Whether the server said there is no repository at the URL (HTTP 404)."""
        return _NO_SUCH_REPOSITORY.search(self.stderr) is not None

    @property
    def credentials_wanted(self) -> bool:
        """Whether the server asked for credentials the request did not carry (HTTP 401)."""
        return _CREDENTIALS_WANTED.search(self.stderr) is not None

    @property
    def disk_full(self) -> str | None:
        """git's line saying the disk it wrote to (the cache's) is full, if it failed so."""
        for line in self.stderr.splitlines():
            if _DISK_FULL.search(line):
                return line.strip()
        return None


class GitTimeout(GitError):
    """A git command ran past its deadline and was killed with its children."""

    @property
    def transient(self) -> bool:
        return False  # the whole deadline is spent: another try waits for the next pass


class GitCancelled(GitError):
    """A git command was stopped because the service is shutting down."""

    @property
    def transient(self) -> bool:
        return False


_CANCEL_POLL = 0.25
"""Seconds between looks at the cancel event while git runs."""


@dataclass(frozen=True)
class GitResult:
    stdout: str
    stderr: str
    seconds: float
    raw_stdout: bytes = field(default=b"", repr=False)
    """stdout as git wrote it, for objects whose bytes matter (``cat-file --batch``)."""


def base_environment(config: Mapping[str, str]) -> dict[str, str]:
    """The environment for git: ours, minus anything that could leak or prompt, plus ``config``.

    ``config`` is passed as ``GIT_CONFIG_COUNT``/``GIT_CONFIG_KEY_n``/``GIT_CONFIG_VALUE_n``,
    which git reads like ``-c`` options without them ever appearing on a command line.
    """
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in _SCRUBBED and not key.startswith(_SCRUBBED_PREFIXES)
    }
    env["GIT_TERMINAL_PROMPT"] = "0"
    env["GIT_TRACE_REDACT"] = "1"
    env["LC_ALL"] = "C"
    env["GIT_CONFIG_COUNT"] = str(len(config))
    for index, (key, value) in enumerate(config.items()):
        env[f"GIT_CONFIG_KEY_{index}"] = key
        env[f"GIT_CONFIG_VALUE_{index}"] = value
    return env


def run_git(
    args: Sequence[str],
    *,
    cwd: Path | None = None,
    env: Mapping[str, str],
    timeout: float,
    redact: Sequence[str] = (),
    stdin: str | None = None,
    pass_fds: Sequence[int] = (),
    cancel: threading.Event | None = None,
) -> GitResult:
    """Run ``git <args>``; raise GitTimeout after ``timeout`` seconds, GitError on failure.

    When ``cancel`` is set while git runs, git and its children are killed and
    :class:`GitCancelled` is raised.
    """
    command = ["git", *args]
    started = time.monotonic()
    with _input_file(stdin) as input_file:
        process = subprocess.Popen(
            command,
            cwd=cwd,
            env=dict(env),
            stdin=input_file,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
            pass_fds=tuple(pass_fds),
        )
    try:
        raw, raw_stderr = _communicate(process, started + timeout, cancel)
    except subprocess.TimeoutExpired:
        _kill_group(process)
        stderr = _text(process.communicate()[1])
        if cancel is not None and cancel.is_set():
            raise GitCancelled(
                f"git {args[0]} was stopped: the service is shutting down",
                stderr=_clean(stderr, redact),
            ) from None
        raise GitTimeout(
            f"git {args[0]} did not finish within {timeout:.0f}s and was stopped",
            stderr=_clean(stderr, redact),
        ) from None
    except BaseException:
        _kill_group(process)
        process.communicate()
        raise
    seconds = time.monotonic() - started
    stdout, stderr = _text(raw), _text(raw_stderr)
    if process.returncode != 0:
        tail = _clean(stderr, redact)
        summary = _summary(tail) or f"exit status {process.returncode}"
        raise GitError(
            f"git {args[0]} failed: {summary}",
            stderr=tail,
            stdout=_masked(stdout, redact),
            returncode=process.returncode,
        )
    return GitResult(stdout=stdout, stderr=stderr, seconds=seconds, raw_stdout=raw)


def _text(output: bytes) -> str:
    """What git printed, as text: undecodable bytes replaced, every line ending a newline."""
    decoded = output.decode("utf-8", errors="replace")
    return decoded.replace("\r\n", "\n").replace("\r", "\n")


@contextlib.contextmanager
def _input_file(stdin: str | None) -> Iterator[IO[bytes] | int]:
    """What git reads: ``stdin`` from an unlinked file, or nothing.

    Not a pipe fed by ``communicate``: once one of its slices (below) timed out, Popen neither
    accepts the input again nor writes the rest of it, and git would wait for it forever."""
    if stdin is None:
        yield subprocess.DEVNULL
        return
    with tempfile.TemporaryFile() as file:
        file.write(stdin.encode())
        file.seek(0)
        yield file


def _communicate(
    process: subprocess.Popen[bytes],
    deadline: float,
    cancel: threading.Event | None,
) -> tuple[bytes, bytes]:
    """Popen.communicate until ``deadline``, in short slices when ``cancel`` may stop it.

    A retried ``communicate`` carries on reading where the last one stopped.
    Raises ``TimeoutExpired`` at the deadline or once ``cancel`` is set.
    """
    while True:
        remaining = deadline - time.monotonic()
        if cancel is None:
            return process.communicate(timeout=max(remaining, 0))
        if cancel.is_set() or remaining <= 0:
            raise subprocess.TimeoutExpired(process.args, 0)
        try:
            return process.communicate(timeout=min(remaining, _CANCEL_POLL))
        except subprocess.TimeoutExpired:
            continue


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


def _clean(stderr: str, redact: Sequence[str]) -> str:
    return _masked(stderr[-_STDERR_TAIL:], redact).strip()


def _masked(text: str, redact: Sequence[str]) -> str:
    for secret in redact:
        if secret:
            text = text.replace(secret, "***")
    return text


def _summary(stderr: str) -> str:
    """The most telling line of git's stderr: the last fatal/error line, else the last line."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    for line in reversed(lines):
        if line.startswith(("fatal:", "error:", "remote:")) or "rejected" in line:
            return line
    return lines[-1] if lines else ""
