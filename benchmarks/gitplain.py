"""Plain git, as the benchmark's baselines run it, plus facts about a bare repository."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from benchmarks.generate import count_objects

MIRROR_REFSPECS = ("+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*")
MIRRORED_NAMESPACES = ("refs/heads/", "refs/tags/")
_STDERR_LINES = 6  # of a failed command's stderr, in the error message


def git(
    args: Sequence[str], *, cwd: Path | None = None, env: Mapping[str, str] | None = None
) -> str:
    """Run ``git <args>`` and return its stdout; raise with git's stderr when it fails."""
    result = subprocess.run(
        ["git", *args],
        cwd=cwd,
        env=dict(env) if env is not None else None,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        tail = "\n".join(result.stderr.strip().splitlines()[-_STDERR_LINES:])
        raise RuntimeError(f"git {' '.join(args[:2])} failed: {tail}")
    return result.stdout


def bearer_env(token: str) -> dict[str, str]:
    """The environment for a git command that sends ``Authorization: Bearer <token>``.

    Like epicstar, the header travels in ``GIT_CONFIG_*`` variables, never on the command line.
    """
    return {
        **os.environ,
        "GIT_CONFIG_COUNT": "1",
        "GIT_CONFIG_KEY_0": "http.extraHeader",
        "GIT_CONFIG_VALUE_0": f"Authorization: Bearer {token}",
    }


@contextmanager
def hermetic_git(home: Path) -> Iterator[None]:
    """Neither contender reads the user's or the system's git configuration, or prompts."""
    home.mkdir(parents=True, exist_ok=True)
    config = home / "gitconfig"
    config.write_text("[user]\n\tname = epicstar benchmark\n\temail = bench@epicstar.invalid\n")
    values = {
        "GIT_CONFIG_GLOBAL": str(config),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_TERMINAL_PROMPT": "0",
    }
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def link_repository(source: Path, target: Path) -> None:
    """Give the empty bare repository ``target`` all objects and refs of ``source``, sharing
    its object files by hard links (``git clone --local`` does the same)."""
    git(["pack-refs", "--all"], cwd=source)
    for path in sorted((source / "objects").rglob("*")):
        if path.is_file():
            destination = target / path.relative_to(source)
            destination.parent.mkdir(parents=True, exist_ok=True)
            os.link(path, destination)
    if (source / "packed-refs").is_file():
        shutil.copyfile(source / "packed-refs", target / "packed-refs")


def list_refs(repo: Path) -> dict[str, str]:
    out = git(["for-each-ref", "--format=%(objectname) %(refname)"], cwd=repo)
    return {name: sha for sha, _, name in (line.partition(" ") for line in out.splitlines())}


def mirrored_part(refs: Mapping[str, str]) -> dict[str, str]:
    """Only the branches and tags: what a mirror must carry."""
    return {name: sha for name, sha in refs.items() if name.startswith(MIRRORED_NAMESPACES)}


def head_branch(repo: Path) -> str:
    """The branch HEAD names (``main`` when HEAD is detached or unreadable)."""
    try:
        target = git(["symbolic-ref", "-q", "HEAD"], cwd=repo).strip()
    except RuntimeError:
        return "main"
    return target.removeprefix("refs/heads/") or "main"


def is_bare(repo: Path) -> bool:
    try:
        return git(["rev-parse", "--is-bare-repository"], cwd=repo).strip() == "true"
    except RuntimeError:
        return False


def git_version() -> str:
    return git(["--version"]).strip().removeprefix("git version ")


@dataclass(frozen=True)
class RepoFacts:
    """Size and shape of the repository being mirrored."""

    objects: int
    pack_bytes: int
    heads: int
    tags: int
    pull_refs: int
    other_refs: int

    @property
    def mirrored_refs(self) -> int:
        return self.heads + self.tags


def repo_facts(repo: Path) -> RepoFacts:
    refs = list_refs(repo)
    heads = sum(name.startswith("refs/heads/") for name in refs)
    tags = sum(name.startswith("refs/tags/") for name in refs)
    pulls = sum(name.startswith("refs/pull/") for name in refs)
    return RepoFacts(
        objects=count_objects(repo),
        pack_bytes=sum(pack.stat().st_size for pack in (repo / "objects" / "pack").glob("*.pack")),
        heads=heads,
        tags=tags,
        pull_refs=pulls,
        other_refs=len(refs) - heads - tags - pulls,
    )
