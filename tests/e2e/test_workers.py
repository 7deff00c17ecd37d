"""Real ``epicstar worker`` processes on a shared Redis or PostgreSQL queue."""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator

import pytest

from epicstar.queue.backend import close_huey
from epicstar.queue.worker import build
from epicstar.state.models import AttemptOutcome, SyncStatus
from tests.e2e.conftest import World
from tests.e2e.helpers import assert_exact_mirror, git_push_running, wait_for


@pytest.fixture(params=["redis", "postgresql"])
def queue_url(request: pytest.FixtureRequest) -> str:
    """A queue that only this test's processes use: a Redis database or PostgreSQL schema."""
    if request.param == "redis":
        return str(request.getfixturevalue("redis_queue_url"))
    return str(request.getfixturevalue("postgres_queue_url"))


@pytest.fixture
def workers(world: World, queue_url: str) -> Iterator[list[subprocess.Popen[str]]]:
    world.overrides["EPICSTAR_QUEUE_URL"] = queue_url
    huey, jobs = build(world.settings())
    try:
        huey.flush()
    except Exception as error:
        jobs.close()
        if os.environ.get("CI"):
            pytest.fail(f"the {queue_url} queue must be reachable in CI: {error}")
        pytest.skip(f"{queue_url} not reachable here: {error}")
    jobs.close()
    env = {**os.environ, **world.env(), "EPICSTAR_WORKERS": "2"}
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "epicstar", "worker"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        for _ in range(2)
    ]
    yield processes
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
    for process in processes:
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
    huey.flush()
    close_huey(huey)


def test_two_workers_never_mirror_one_repository_at_once(
    world: World, workers: list[subprocess.Popen[str]]
) -> None:
    repo = world.github.create_repo("octo", "contended")
    world.github.generate_history("octo/contended", commits=60, files_per_commit=5)
    world.add("octo/contended")
    huey, jobs = build(world.settings())
    try:
        for _ in range(8):
            jobs.mirror(repo.id, trigger=f"test-{uuid.uuid4().hex[:6]}")
        wait_for(lambda: huey.pending_count() == 0 and world.row(repo.id).lease_owner is None)
        time.sleep(1.0)  # let the last job finish its bookkeeping
    finally:
        jobs.close()

    attempts = world.attempts(repo.id)
    assert attempts, "the workers ran the jobs"
    assert all(attempt.finished_at is not None for attempt in attempts)
    spans = sorted((attempt.started_at, attempt.finished_at) for attempt in attempts)
    for (_, end), (start, _) in itertools.pairwise(spans):
        assert end is not None
        assert start >= end, "two passes of one repository overlapped"
    assert attempts[0].outcome == AttemptOutcome.MIRRORED
    assert_exact_mirror(world, "octo/contended", "github/octo/contended")
    assert all(process.poll() is None for process in workers), "workers keep running"


def test_a_star_reaches_onedev_through_the_workers(
    world: World, workers: list[subprocess.Popen[str]]
) -> None:
    world.github.create_repo("octo", "via-queue")
    world.star("octo/via-queue")
    _huey, jobs = build(world.settings())
    try:
        jobs.poll()
        wait_for(lambda: world.onedev.project("github/octo/via-queue") is not None)
        wait_for(lambda: bool(world.onedev.refs("github/octo/via-queue")))
    finally:
        jobs.close()
    assert_exact_mirror(world, "octo/via-queue", "github/octo/via-queue")


# Each database and each queue once: the lease is the database's, the job's redelivery the
# queue's, and neither depends on the other.
@pytest.mark.parametrize(
    ("database_url", "queue_url"),
    [
        ("sqlite", "redis"),
        pytest.param("postgresql", "postgresql", marks=pytest.mark.postgres),
    ],
    indirect=True,
)
def test_a_worker_killed_mid_push_loses_nothing(world: World, queue_url: str) -> None:
    world.overrides.update({"EPICSTAR_QUEUE_URL": queue_url, "EPICSTAR_LEASE_SECONDS": "2"})
    repo = world.github.create_repo("octo", "killed")
    world.github.generate_history("octo/killed", commits=400, files_per_commit=20, file_size=8192)
    world.add("octo/killed")
    huey, jobs = build(world.settings())
    try:
        huey.flush()
    except Exception as error:
        jobs.close()
        if os.environ.get("CI"):
            pytest.fail(f"the {queue_url} queue must be reachable in CI: {error}")
        pytest.skip(f"{queue_url} not reachable here: {error}")
    env = {**os.environ, **world.env(), "EPICSTAR_WORKERS": "1", "EPICSTAR_TICK_SECONDS": "1"}

    def start_worker() -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "-m", "epicstar", "worker"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            text=True,
        )

    first = start_worker()
    second: subprocess.Popen[str] | None = None
    try:
        jobs.mirror(repo.id)
        wait_for(lambda: git_push_running(world, "github/octo/killed"), timeout=60)
        first.kill()  # SIGKILL, mid-push
        first.wait()
        killed_at = time.monotonic()
        # The first worker's tick may have queued the repository as well, before the pass took
        # its lease; that job would make a third pass. Only the second worker's tick recovers.
        huey.flush()
        second = start_worker()  # its tick hands the repository out once the lease lapses
        wait_for(lambda: world.row(repo.id).sync_status == SyncStatus.COMPLETED, timeout=90)
        recovery = time.monotonic() - killed_at
    finally:
        for process in (first, second):
            if process is not None and process.poll() is None:
                process.send_signal(signal.SIGINT)
                process.wait(timeout=20)
        huey.flush()
        jobs.close()

    assert_exact_mirror(world, "octo/killed", "github/octo/killed")
    attempts = world.attempts(repo.id)
    outcomes = [attempt.outcome for attempt in attempts]
    # On a starved machine the 2 s lease may lapse once more while the recovering pass runs,
    # and the tick hands the repository out again: that later pass finds nothing to do.
    assert outcomes[:2] == ["failed", "mirrored"]
    assert set(outcomes[2:]) <= {"unchanged"}
    assert "lease lapsed" in (attempts[0].error or "")
    assert recovery < 60
    print(f"recovered {recovery:.1f}s after SIGKILL ({queue_url})")
