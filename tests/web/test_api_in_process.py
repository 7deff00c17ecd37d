"""What the API's stars poll and summary do with the process around them: no workers, a queue
that refuses or does not answer, no starred list, GitHub's budget known or not."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import pytest

from epicstar.auth.store import create_key
from epicstar.discovery.ratelimit import RateLimit
from epicstar.state.audit import CLI, entries
from epicstar.state.database import Database
from epicstar.state.models import Repository, RepoState, StarListState, SyncStatus
from epicstar.web.api import summary as summary_route
from tests.web.conftest import Web, serving

LAST_POLL = datetime(2031, 1, 2, 3, 4, 5, tzinfo=UTC)
LAST_WALK = datetime(2031, 1, 1, tzinfo=UTC)


class Work:
    """The workers as the API sees them; ``broken``: the queue refuses every job."""

    def __init__(self, *, broken: bool = False) -> None:
        self.polls: list[bool] = []
        self.broken = broken

    def mirror_now(self, github_id: int, *, trigger: str, force: bool = False) -> None:
        raise AssertionError("only polls are asked for here")

    def poll_now(self, *, full: bool) -> None:
        if self.broken:
            raise ConnectionError("the queue is down")
        self.polls.append(full)


class BrokenQueue:
    def pending_count(self) -> int:
        raise ConnectionError("Error 111 connecting to 127.0.0.1:1")


class SlowQueue:
    def pending_count(self) -> int:
        time.sleep(2)
        return 3


@contextmanager
def app_client(
    db: Database,
    *,
    work: Work | None = None,
    queue: Any = None,
    rate_limit: Callable[[], RateLimit | None] | None = None,
    **settings: Any,
) -> Iterator[Web]:
    with serving(db) as make:
        yield make(queue=queue, api_work=work, rate_limit=rate_limit, **settings)


def new_key(db: Database, *scopes: str) -> str:
    with db.session() as session:
        _row, key = create_key(
            session, name="in process", scopes=scopes, expires_in=None, actor=CLI
        )
    return key.full


def polled_list(db: Database) -> None:
    with db.session() as session:
        session.add(StarListState(key="user", last_poll_at=LAST_POLL, last_full_walk_at=LAST_WALK))


def star_list(db: Database) -> StarListState:
    with db.session() as session:
        row = session.get(StarListState, "user")
        assert row is not None
        return row


def polls_requested(db: Database) -> list[dict[str, Any] | None]:
    with db.session() as session:
        audited, _ = entries(session, action="stars.poll_requested", offset=0, limit=100)
        return [entry.details for entry in reversed(audited)]


def test_without_workers_a_poll_is_left_to_the_next_tick(db: Database) -> None:
    polled_list(db)
    with app_client(db, github_token="ghp_in_process") as client:
        key = new_key(db, "write")
        plain = client.api("POST", "/stars/poll", key, json={"full": False})
        assert (plain.status_code, plain.json()) == (202, {"status": "accepted", "full": False})
        row = star_list(db)
        assert (row.last_poll_at, row.last_full_walk_at) == (None, LAST_WALK)

        assert client.api("POST", "/stars/poll", key, json={"full": True}).status_code == 202
        assert star_list(db).last_full_walk_at is None
    assert polls_requested(db) == [{"full": False}, {"full": True}]


def test_workers_poll_at_once_and_the_list_is_left_alone(db: Database) -> None:
    polled_list(db)
    work = Work()
    with app_client(db, work=work, github_user="Octocat") as client:
        key = new_key(db, "write")
        assert client.api("POST", "/stars/poll", key).status_code == 202
        assert client.api("POST", "/stars/poll", key, json={"full": True}).status_code == 202
    assert work.polls == [False, True]
    row = star_list(db)
    assert (row.last_poll_at, row.last_full_walk_at) == (LAST_POLL, LAST_WALK)


def test_when_the_queue_refuses_the_poll_the_next_tick_makes_it(db: Database) -> None:
    polled_list(db)
    with app_client(db, work=Work(broken=True), github_token="ghp_in_process") as client:
        response = client.api("POST", "/stars/poll", new_key(db, "write"), json={"full": True})
    assert response.status_code == 202
    row = star_list(db)
    assert (row.last_poll_at, row.last_full_walk_at) == (None, None)
    assert polls_requested(db) == [{"full": True}]


def test_without_a_starred_list_there_is_nothing_to_poll(db: Database) -> None:
    work = Work()
    with app_client(db, work=work) as client:
        response = client.api("POST", "/stars/poll", new_key(db, "write"))
    assert response.status_code == 409
    assert "EPICSTAR_GITHUB_TOKEN" in response.json()["detail"]
    assert work.polls == []
    assert polls_requested(db) == []


def test_the_summary_counts_every_state_and_status_and_dates_the_polls(db: Database) -> None:
    with db.session() as session:
        for github_id, state, sync_status in (
            (1, RepoState.ACTIVE, SyncStatus.COMPLETED),
            (2, RepoState.ACTIVE, SyncStatus.FAILED),
            (3, RepoState.UNSTARRED, SyncStatus.COMPLETED),
        ):
            session.add(
                Repository(
                    github_id=github_id,
                    full_name=f"o/{github_id}",
                    state=state,
                    sync_status=sync_status,
                )
            )
    polled_list(db)
    budget = RateLimit(limit=5000, remaining=4321, used=679, reset=LAST_POLL, resource="core")
    with app_client(
        db, github_token="ghp_in_process", poll_interval=600, rate_limit=lambda: budget
    ) as client:
        response = client.api("GET", "/summary", new_key(db, "read"))
    assert response.status_code == 200
    assert response.json() == {
        "total": 3,
        "by_state": {
            "active": 2,
            "unstarred": 1,
            "source_gone": 0,
            "blocked": 0,
            "excluded": 0,
        },
        "by_sync_status": {
            "pending": 0,
            "in_progress": 0,
            "completed": 2,
            "failed": 1,
            "permanent_failure": 0,
            "held": 0,
        },
        "last_star_poll_at": "2031-01-02T03:04:05+00:00",
        "next_star_poll_at": "2031-01-02T03:14:05+00:00",
        "queue_depth": None,
        "github_rate_limit": {
            "remaining": 4321,
            "limit": 5000,
            "reset": "2031-01-02T03:04:05+00:00",
        },
    }


def test_a_summary_of_nothing_has_zeros_and_nulls(db: Database) -> None:
    with app_client(db, rate_limit=lambda: None) as client:
        body = client.api("GET", "/summary", new_key(db, "read")).json()
    assert body["total"] == 0
    assert set(body["by_state"].values()) == {0}
    assert set(body["by_sync_status"].values()) == {0}
    assert body["last_star_poll_at"] is None
    assert body["next_star_poll_at"] is None
    assert body["github_rate_limit"] is None


def unknowable() -> RateLimit | None:
    raise RuntimeError("the workers' client is closing")


@pytest.mark.parametrize("queue", [BrokenQueue(), SlowQueue()], ids=["broken", "slow"])
def test_a_failing_queue_or_budget_leaves_the_summary_standing(
    db: Database, queue: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(summary_route, "QUEUE_TIMEOUT", 0.2)
    key = new_key(db, "read")
    with app_client(db, queue=queue, rate_limit=unknowable) as client:
        assert client.api("GET", "/repositories", key).status_code == 200  # key verified
        started = time.monotonic()
        response = client.api("GET", "/summary", key)
        assert time.monotonic() - started < 1.5
    assert response.status_code == 200
    assert response.json()["queue_depth"] is None
    assert response.json()["github_rate_limit"] is None
