"""The command benchmark's contenders, each a whole process as a user or a script runs it."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.gitplain import bearer_env
from benchmarks.lfs_contenders import EpicstarCli


class BenchmarkError(RuntimeError):
    """A contender did something other than the work it is timed for."""


@dataclass(frozen=True)
class Timed:
    seconds: float
    stdout: str


def timed(
    args: Sequence[str], env: Mapping[str, str] | None = None, cwd: Path | None = None
) -> Timed:
    """Run ``args`` to the end; its wall-clock seconds and stdout. A failure is an error."""
    started = time.perf_counter()
    result = subprocess.run(
        list(args),
        env=dict(env) if env is not None else None,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        tail = "\n".join(result.stderr.strip().splitlines()[-6:])
        raise BenchmarkError(f"{' '.join(args[:3])} exited {result.returncode}: {tail}")
    return Timed(seconds, result.stdout)


def python_pass() -> float:
    """The interpreter's own start-up: the floor under any Python command."""
    return timed([sys.executable, "-c", "pass"]).seconds


def import_milliseconds(args: Sequence[str], env: Mapping[str, str]) -> float:
    """What ``python -X importtime -m epicstar <args>`` says its imports took, in ms."""
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "epicstar", *args],
        env=dict(env),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=False,
    )
    total = 0
    for line in result.stderr.splitlines():
        match = re.match(r"import time:\s+\d+ \|\s+(\d+) \| (\S.*)$", line)
        if match and not match.group(2).startswith(" "):
            total += int(match.group(1))  # top-level imports only: the others are inside them
    return total / 1000


@dataclass(frozen=True)
class EpicstarCommand(EpicstarCli):
    """``epicstar`` run as a user runs it (see :class:`EpicstarCli`), any command."""

    def env(self, data_dir: Path, onedev_parent: str, **extra: str) -> dict[str, str]:
        return {**super().env(data_dir, onedev_parent), **extra}

    def run(self, args: Sequence[str], env: Mapping[str, str]) -> Timed:
        return timed([sys.executable, "-m", "epicstar", *args], env)

    def sync_in(self, env: Mapping[str, str], *, expected: str) -> tuple[float, dict[str, Any]]:
        """``epicstar sync --json``: its seconds and its one repository's report, which must
        have ended ``expected``."""
        run = self.run(["sync", "--json"], env)
        document = json.loads(run.stdout)
        [repository] = document["repositories"]
        if repository["outcome"] != expected:
            raise BenchmarkError(
                f"epicstar sync ended {repository['outcome']}, expected {expected}: "
                f"{repository['error']}"
            )
        return run.seconds, repository


def ls_remote(url: str, token: str) -> float:
    return timed(["git", "ls-remote", url], bearer_env(token)).seconds


def git_commands(trace: Path) -> list[str]:
    """The git commands a ``GIT_TRACE`` file shows were started: each one's subcommand and
    options (URLs and paths left out)."""
    commands: list[str] = []
    for line in trace.read_text(errors="replace").splitlines():
        match = re.search(r"trace: (?:built-in|exec): git (.*)$", line)
        if match:
            words = [word.strip("'") for word in match.group(1).split()]
            subcommand = next((word for word in words if not word.startswith("-")), "")
            options = [word.split("=", 1)[0] for word in words if word.startswith("--")]
            commands.append(" ".join([subcommand, *options]))
    return commands


HISTORY_SIZED = ("gc", "repack", "prune", "fsck", "pack-objects --all")
"""git commands whose cost grows with the whole repository, not with what changed (``git
repack --geometric``, whose cost is that of the small packs it merges, is not one)."""


def history_sized(commands: Sequence[str]) -> list[str]:
    """The commands among ``commands`` that walk or rewrite the whole repository: those of
    :data:`HISTORY_SIZED`, and a ``rev-list --all`` (``rev-list --not --all``, git's
    connectivity check after a fetch, walks only the new objects)."""
    return [command for command in commands if _history_sized(command.split())]


def _history_sized(words: list[str]) -> bool:
    if words[:1] == ["repack"] and "--geometric" in words:
        return False
    if words[:1] == ["rev-list"]:
        return "--all" in words and "--not" not in words
    command = " ".join(words)
    return any(command == bad or command.startswith(bad + " ") for bad in HISTORY_SIZED)
