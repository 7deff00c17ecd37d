"""The tick hands due repositories to the queue; a lost job only delays work."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from epicstar.queue.worker import build
from epicstar.state.models import SyncStatus
from tests.e2e.conftest import World
from tests.e2e.helpers import assert_exact_mirror


def test_a_tick_polls_the_stars_and_mirrors_what_is_due(world: World) -> None:
    world.github.create_repo("octo", "queued")
    world.star("octo/queued")
    _huey, jobs = build(world.settings(), immediate=True)
    try:
        jobs.run_tick()  # the poll finds the star and hands it out at once
        assert_exact_mirror(world, "octo/queued", "github/octo/queued")
        world.github.clear_log()
        assert jobs.run_tick() == 0, "nothing is due again before its refresh interval"
        assert world.github.count(git=True) == 0
    finally:
        jobs.close()


def test_a_lost_job_only_delays_the_work(world: World) -> None:
    first = world.github.create_repo("octo", "first")
    world.github.create_repo("octo", "second")
    world.add("octo/first")
    world.add("octo/second")
    huey, jobs = build(world.settings())  # a real queue that nobody consumes
    try:
        now = datetime.now(UTC)
        assert jobs.hand_out_due(now) == 2
        assert huey.pending_count() == 2
        huey.flush()  # the jobs are lost (a queue wiped, a worker killed before it started)
        assert jobs.hand_out_due(now) == 0, "handed out once per claim"
        later = now + jobs.context().claim + timedelta(seconds=1)
        assert jobs.hand_out_due(later) == 2, "due again once the claim has lapsed"
        pending = huey.pending()
        assert len(pending) == 2
        for task in pending:
            huey.execute(task)
        assert world.row(first.id).sync_status == SyncStatus.COMPLETED
        assert_exact_mirror(world, "octo/second", "github/octo/second")
    finally:
        huey.flush()
        jobs.close()
