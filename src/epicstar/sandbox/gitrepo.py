"""Git plumbing for the stand-ins: bare repositories written without a work tree.

Commits are written with ``git fast-import`` (one process per call, objects land in a pack),
so generating tens of thousands of objects for benchmarks is cheap.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import re
import subprocess
import tempfile
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

FileContent = str | bytes | None
"""File content for a commit; ``None`` deletes the path."""

_SHA_RE = re.compile(r"^[0-9a-f]{40}([0-9a-f]{24})?$")
_ENV_PASSTHROUGH = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "TZ", "SYSTEMROOT")


class GitError(RuntimeError):
    """A git command failed."""


@dataclass(frozen=True)
class Identity:
    name: str = "Sandbox Bot"
    email: str = "sandbox@example.invalid"


SANDBOX_IDENTITY = Identity()


def git_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """A hermetic environment for git: no system/global config, no prompts."""
    env = {k: os.environ[k] for k in _ENV_PASSTHROUGH if k in os.environ}
    env.update(
        GIT_CONFIG_NOSYSTEM="1",
        GIT_CONFIG_GLOBAL=os.devnull,
        GIT_TERMINAL_PROMPT="0",
        GIT_AUTHOR_NAME=SANDBOX_IDENTITY.name,
        GIT_AUTHOR_EMAIL=SANDBOX_IDENTITY.email,
        GIT_COMMITTER_NAME=SANDBOX_IDENTITY.name,
        GIT_COMMITTER_EMAIL=SANDBOX_IDENTITY.email,
    )
    if extra:
        env.update(extra)
    return env


def run_git(repo: Path | None, *args: str, input: bytes | None = None) -> str:
    """Run ``git [--git-dir repo] args`` and return stdout (stripped); raise GitError."""
    argv = ["git"]
    if repo is not None:
        argv += ["--git-dir", str(repo)]
    argv += list(args)
    proc = subprocess.run(argv, input=input, capture_output=True, env=git_env(), check=False)
    if proc.returncode != 0:
        raise GitError(f"{' '.join(args[:2])} failed: {proc.stderr.decode(errors='replace')}")
    return proc.stdout.decode(errors="replace").strip()


async def run_git_async(repo: Path | None, *args: str) -> tuple[int, str, str]:
    """Async variant for request handlers: returns (returncode, stdout, stderr)."""
    argv = ["git"]
    if repo is not None:
        argv += ["--git-dir", str(repo)]
    proc = await asyncio.create_subprocess_exec(
        *argv,
        *args,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=git_env(),
    )
    out, err = await proc.communicate()
    return proc.returncode or 0, out.decode(errors="replace").strip(), err.decode(errors="replace")


def init_bare(path: Path, initial_branch: str, template: Path | None = None) -> None:
    """``git init --bare`` (with an explicit template so no sample hooks are copied)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    args = ["init", "--quiet", "--bare", f"--initial-branch={initial_branch}"]
    if template is not None:
        args.append(f"--template={template}")
    run_git(None, *args, str(path))


def init_args(path: Path, initial_branch: str, template: Path) -> list[str]:
    return [
        "init",
        "--quiet",
        "--bare",
        f"--initial-branch={initial_branch}",
        f"--template={template}",
        str(path),
    ]


def is_sha(value: str) -> bool:
    return bool(_SHA_RE.match(value))


def resolve(repo: Path, rev: str) -> str | None:
    """Commit sha of ``rev`` or None when it does not resolve."""
    proc = subprocess.run(
        ["git", "--git-dir", str(repo), "rev-parse", "-q", "--verify", f"{rev}^{{commit}}"],
        capture_output=True,
        env=git_env(),
        check=False,
    )
    return proc.stdout.decode().strip() if proc.returncode == 0 else None


def read_blob(repo: Path, rev: str, path: str) -> bytes | None:
    """The content of ``path`` in commit ``rev``, or None when it has no such file."""
    proc = subprocess.run(
        ["git", "--git-dir", str(repo), "cat-file", "blob", f"{rev}:{path}"],
        capture_output=True,
        env=git_env(),
        check=False,
    )
    return proc.stdout if proc.returncode == 0 else None


def list_refs(repo: Path, prefix: str = "refs/") -> dict[str, str]:
    out = run_git(repo, "for-each-ref", "--format=%(objectname) %(refname)", prefix)
    refs: dict[str, str] = {}
    for line in out.splitlines():
        sha, _, name = line.partition(" ")
        refs[name] = sha
    return refs


async def list_refs_async(repo: Path, prefix: str) -> list[str]:
    code, out, err = await run_git_async(repo, "for-each-ref", "--format=%(refname)", prefix)
    if code != 0:
        raise GitError(err)
    return [line for line in out.splitlines() if line]


def head_target(repo: Path) -> str | None:
    """The ref HEAD points at (e.g. ``refs/heads/main``), whether or not it exists."""
    proc = subprocess.run(
        ["git", "--git-dir", str(repo), "symbolic-ref", "-q", "HEAD"],
        capture_output=True,
        env=git_env(),
        check=False,
    )
    if proc.returncode != 0:
        return None
    return proc.stdout.decode().strip() or None


def update_refs(repo: Path, updates: Mapping[str, str | None]) -> None:
    """Atomically set (sha) or delete (None) several refs."""
    lines = []
    for ref, sha in updates.items():
        lines.append(f"delete {ref}" if sha is None else f"update {ref} {sha}")
    run_git(repo, "update-ref", "--stdin", input=("\n".join(lines) + "\n").encode())


def set_head(repo: Path, branch: str) -> None:
    run_git(repo, "symbolic-ref", "HEAD", f"refs/heads/{branch}")


def disk_usage_kib(repo: Path) -> int:
    """Repository size in KiB, as ``git count-objects -v`` reports (loose + packs)."""
    out = run_git(repo, "count-objects", "-v")
    values = dict(line.split(": ", 1) for line in out.splitlines() if ": " in line)
    return int(values.get("size", "0")) + int(values.get("size-pack", "0"))


def _quote_path(path: str) -> str:
    escaped = path.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def _data(payload: bytes) -> bytes:
    return b"data %d\n" % len(payload) + payload + b"\n"


@dataclass
class CommitSpec:
    """One commit for :func:`fast_import`: written to ``ref`` on top of ``parent``."""

    ref: str
    files: Mapping[str, FileContent]
    message: str
    parent: str | None = None  # sha, ":<mark>" or None for a root commit
    merge: Sequence[str] = ()
    when: int | None = None


def _commit_stream(mark: int, spec: CommitSpec, ident: Identity) -> bytes:
    when = spec.when if spec.when is not None else int(time.time())
    person = f"{ident.name} <{ident.email}> {when} +0000".encode()
    parts = []
    if spec.parent is None:
        parts.append(f"reset {spec.ref}\n".encode())
    parts.append(f"commit {spec.ref}\nmark :{mark}\n".encode())
    parts.append(b"author " + person + b"\ncommitter " + person + b"\n")
    parts.append(_data(spec.message.encode()))
    if spec.parent is not None:
        parts.append(f"from {spec.parent}\n".encode())
    for other in spec.merge:
        parts.append(f"merge {other}\n".encode())
    for path, content in spec.files.items():
        if content is None:
            parts.append(f"D {_quote_path(path)}\n".encode())
            continue
        payload = content.encode() if isinstance(content, str) else content
        parts.append(f"M 100644 inline {_quote_path(path)}\n".encode())
        parts.append(_data(payload))
    parts.append(b"\n")
    return b"".join(parts)


def fast_import(
    repo: Path, commits: Sequence[CommitSpec], ident: Identity = SANDBOX_IDENTITY
) -> list[str]:
    """Write ``commits`` (marks 1..n, referable as ``":<n>"``) and return their shas."""
    chunks = (_commit_stream(i + 1, c, ident) for i, c in enumerate(commits))
    return _run_fast_import(repo, chunks, len(commits))


def _run_fast_import(repo: Path, chunks: Iterable[bytes], count: int) -> list[str]:
    """Feed ``chunks`` to ``git fast-import`` as they are produced (never one big buffer)."""
    with tempfile.TemporaryDirectory(prefix="sandbox-fi-") as tmp:
        marks = Path(tmp) / "marks"
        errors = Path(tmp) / "stderr"
        with errors.open("wb") as err_file:
            proc = subprocess.Popen(
                [
                    "git",
                    "--git-dir",
                    str(repo),
                    "fast-import",
                    "--quiet",
                    "--force",
                    f"--export-marks={marks}",
                ],
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                stderr=err_file,
                env=git_env(),
            )
            assert proc.stdin is not None
            try:
                for chunk in chunks:
                    proc.stdin.write(chunk)
            except BrokenPipeError:
                pass
            finally:
                with contextlib.suppress(BrokenPipeError):
                    proc.stdin.close()
                code = proc.wait()
        if code != 0:
            raise GitError(f"fast-import failed: {errors.read_text(errors='replace')}")
        table = dict(line.split(" ", 1) for line in marks.read_text().splitlines())
    return [table[f":{i + 1}"] for i in range(count)]


def _generated_commits(
    ref: str,
    parent: str | None,
    *,
    commits: int,
    files_per_commit: int,
    file_size: int,
    seed: int,
    ident: Identity,
) -> Iterator[bytes]:
    now = int(time.time()) - commits
    for i in range(commits):
        files: dict[str, FileContent] = {
            f"gen/{seed}/{i % 97}/f{i}_{j}.txt": _filler(seed, i, j, file_size)
            for j in range(files_per_commit)
        }
        spec = CommitSpec(
            ref=ref,
            files=files,
            message=f"generated commit {i}\n",
            parent=parent if i == 0 else f":{i}",
            when=now + i,
        )
        yield _commit_stream(i + 1, spec, ident)


def _filler(seed: int, i: int, j: int, size: int) -> bytes:
    """Deterministic, poorly compressible bytes that differ per file (distinct blobs)."""
    head = f"seed={seed} commit={i} file={j}\n".encode()
    if size <= len(head):
        return head
    rng = random.Random(f"{seed}/{i}/{j}")  # noqa: S311 - test data, not crypto
    return head + rng.randbytes((size - len(head) + 1) // 2).hex().encode()[: size - len(head)]


def generate_history(
    repo: Path,
    ref: str,
    parent: str | None,
    *,
    commits: int,
    files_per_commit: int,
    file_size: int,
    seed: int,
    ident: Identity = SANDBOX_IDENTITY,
) -> str:
    """Append ``commits`` linear commits to ``ref`` (root commit when ``parent`` is None)."""
    chunks = _generated_commits(
        ref,
        parent,
        commits=commits,
        files_per_commit=files_per_commit,
        file_size=file_size,
        seed=seed,
        ident=ident,
    )
    return _run_fast_import(repo, chunks, commits)[-1]


def merge_commit(repo: Path, base: str, head: str, message: str) -> str:
    """A two-parent commit carrying ``head``'s tree (GitHub's refs/pull/N/merge stand-in)."""
    tree = run_git(repo, "rev-parse", f"{head}^{{tree}}")
    return run_git(repo, "commit-tree", tree, "-p", base, "-p", head, "-m", message)


def create_tag(repo: Path, name: str, target: str, *, annotated: bool, message: str) -> str:
    """Create (or move) a tag; returns the tag object sha (annotated) or the target sha."""
    if annotated:
        run_git(repo, "tag", "-f", "-a", "-m", message, name, target)
        return run_git(repo, "rev-parse", f"refs/tags/{name}")
    update_refs(repo, {f"refs/tags/{name}": target})
    return target
