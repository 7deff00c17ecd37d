"""Failures are survived, retried with backoff, or reported once and clearly."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from epicstar.state.models import AttemptOutcome, SyncStatus
from tests.e2e.conftest import World
from tests.e2e.helpers import assert_exact_mirror


def test_onedev_500_that_lasts_fails_the_pass_and_the_next_sync_recovers(world: World) -> None:
    repo = world.github.create_repo("octo", "flaky")
    world.add("octo/flaky")
    world.onedev.inject("POST", r"^/~api/projects$", 500, body="Internal Server Error", times=None)

    first = world.sync()

    assert not first.ok
    assert first.reports[0].outcome == AttemptOutcome.FAILED
    row = world.row(repo.id)
    assert row.sync_status == SyncStatus.FAILED
    assert row.retry_count == 1
    assert row.next_due_at is not None
    assert row.next_due_at > datetime.now(UTC)
    assert "500" in (row.error or "")

    world.onedev.faults.clear()
    second = world.sync()
    assert second.ok
    assert_exact_mirror(world, "octo/flaky", "github/octo/flaky")
    row = world.row(repo.id)
    assert (row.sync_status, row.retry_count, row.error) == (SyncStatus.COMPLETED, 0, None)
    outcomes = [attempt.outcome for attempt in world.attempts(repo.id)]
    assert outcomes == [AttemptOutcome.FAILED, AttemptOutcome.MIRRORED]


def test_github_secondary_limit_with_retry_after_is_waited_out(world: World) -> None:
    world.github.create_repo("octo", "busy")
    world.add("octo/busy")
    world.github.inject(
        "GET",
        r"^/repos/octo/busy$",
        403,
        headers={"retry-after": "1"},
        body={"message": "You have exceeded a secondary rate limit. Please wait a few minutes."},
    )
    started = time.monotonic()
    summary = world.sync()
    assert summary.ok
    assert time.monotonic() - started >= 1.0, "retry-after was honoured"
    assert world.github.count(path_prefix="/repos/octo/busy", status=403) == 1
    assert_exact_mirror(world, "octo/busy", "github/octo/busy")


def test_github_502_is_retried(world: World) -> None:
    world.github.create_repo("octo", "bumpy")
    world.add("octo/bumpy")
    world.github.inject("GET", r"^/repos/octo/bumpy$", 502, body="<html>Bad gateway</html>")
    assert world.sync().ok
    assert world.github.count(path_prefix="/repos/octo/bumpy", status=502) == 1


def test_failures_become_permanent_after_the_configured_attempts(world: World) -> None:
    repo = world.github.create_repo("octo", "broken")
    world.add("octo/broken")
    world.overrides["EPICSTAR_MAX_ATTEMPTS"] = "2"
    world.onedev.inject("POST", r"^/~api/projects$", 500, body="Internal Server Error", times=None)
    world.sync()
    assert world.row(repo.id).sync_status == SyncStatus.FAILED
    world.sync()
    row = world.row(repo.id)
    assert row.sync_status == SyncStatus.PERMANENT_FAILURE
    assert row.next_due_at is None
    assert world.sync().skipped_permanent == 1


def test_missing_onedev_permission_is_permanent_and_named(world: World) -> None:
    repo = world.github.create_repo("octo", "denied")
    world.add("octo/denied")
    world.onedev_token = world.limited_onedev_token

    summary = world.sync()

    assert not summary.ok
    assert summary.reports[0].outcome == AttemptOutcome.PERMANENT_FAILURE
    error = world.row(repo.id).error or ""
    assert "403" in error
    assert "Create Root Projects" in error or "create root projects" in error
    assert world.limited_onedev_token not in error


def test_wrong_onedev_token_stops_the_run_before_any_repository(world: World) -> None:
    repo = world.github.create_repo("octo", "x")
    world.add("octo/x")
    world.onedev_token = "not-a-valid-token"
    result = world.cli("sync")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("epicstar: error: ")
    assert "EPICSTAR_ONEDEV_TOKEN" in lines[0]
    assert "not-a-valid-token" not in result.stderr + result.stdout
    assert world.attempts(repo.id) == []


def test_wrong_github_token_stops_the_run_with_one_line(world: World) -> None:
    repo = world.github.create_repo("octo", "x")
    world.add("octo/x")
    world.github_token = "ghp_wrong"
    result = world.cli("sync")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "EPICSTAR_GITHUB_TOKEN" in lines[0]
    assert "Traceback" not in result.stderr
    assert "ghp_wrong" not in result.stderr + result.stdout
    assert world.attempts(repo.id) == [], "a configuration problem is no failed attempt"
