"""When a failed repository comes due again: later after each failure, never before a reset."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from epicstar.state.models import AttemptOutcome, SyncStatus
from tests.e2e.conftest import World

# Delays are drawn within ±20 % of the nominal one.
LOW, HIGH = 0.8, 1.2


def _delay_after_sync(world: World, github_id: int) -> float:
    before = datetime.now(UTC)
    world.sync()
    row = world.row(github_id)
    assert row.sync_status == SyncStatus.FAILED
    assert row.next_due_at is not None
    return (row.next_due_at - before).total_seconds()


def test_the_delay_doubles_after_each_failure_in_a_row_up_to_the_cap(world: World) -> None:
    repo = world.github.create_repo("octo", "refused")
    world.add("octo/refused")
    world.overrides.update({"EPICSTAR_RETRY_BASE_DELAY": "100", "EPICSTAR_RETRY_MAX_DELAY": "350"})
    # A refusal that is not transient: no retry inside the pass, one failure per sync.
    world.onedev.inject("POST", r"^/~api/projects$", 400, body="Bad request", times=None)

    delays = [_delay_after_sync(world, repo.id) for _ in range(4)]

    nominal = [100, 200, 350, 350]  # 100 · 2^(n-1), capped at 350
    for delay, expected in zip(delays, nominal, strict=True):
        assert expected * LOW - 2 <= delay <= expected * HIGH + 2, (delays, nominal)
    assert world.row(repo.id).retry_count == 4


def test_a_pass_stopped_by_the_rate_limit_is_not_due_before_the_reset(world: World) -> None:
    repo = world.github.create_repo("octo", "thirsty")
    world.add("octo/thirsty")
    world.overrides["EPICSTAR_GITHUB_MAX_WAIT"] = "1"
    reset = int(time.time()) + 1800  # far beyond the base delay (60 s) and the wait allowed
    world.github.inject(
        "GET",
        r"^/repos/octo/thirsty$",
        403,
        headers={
            "x-ratelimit-limit": "5000",
            "x-ratelimit-remaining": "0",
            "x-ratelimit-reset": str(reset),
            "x-ratelimit-resource": "core",
        },
        body={"message": "API rate limit exceeded for user ID 1."},
    )

    summary = world.sync()

    assert summary.reports[0].outcome == AttemptOutcome.FAILED
    row = world.row(repo.id)
    assert row.sync_status == SyncStatus.FAILED
    assert row.next_due_at is not None
    assert row.next_due_at >= datetime.fromtimestamp(reset, UTC)
    assert row.next_due_at < datetime.fromtimestamp(reset, UTC) + timedelta(minutes=10)
