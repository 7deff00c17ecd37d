"""The four timed contenders: epicstar's mirror pass and the plain-git baselines.

Each function returns the wall-clock seconds of exactly the work being compared; setup
(creating repositories, projects, data directories) happens outside the timed region.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from benchmarks.gitplain import MIRROR_REFSPECS, bearer_env, git
from epicstar.config import Settings, load_settings
from epicstar.state.models import AttemptOutcome
from epicstar.sync.context import SyncContext, open_context
from epicstar.sync.mirror_pass import PassReport, mirror_once
from epicstar.sync.tracking import add_repository


class BenchmarkError(RuntimeError):
    """A contender did something other than the work it is timed for."""


# -- epicstar -------------------------------------------------------------------------------


def epicstar_settings(
    data_dir: Path, *, github_api_url: str, github_token: str, onedev_url: str, onedev_token: str
) -> Settings:
    """Settings for a fresh epicstar (its own data dir and SQLite database), read like the CLI
    reads them: from ``EPICSTAR_*`` variables, with any of the user's own set aside."""
    values = {
        "EPICSTAR_DATA_DIR": str(data_dir),
        "EPICSTAR_DATABASE_URL": f"sqlite:///{data_dir / 'epicstar.db'}",
        "EPICSTAR_GITHUB_API_URL": github_api_url,
        "EPICSTAR_GITHUB_TOKEN": github_token,
        "EPICSTAR_ONEDEV_URL": onedev_url,
        "EPICSTAR_ONEDEV_TOKEN": onedev_token,
    }
    saved = dict(os.environ)
    try:
        for name in [name for name in os.environ if name.startswith("EPICSTAR_")]:
            del os.environ[name]
        os.environ.update(values)
        return load_settings()
    finally:
        os.environ.clear()
        os.environ.update(saved)


@contextmanager
def tracking(settings: Settings, full_name: str) -> Iterator[tuple[SyncContext, int]]:
    """An open epicstar context with ``full_name`` tracked (like ``epicstar add``)."""
    with open_context(settings) as ctx:
        added = add_repository(ctx.db, ctx.github, full_name)
        yield ctx, added.github_id


def epicstar_pass(
    ctx: SyncContext, github_id: int, expected: AttemptOutcome
) -> tuple[float, PassReport]:
    """Time one ``mirror_once``, end to end; it must end with ``expected``."""
    started = time.perf_counter()
    report = mirror_once(ctx, github_id, trigger="benchmark")
    elapsed = time.perf_counter() - started
    if report.outcome != expected:
        raise BenchmarkError(
            f"epicstar pass ended {report.outcome}, expected {expected}: {report.error}"
        )
    return elapsed, report


# -- plain git ------------------------------------------------------------------------------


def plain_git_floor(source_url: str, target_url: str, token: str, scratch: Path) -> float:
    """The least plain git needs for a first mirror: init, fetch heads+tags, push them."""
    repo = Path(tempfile.mkdtemp(prefix="floor-", dir=scratch)) / "repo.git"
    started = time.perf_counter()
    git(["init", "--quiet", "--bare", str(repo)])
    git(["fetch", "--quiet", source_url, *MIRROR_REFSPECS], cwd=repo)
    git(["push", "--quiet", target_url, *MIRROR_REFSPECS], cwd=repo, env=bearer_env(token))
    elapsed = time.perf_counter() - started
    shutil.rmtree(repo.parent)
    return elapsed


def naive_resync(source_url: str, target_url: str, token: str, scratch: Path) -> float:
    """The naive design's every pass: clone everything afresh, push everything."""
    workdir = Path(tempfile.mkdtemp(prefix="naive-", dir=scratch))
    repo = workdir / "repo.git"
    started = time.perf_counter()
    git(["clone", "--quiet", "--mirror", source_url, str(repo)])
    git(["push", "--quiet", "--mirror", target_url], cwd=repo, env=bearer_env(token))
    elapsed = time.perf_counter() - started
    shutil.rmtree(workdir)
    return elapsed
