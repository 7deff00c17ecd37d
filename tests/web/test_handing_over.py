"""What a delivery hands on: due repositories to the workers at once, lost ones to the
notifications. The database keeps the truth should the queue fail."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from epicstar.config import Settings
from epicstar.state.database import Database
from epicstar.sync.context import claim_period
from epicstar.sync.mirror_pass import PassReport
from tests.web.conftest import (
    REPO_ID,
    SECRET,
    MakeWeb,
    payload,
    push_event,
    raw,
    repository_event,
    repository_row,
    tracked,
)


class Work:
    """Records what the receiver hands to the workers; ``broken`` makes the queue fail."""

    def __init__(self, *, broken: bool = False) -> None:
        self.refreshed: list[list[int]] = []
        self.walks = 0
        self.broken = broken

    def refresh(self, github_ids: list[int]) -> None:
        if self.broken:
            raise ConnectionError("the queue is down")
        self.refreshed.append(github_ids)

    def walk_stars(self) -> None:
        if self.broken:
            raise ConnectionError("the queue is down")
        self.walks += 1


class Events:
    def __init__(self) -> None:
        self.lost: list[tuple[int, str, str, str]] = []

    def pass_finished(self, report: PassReport) -> None:
        raise AssertionError("the receiver runs no pass")

    def source_lost(self, github_id: int, full_name: str, state: str, reason: str) -> None:
        self.lost.append((github_id, full_name, state, reason))


CLAIM = claim_period(Settings(webhook_secret=SECRET))


def test_a_push_goes_to_the_workers_at_once_claimed(make_web: MakeWeb, db: Database) -> None:
    work = Work()
    web = make_web(work=work)
    tracked(db)
    before = datetime.now(UTC)
    assert web.deliver("push", push_event()).status_code == 202
    assert work.refreshed == [[REPO_ID]]
    row = repository_row(db)
    assert row is not None
    assert row.next_due_at is not None
    # Claimed as the tick claims: the tick leaves it to the job already queued.
    assert before + CLAIM <= row.next_due_at <= datetime.now(UTC) + CLAIM


def test_a_push_is_still_accepted_when_the_queue_fails(make_web: MakeWeb, db: Database) -> None:
    web = make_web(work=Work(broken=True))
    tracked(db)
    response = web.deliver("push", push_event())
    assert response.status_code == 202
    row = repository_row(db)
    assert row is not None
    assert row.next_due_at is not None
    assert row.next_due_at < datetime.now(UTC) + CLAIM + timedelta(seconds=1)


def test_a_new_star_goes_to_the_workers_and_a_foreign_one_does_not(
    make_web: MakeWeb, db: Database
) -> None:
    work = Work()
    web = make_web(work=work)
    foreign = payload("star.created")
    foreign["sender"]["login"] = "someone-else"
    assert web.deliver("star", foreign).status_code == 200
    assert work.refreshed == []
    assert web.deliver("star", raw("star.created")).status_code == 202
    assert work.refreshed == [[REPO_ID]]


def test_an_unstar_asks_for_a_walk_of_the_starred_list(make_web: MakeWeb, db: Database) -> None:
    work = Work()
    web = make_web(work=work)
    tracked(db)
    assert web.deliver("star", raw("star.deleted")).status_code == 202
    assert (work.walks, work.refreshed) == (1, [])


def test_a_deletion_is_notified_once(make_web: MakeWeb, db: Database) -> None:
    events = Events()
    web = make_web(events=events)
    tracked(db)
    assert web.deliver("repository", repository_event("deleted")).status_code == 202
    assert web.deliver("repository", repository_event("deleted")).status_code == 202
    assert events.lost == [(REPO_ID, "Codertocat/Hello-World", "source_gone", "deleted on GitHub")]
