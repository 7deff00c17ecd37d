"""A pass that lost its lease to another worker keeps its attempt but not its view of the row."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update

from epicstar.mirror.cache import RepoCache
from epicstar.mirror.credentials import HttpAuth
from epicstar.state.models import AttemptOutcome, Repository, SyncStatus
from tests.e2e.conftest import World

NEW_HOLDER = "another-host:4242:feedbeef:pass-2"


def test_an_overtaken_pass_does_not_overwrite_the_new_holders_row(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = world.github.create_repo("octo", "contested")
    world.add("octo/contested")
    original_fetch = RepoCache.fetch
    takeover_expires = datetime.now(UTC) + timedelta(hours=1)

    def fetch_while_overtaken(self: RepoCache, url: str, auth: HttpAuth | None) -> None:
        # As if this worker had stalled past its lease and another had taken the repository.
        database = world.db()
        try:
            with database.session() as session:
                session.execute(
                    update(Repository)
                    .where(Repository.github_id == repo.id)
                    .values(lease_owner=NEW_HOLDER, lease_expires_at=takeover_expires)
                )
        finally:
            database.dispose()
        original_fetch(self, url, auth)

    monkeypatch.setattr(RepoCache, "fetch", fetch_while_overtaken)
    world.sync()

    row = world.row(repo.id)
    assert row.lease_owner == NEW_HOLDER, "the new holder keeps its lease"
    assert row.lease_expires_at is not None
    assert row.sync_status == SyncStatus.IN_PROGRESS, "the new holder's pass is still running"
    assert row.mirrored_refs is None, "the overtaken pass's refs are not taken as mirrored"
    assert row.last_synced_at is None
    [attempt] = world.attempts(repo.id)
    assert attempt.finished_at is not None
    assert attempt.outcome == AttemptOutcome.MIRRORED
    assert "the lease was lost" in (attempt.error or "")
