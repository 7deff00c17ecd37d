"""``epicstar sync --jobs N``: passes at once, each repository leased by one pass at a time."""

from __future__ import annotations

import itertools
import os
import re
import subprocess
import sys
import threading
from datetime import datetime

import pytest

from epicstar.mirror.cache import RepoCache
from epicstar.mirror.credentials import HttpAuth
from epicstar.state.models import AttemptOutcome, SyncAttempt
from tests.e2e.conftest import ONE_DATABASE, World
from tests.e2e.helpers import assert_exact_mirror

REPOSITORIES = 8


def _starred(world: World, count: int) -> list[str]:
    names = [f"octo/r{index}" for index in range(count)]
    for name in names:
        world.github.create_repo(*name.split("/"))
    world.star(*names)
    return names


def _attempts(world: World) -> dict[str, list[SyncAttempt]]:
    by_name: dict[str, list[SyncAttempt]] = {}
    for repo in world.github.repos():
        by_name[repo.full_name] = world.attempts(repo.id)
    return by_name


def _most_at_once(intervals: list[tuple[datetime, datetime]]) -> int:
    edges = sorted([(start, 1) for start, _ in intervals] + [(end, -1) for _, end in intervals])
    running = most = 0
    for _, step in edges:
        running += step
        most = max(most, running)
    return most


def _pushes(world: World, full_name: str) -> int:
    return int(world.onedev.count("POST", f"/github/{full_name}.git/", "git-receive-pack"))


@ONE_DATABASE  # what it checks lives in the CLI, git or HTTP, not the database
def test_passes_run_at_once_and_the_output_stays_one_line_per_repository(world: World) -> None:
    names = _starred(world, REPOSITORIES)

    result = world.cli("sync", "--jobs", "4")

    assert result.returncode == 0, result.stdout + result.stderr
    lines = [line for line in result.stdout.splitlines() if line.startswith("[")]
    assert len(lines) == REPOSITORIES
    counters = [re.match(r"\[(\d+)/(\d+)\] (\S+): mirrored", line) for line in lines]
    assert all(counters), lines
    assert [int(match[1]) for match in counters if match] == list(range(1, REPOSITORIES + 1))
    assert {match[3] for match in counters if match} == set(names)
    assert f"{REPOSITORIES} repositories: {REPOSITORIES} mirrored" in result.stdout
    assert "not mirrored this time" not in result.stdout

    attempts = _attempts(world)
    for name in names:
        [attempt] = attempts[name]
        assert attempt.outcome == AttemptOutcome.MIRRORED
        assert_exact_mirror(world, name, f"github/{name}")
    intervals = [
        (attempt.started_at, attempt.finished_at)
        for [attempt] in attempts.values()
        if attempt.finished_at is not None
    ]
    assert 2 <= _most_at_once(intervals) <= 4


def test_two_sync_commands_at_once_never_touch_one_repository_together(world: World) -> None:
    names = _starred(world, REPOSITORIES)
    env = {**os.environ, **world.env(), "EPICSTAR_LEASE_WAIT": "0"}
    command = [sys.executable, "-m", "epicstar", "sync", "--jobs", "3"]
    runs = [
        subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for _ in range(2)
    ]
    outputs = [run.communicate(timeout=120) for run in runs]
    assert all(run.returncode in (0, 1) for run in runs), outputs

    for name, attempts in _attempts(world).items():
        done = sorted(
            (attempt for attempt in attempts if attempt.finished_at is not None),
            key=lambda attempt: attempt.started_at,
        )
        assert len(done) == len(attempts), f"{name}: an attempt was left open"
        for earlier, later in itertools.pairwise(done):
            assert earlier.finished_at is not None
            assert earlier.finished_at <= later.started_at, f"{name}: two passes overlapped"
        assert [attempt.outcome for attempt in done].count(AttemptOutcome.MIRRORED) == 1
        assert _pushes(world, name) == 1, f"{name} was pushed more than once"
        assert world.row(world.github.repo(name).id).lease_owner is None
    for name in names:
        assert_exact_mirror(world, name, f"github/{name}")


@ONE_DATABASE
def test_a_fatal_failure_starts_no_further_pass(world: World) -> None:
    _starred(world, REPOSITORIES)
    # The OneDev token passes the run's first check, then OneDev refuses it.
    world.onedev.inject("POST", r"^/~api/projects$", 401, times=None)

    result = world.cli("sync", "--jobs", "3")

    assert result.returncode == 2, result.stdout + result.stderr
    assert "error:" in result.stderr
    tried = [name for name, attempts in _attempts(world).items() if attempts]
    assert 1 <= len(tried) <= 3, "passes kept starting after the run was stopped"


@ONE_DATABASE
def test_ctrl_c_stops_every_running_pass_and_starts_no_other(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    _starred(world, 6)
    first = threading.Event()
    others_waiting = threading.Semaphore(0)
    original = RepoCache.fetch

    def fetch(self: RepoCache, url: str, auth: HttpAuth | None) -> object:
        if url.endswith("/octo/r0.git") and not first.is_set():
            first.set()
            others_waiting.acquire(timeout=30)
            others_waiting.acquire(timeout=30)
            raise KeyboardInterrupt
        others_waiting.release()
        stopping = self._cancel  # the run's: set by the Ctrl+C in the other thread
        assert stopping is not None
        stopping.wait(30)
        return original(self, url, auth)

    monkeypatch.setattr(RepoCache, "fetch", fetch)
    with pytest.raises(KeyboardInterrupt):
        world.sync(poll=True, jobs=3)

    attempts = [attempt for found in _attempts(world).values() for attempt in found]
    assert len(attempts) == 3, "a pass started after Ctrl+C"
    for attempt in attempts:
        assert attempt.outcome == AttemptOutcome.INTERRUPTED
        assert attempt.error == "interrupted before the pass finished; it runs again"
    for repo in world.github.repos():
        assert world.row(repo.id).lease_owner is None

    monkeypatch.undo()
    assert world.sync(jobs=3).ok
