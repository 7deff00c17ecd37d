"""``epicstar add`` of a repository epicstar already knows, and what becomes of one added by hand
whose source disappears from GitHub."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from epicstar.metrics import Metrics
from epicstar.notify import build_notifier
from epicstar.queue.worker import build
from epicstar.service.events import ServiceEvents
from epicstar.state.models import AttemptOutcome, Origin, RepoState
from epicstar.sync.context import open_context
from epicstar.sync.runner import RunSummary, run_sync
from tests.e2e.conftest import World
from tests.e2e.helpers import assert_exact_mirror
from tests.notify_endpoint import NotificationEndpoint


@pytest.fixture
def endpoint() -> Iterator[NotificationEndpoint]:
    service = NotificationEndpoint()
    yield service
    service.stop()


def assert_added_back(world: World, github_id: int) -> None:
    row = world.row(github_id)
    assert (row.state, row.origin, row.state_reason, row.error) == (
        RepoState.ACTIVE,
        Origin.MANUAL,
        None,
        None,
    )
    assert row.next_due_at is not None
    assert row.next_due_at <= datetime.now(UTC), "due at once"


@pytest.mark.parametrize("policy", ["keep", "move", "delete"])
def test_add_brings_back_an_unstarred_repository(world: World, policy: str) -> None:
    repo = world.github.create_repo("octo", "dropped")
    world.overrides["EPICSTAR_UNSTAR_POLICY"] = policy
    world.star("octo/dropped")
    assert world.sync(poll=True).ok
    world.github.unstar(world.login, "octo/dropped")
    world.sync(poll=True, full_walk=True)
    assert world.row(repo.id).state == RepoState.UNSTARRED
    world.github.commit("octo/dropped", "main", {"new.txt": "new\n"}, "after the unstar")

    added = world.cli("add", "octo/dropped")

    assert added.returncode == 0, added.stderr
    assert "Reactivated octo/dropped" in added.stdout
    assert "no longer starred" in added.stdout
    assert "already tracked" not in added.stdout
    assert_added_back(world, repo.id)
    summary = world.sync(poll=True, full_walk=True)
    assert summary.ok
    assert [report.outcome for report in summary.reports] == [AttemptOutcome.MIRRORED]
    assert world.row(repo.id).state == RepoState.ACTIVE, "the starred list no longer decides"
    assert world.row(repo.id).onedev_path == "github/octo/dropped", "where mirrors live"
    assert_exact_mirror(world, "octo/dropped", "github/octo/dropped")


def test_add_overrides_the_filter_that_excluded_a_repository(world: World) -> None:
    """Filters are rules for the starred list as a whole; naming one repository is a more
    precise wish, so it wins, and keeps winning while the filter stays."""
    repo = world.github.create_repo("octo", "noisy")
    world.overrides["EPICSTAR_EXCLUDE"] = "octo/noisy"
    world.star("octo/noisy")
    world.sync(poll=True)
    assert world.row(repo.id).state == RepoState.EXCLUDED
    assert world.onedev.project("github/octo/noisy") is None

    added = world.cli("add", "octo/noisy")

    assert added.returncode == 0, added.stderr
    assert "Reactivated octo/noisy" in added.stdout
    assert "matched by EPICSTAR_EXCLUDE pattern 'octo/noisy'" in added.stdout
    assert_added_back(world, repo.id)
    assert world.sync(poll=True, full_walk=True).ok
    assert world.row(repo.id).state == RepoState.ACTIVE
    assert_exact_mirror(world, "octo/noisy", "github/octo/noisy")


def test_add_brings_back_a_source_gone_repository_once_github_serves_it(world: World) -> None:
    repo = world.github.create_repo("octo", "phoenix")
    world.star("octo/phoenix")
    assert world.sync(poll=True).ok
    world.github.delete("octo/phoenix")
    world.sync(poll=True, full_walk=True)
    assert world.row(repo.id).state == RepoState.SOURCE_GONE

    still_gone = world.cli("add", "octo/phoenix")
    assert still_gone.returncode == 2
    assert "not found (404" in still_gone.stderr
    assert world.row(repo.id).state == RepoState.SOURCE_GONE

    world.github.restore("octo/phoenix")
    world.github.commit("octo/phoenix", "main", {"again.txt": "again\n"}, "restored")
    added = world.cli("add", "octo/phoenix")

    assert added.returncode == 0, added.stderr
    assert "Reactivated octo/phoenix" in added.stdout
    assert "gone from GitHub and is back" in added.stdout
    assert_added_back(world, repo.id)
    summary = world.sync()
    assert [report.outcome for report in summary.reports] == [AttemptOutcome.MIRRORED]
    assert_exact_mirror(world, "octo/phoenix", "github/octo/phoenix")


def test_add_of_an_active_repository_says_it_was_already_tracked(world: World) -> None:
    repo = world.github.create_repo("octo", "steady")
    world.star("octo/steady")
    assert world.sync(poll=True).ok

    again = world.cli("add", "octo/steady")

    assert "octo/steady (GitHub id" in again.stdout
    assert "was already tracked" in again.stdout
    assert (world.row(repo.id).state, world.row(repo.id).origin) == (
        RepoState.ACTIVE,
        Origin.MANUAL,
    )


def sync_at(world: World, when: datetime, events: ServiceEvents | None = None) -> RunSummary:
    with open_context(world.settings()) as ctx:
        ctx.clock = lambda: when
        if events is not None:
            ctx.events = events
        return run_sync(ctx, due_only=True)


def test_a_repository_added_by_hand_is_looked_at_again_after_a_404(
    world: World, endpoint: NotificationEndpoint
) -> None:
    repo = world.github.create_repo("octo", "lazarus")
    world.add("octo/lazarus")
    assert world.sync().ok
    world.github.delete("octo/lazarus")
    world.overrides["EPICSTAR_NOTIFY_URLS"] = endpoint.url()
    settings = world.settings()
    refresh = timedelta(seconds=settings.refresh_interval)
    start = datetime.now(UTC) + refresh * 1.3  # the refresh after the deletion

    with build_notifier(settings) as notifier:
        events = ServiceEvents(Metrics(), notifier)
        gone = sync_at(world, start, events)
        assert [report.outcome for report in gone.reports] == [AttemptOutcome.SOURCE_GONE]
        row = world.row(repo.id)
        assert row.state == RepoState.SOURCE_GONE
        assert row.next_due_at is not None
        assert start + refresh * 0.8 <= row.next_due_at <= start + refresh * 1.2
        assert "asked again" in (row.error or "")

        world.github.clear_log()
        assert sync_at(world, start + refresh / 2, events).reports == [], "not due yet"
        assert world.github.count(path_prefix="/repos/") == 0

        later = start + refresh * 1.3
        looked = sync_at(world, later, events)
        assert [report.outcome for report in looked.reports] == [AttemptOutcome.SOURCE_GONE]
        assert looked.ok, "a source still gone is no failure"
        rescheduled = world.row(repo.id).next_due_at
        assert rescheduled is not None
        assert rescheduled >= later + refresh * 0.8

    lost = [body for body in endpoint.received if "gone from GitHub" in str(body)]
    assert len(lost) == 1, "the loss is announced once, not at every look"

    world.github.restore("octo/lazarus")
    world.github.commit("octo/lazarus", "main", {"back.txt": "back\n"}, "restored")
    back = sync_at(world, later + refresh * 1.3)

    assert [report.outcome for report in back.reports] == [AttemptOutcome.MIRRORED]
    row = world.row(repo.id)
    assert (row.state, row.state_reason, row.error) == (RepoState.ACTIVE, None, None)
    assert_exact_mirror(world, "octo/lazarus", "github/octo/lazarus")


def test_the_tick_hands_out_a_lost_repository_added_by_hand_when_it_is_due(world: World) -> None:
    repo = world.github.create_repo("octo", "comeback")
    world.add("octo/comeback")
    assert world.sync().ok
    world.github.delete("octo/comeback")
    refresh = timedelta(seconds=world.settings().refresh_interval)
    lost_at = datetime.now(UTC) + refresh * 1.3
    assert sync_at(world, lost_at).reports[0].outcome == AttemptOutcome.SOURCE_GONE
    world.github.restore("octo/comeback")
    world.github.commit("octo/comeback", "main", {"back.txt": "back\n"}, "restored")

    _huey, jobs = build(world.settings(), immediate=True)
    try:
        assert jobs.hand_out_due(lost_at + refresh / 2) == 0, "not before its refresh"
        assert jobs.hand_out_due(lost_at + refresh * 1.3) == 1
    finally:
        jobs.close()

    assert world.row(repo.id).state == RepoState.ACTIVE
    assert_exact_mirror(world, "octo/comeback", "github/octo/comeback")
