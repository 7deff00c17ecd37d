"""The tick hands each due repository out once per claim, including one whose pass died."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import timedelta

import pytest
from huey import Huey
from sqlalchemy import select

from epicstar.queue.jobs import Jobs
from epicstar.queue.worker import build
from epicstar.state import repositories
from epicstar.state.models import WebhookDelivery, utcnow
from epicstar.sync.context import ServiceStopping
from tests.e2e.conftest import World


@pytest.fixture
def queue(world: World) -> Iterator[tuple[Huey, Jobs]]:
    huey, jobs = build(world.settings())  # SQLite storage in the data directory
    yield huey, jobs
    huey.flush()
    jobs.close()


def test_a_due_repository_is_handed_out_once_per_claim(
    world: World, queue: tuple[Huey, Jobs]
) -> None:
    huey, jobs = queue
    repo = world.github.create_repo("octo", "due")
    world.add("octo/due")
    now = utcnow()
    assert jobs.hand_out_due(now) == 1
    assert jobs.hand_out_due(now + timedelta(minutes=1)) == 0
    assert huey.pending_count() == 1
    # The job was lost: once the claim lapses, the repository is handed out again.
    claim = jobs.context().claim
    assert jobs.hand_out_due(now + claim + timedelta(seconds=1)) == 1
    assert world.row(repo.id).next_due_at is not None


def test_a_pass_whose_worker_died_is_handed_out_once_its_lease_lapses(
    world: World, queue: tuple[Huey, Jobs]
) -> None:
    huey, jobs = queue
    repo = world.github.create_repo("octo", "orphan")
    world.add("octo/orphan")
    now = utcnow()
    assert jobs.hand_out_due(now) == 1
    huey.flush()  # a worker took the job ...
    with world.db().session() as session:  # ... started the pass, and died
        assert repositories.take_lease(
            session, repo.id, "dead-worker", now=now, duration=timedelta(seconds=10)
        )
    assert jobs.hand_out_due(now + timedelta(seconds=5)) == 0  # the lease still holds
    later = now + timedelta(seconds=11)
    assert jobs.hand_out_due(later) == 1
    # Handed out once: the next ticks leave it to the job already queued.
    assert jobs.hand_out_due(later + timedelta(minutes=1)) == 0
    assert jobs.hand_out_due(later + timedelta(minutes=2)) == 0
    assert huey.pending_count() == 1


def test_the_tick_forgets_deliveries_too_old_to_be_redelivered(
    world: World, queue: tuple[Huey, Jobs]
) -> None:
    _, jobs = queue
    now = utcnow()
    with world.db().session() as session:
        for delivery_id, age in (("recent", timedelta(days=7)), ("old", timedelta(days=9))):
            session.add(
                WebhookDelivery(
                    delivery_id=delivery_id,
                    event="push",
                    action=None,
                    received_at=now - age,
                    outcome="accepted",
                )
            )
    jobs.run_tick()
    with world.db().session() as session:
        kept = session.scalars(select(WebhookDelivery.delivery_id)).all()
    assert kept == ["recent"]


def test_a_webhook_pass_waits_for_a_running_pass_and_tries_again(
    world: World, queue: tuple[Huey, Jobs]
) -> None:
    huey, jobs = queue
    repo = world.github.create_repo("octo", "busy")
    world.add("octo/busy")
    with world.db().session() as session:
        assert repositories.take_lease(
            session, repo.id, "another-worker", now=utcnow(), duration=timedelta(minutes=1)
        )
    jobs._mirror(repo.id, "webhook")  # what the worker runs for the webhook's job
    assert world.attempts(repo.id) == []  # nothing done while the other pass runs
    [again] = huey.pending()  # the consumer schedules it when it dequeues it
    assert again.args == (repo.id, "webhook", 1, False)  # github id, trigger, waits, force
    assert again.eta is not None
    # A scheduled pass (not a webhook's) leaves it to the next refresh.
    jobs._mirror(repo.id, "schedule")
    assert len(huey.pending()) == 1


@pytest.mark.timeout(30)  # without the stop, the wait is 600 s
def test_a_stop_ends_a_wait_for_githubs_rate_limit(world: World, queue: tuple[Huey, Jobs]) -> None:
    _, jobs = queue
    world.github.set_rate_limit(world.github_token, 5000, remaining=0, reset=time.time() + 600)
    ctx = jobs.context()
    stopped_at: list[float] = []

    def stop_soon() -> None:
        time.sleep(0.3)
        stopped_at.append(time.monotonic())
        jobs.interrupt()

    threading.Thread(target=stop_soon).start()
    with pytest.raises(ServiceStopping):
        ctx.github.get_repository("octo/anything")  # waits for the reset, 600 s away
    assert time.monotonic() - stopped_at[0] < 2
