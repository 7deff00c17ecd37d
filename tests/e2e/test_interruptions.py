"""A pass cut short (deadline kill, Ctrl+C) records the truth and leaves everything usable."""

from __future__ import annotations

import pytest

from epicstar.mirror.cache import RepoCache
from epicstar.state.models import AttemptOutcome, SyncStatus
from epicstar.sync.context import SyncContext
from tests.e2e.conftest import World
from tests.e2e.helpers import assert_exact_mirror


def test_git_killed_at_its_deadline_then_the_next_sync_recovers(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = world.github.create_repo("octo", "big")
    world.github.generate_history("octo/big", commits=400, files_per_commit=20, file_size=4096)
    world.add("octo/big")
    original = SyncContext.cache

    def impatient_cache(self: SyncContext, github_id: int, size_kb: int) -> RepoCache:
        cache = original(self, github_id, size_kb)
        cache.ensure()  # creating the cache is not what this test interrupts
        cache.timeout = 0.2
        return cache

    monkeypatch.setattr(SyncContext, "cache", impatient_cache)
    first = world.sync()
    assert first.reports[0].outcome == AttemptOutcome.FAILED
    assert "did not finish within" in (first.reports[0].error or "")
    row = world.row(repo.id)
    assert row.sync_status == SyncStatus.FAILED
    assert row.lease_owner is None
    assert row.mirrored_refs is None

    monkeypatch.setattr(SyncContext, "cache", original)
    assert world.sync().ok
    assert_exact_mirror(world, "octo/big", "github/octo/big")


def test_interrupted_pass_releases_its_lease(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = world.github.create_repo("octo", "ctrl-c")
    world.add("octo/ctrl-c")

    def interrupted(self: RepoCache, url: str, auth: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(RepoCache, "fetch", interrupted)
    with pytest.raises(KeyboardInterrupt):
        world.sync()
    row = world.row(repo.id)
    assert row.lease_owner is None
    assert row.sync_status == SyncStatus.PENDING
    [attempt] = world.attempts(repo.id)
    assert attempt.finished_at is not None
    assert attempt.outcome == AttemptOutcome.INTERRUPTED
    assert attempt.error == "interrupted before the pass finished; it runs again"
    assert row.retry_count == 0

    monkeypatch.undo()
    assert world.sync().ok
    assert_exact_mirror(world, "octo/ctrl-c", "github/octo/ctrl-c")
