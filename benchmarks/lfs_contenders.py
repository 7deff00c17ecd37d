"""The LFS benchmark's contenders: the ``epicstar sync`` command, and plain git with git-lfs
running GitHub's documented recipe for copying a repository with its LFS objects.

Each returns the wall-clock seconds of exactly the work compared; set-up happens outside.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.gitplain import MIRROR_REFSPECS, git


class BenchmarkError(RuntimeError):
    """A contender did something other than the work it is timed for."""


# -- epicstar -------------------------------------------------------------------------------


@dataclass(frozen=True)
class SyncRun:
    """One ``epicstar sync --json``: the whole command's time and what it said of its pass."""

    seconds: float
    pass_seconds: float  # the repository's pass, as epicstar measured it (its JSON)
    outcome: str
    lfs: dict[str, Any] | None  # the pass's LFS figures (None: LFS was not due)


@dataclass(frozen=True)
class EpicstarCli:
    """``epicstar`` as a user runs it: a new process, configured by ``EPICSTAR_*`` variables
    (any of the caller's own are set aside)."""

    github_api_url: str
    github_token: str
    onedev_url: str
    onedev_token: str

    def env(self, data_dir: Path, onedev_parent: str) -> dict[str, str]:
        inherited = {k: v for k, v in os.environ.items() if not k.startswith("EPICSTAR_")}
        return {
            **inherited,
            "EPICSTAR_DATA_DIR": str(data_dir),
            "EPICSTAR_DATABASE_URL": f"sqlite:///{data_dir / 'epicstar.db'}",
            "EPICSTAR_GITHUB_API_URL": self.github_api_url,
            "EPICSTAR_GITHUB_TOKEN": self.github_token,
            "EPICSTAR_ONEDEV_URL": self.onedev_url,
            "EPICSTAR_ONEDEV_TOKEN": self.onedev_token,
            "EPICSTAR_ONEDEV_PARENT": onedev_parent,
        }

    def sync(self, data_dir: Path, onedev_parent: str, *, expected: str) -> SyncRun:
        """Time ``epicstar sync --json``; its one repository's pass must end ``expected``."""
        started = time.perf_counter()
        result = subprocess.run(
            [sys.executable, "-m", "epicstar", "sync", "--json"],
            env=self.env(data_dir, onedev_parent),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            check=False,
        )
        elapsed = time.perf_counter() - started
        if result.returncode != 0:
            tail = "\n".join(result.stderr.strip().splitlines()[-6:])
            raise BenchmarkError(f"epicstar sync exited {result.returncode}: {tail}")
        document = json.loads(result.stdout)
        [repository] = document["repositories"]
        if repository["outcome"] != expected:
            raise BenchmarkError(
                f"epicstar's pass ended {repository['outcome']}, expected {expected}: "
                f"{repository['error']}"
            )
        lfs = repository["lfs"]
        if lfs is not None and lfs["missing"]:
            raise BenchmarkError(f"epicstar left {lfs['missing']} LFS objects unmirrored")
        return SyncRun(elapsed, float(repository["seconds"]), repository["outcome"], lfs)


# -- plain git and git-lfs ------------------------------------------------------------------


@dataclass(frozen=True)
class FloorRun:
    seconds: float
    steps: tuple[tuple[str, float], ...]  # each command and its seconds

    def lfs_seconds(self) -> float:
        return sum(seconds for name, seconds in self.steps if name.startswith("git lfs"))


def origin_bearer_env(origin: str, token: str) -> dict[str, str]:
    """``Authorization: Bearer <token>`` for requests to ``origin`` only (git's and
    git-lfs's), passed as epicstar passes it: in ``GIT_CONFIG_*`` variables."""
    return {
        **os.environ,
        "GIT_CONFIG_COUNT": "1",
        "GIT_CONFIG_KEY_0": f"http.{origin.rstrip('/')}/.extraHeader",
        "GIT_CONFIG_VALUE_0": f"Authorization: Bearer {token}",
    }


@dataclass(frozen=True)
class PlainGit:
    """What a person runs by hand to copy the repository with its LFS objects (GitHub's
    "Duplicating a repository" recipe, with heads and tags instead of ``--mirror`` so
    GitHub's ``refs/pull/*`` stay behind, as they do for epicstar)."""

    source_url: str  # the public GitHub repository: no credentials
    onedev_origin: str
    onedev_token: str

    def first(self, repo: Path, target_url: str) -> FloorRun:
        """Into a new bare repository ``repo`` and an empty OneDev project."""
        return self._timed(
            repo,
            target_url,
            [("git init", ["init", "--quiet", "--bare", str(repo)])],
        )

    def update(self, repo: Path, target_url: str) -> FloorRun:
        """The same recipe again, in the bare repository of an earlier run."""
        return self._timed(repo, target_url, [])

    def _timed(self, repo: Path, target_url: str, before: list[tuple[str, list[str]]]) -> FloorRun:
        onedev = origin_bearer_env(self.onedev_origin, self.onedev_token)
        commands: list[tuple[str, list[str], dict[str, str] | None]] = [
            *((name, args, None) for name, args in before),
            ("git fetch", ["fetch", "--quiet", self.source_url, *MIRROR_REFSPECS], None),
            ("git lfs fetch --all", ["lfs", "fetch", "--all", self.source_url], None),
            ("git push", ["push", "--quiet", target_url, *MIRROR_REFSPECS], onedev),
            ("git lfs push --all", ["lfs", "push", "--all", target_url], onedev),
        ]
        steps: list[tuple[str, float]] = []
        started = time.perf_counter()
        for name, args, env in commands:
            step_started = time.perf_counter()
            git(args, cwd=repo if repo.exists() else None, env=env)
            steps.append((name, time.perf_counter() - step_started))
        return FloorRun(time.perf_counter() - started, tuple(steps))
