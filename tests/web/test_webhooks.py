"""POST /webhooks/github with real GitHub payloads, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import func, select
from structlog.testing import capture_logs

from epicstar.state.database import Database
from epicstar.state.models import (
    Repository,
    RepoState,
    StarListState,
    WebhookDelivery,
)
from epicstar.web import GitHubTokenIdentity
from tests.web.conftest import (
    LONG_AGO,
    REPO_ID,
    SECRET,
    MakeWeb,
    Web,
    payload,
    push_event,
    raw,
    repository_event,
    repository_row,
    serving,
    tracked,
)

FORMS = [pytest.param(False, id="json"), pytest.param(True, id="form")]


def delivery_row(db: Database, delivery_id: str) -> WebhookDelivery | None:
    with db.session() as session:
        return session.get(WebhookDelivery, delivery_id)


def count(db: Database, model: type[Any]) -> int:
    with db.session() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


# ----------------------------------------------------------------------------- ping


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("name", ["ping", "ping.with-app_id", "ping.with-organization"])
def test_ping_is_answered_with_pong(web: Web, db: Database, name: str, form: bool) -> None:
    response = web.deliver("ping", raw(name), form=form, delivery=f"ping-{name}")
    assert response.status_code == 200
    assert response.json() == {"status": "pong", "zen": "Anything added dilutes everything else."}
    row = delivery_row(db, f"ping-{name}")
    assert row is not None
    assert (row.event, row.action, row.outcome) == ("ping", None, "pong")
    assert row.received_at.tzinfo is not None


# --------------------------------------------------------------------------- stars


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize(
    ("event", "name"),
    [
        ("star", "star.created"),
        ("watch", "watch.started"),
        ("watch", "watch.started.with-installation"),
    ],
)
def test_a_star_by_the_user_tracks_the_repository_due_now(
    web: Web, db: Database, event: str, name: str, form: bool
) -> None:
    before = datetime.now(UTC)
    response = web.deliver(event, raw(name), form=form, delivery="d-1")
    after = datetime.now(UTC)
    assert (response.status_code, response.json()) == (202, {"status": "accepted"})

    row = repository_row(db)
    assert row is not None
    assert row.full_name == "Codertocat/Hello-World"
    assert row.clone_url == "https://github.com/Codertocat/Hello-World.git"
    assert (row.origin, row.state, row.sync_status) == ("star", "active", "pending")
    assert row.next_due_at is not None
    assert before <= row.next_due_at <= after
    assert row.onedev_path is None  # the worker chooses it
    if name == "star.created":
        assert row.starred_at == datetime(2019, 5, 15, 15, 20, 40, tzinfo=UTC)
    else:  # watch events carry no time: the delivery's, until the poll reads the real one
        assert row.starred_at is not None
        assert before <= row.starred_at <= after

    delivery = delivery_row(db, "d-1")
    assert delivery is not None
    action = "created" if event == "star" else "started"
    assert (delivery.event, delivery.action, delivery.outcome) == (
        event,
        action,
        f"tracked {REPO_ID}",
    )


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize(("event", "name"), [("star", "star.created"), ("watch", "watch.started")])
def test_someone_elses_star_of_the_users_repository_is_ignored(
    web: Web, db: Database, event: str, name: str, form: bool
) -> None:
    data = payload(name)
    data["sender"]["login"] = "a-stranger"
    response = web.deliver(event, data, form=form, delivery="d-stranger")
    assert response.status_code == 200
    assert response.json() == {"status": "ignored", "reason": "not the mirrored user's star"}
    assert repository_row(db) is None
    delivery = delivery_row(db, "d-stranger")
    assert delivery is not None
    assert delivery.outcome == "ignored: not the mirrored user's star"


def test_the_configured_user_wins_over_the_tokens_login(make_web: MakeWeb, db: Database) -> None:
    web = make_web(github_user="CODERTOCAT", login="someone-else")
    assert web.deliver("star", raw("star.created")).status_code == 202
    assert repository_row(db) is not None


def test_stars_are_ignored_while_the_mirrored_user_is_unknown(
    make_web: MakeWeb, db: Database
) -> None:
    web = make_web(login=None)  # no EPICSTAR_GITHUB_USER, no token
    response = web.deliver("star", raw("star.created"))
    assert response.status_code == 200
    assert response.json()["status"] == "ignored"
    assert "EPICSTAR_GITHUB_USER" in response.json()["reason"]
    assert repository_row(db) is None


def test_the_tokens_login_is_asked_once_and_only_for_stars(make_web: MakeWeb, db: Database) -> None:
    asked: list[str] = []

    def github(request: httpx.Request) -> httpx.Response:
        asked.append(request.url.path)
        return httpx.Response(200, json={"login": "Codertocat"})

    identity = GitHubTokenIdentity(
        "https://api.github.com", SecretStr("ghp_x"), transport=httpx.MockTransport(github)
    )
    web = make_web(identity=identity, github_token="ghp_x")
    assert web.deliver("push", push_event()).status_code == 200
    assert web.deliver("ping", raw("ping")).status_code == 200
    assert asked == []
    assert web.deliver("star", raw("star.created")).status_code == 202
    assert web.deliver("watch", raw("watch.started")).status_code == 202
    assert asked == ["/user"]
    assert repository_row(db) is not None


def test_a_star_of_a_tracked_repository_only_makes_it_due(web: Web, db: Database) -> None:
    tracked(db, state=RepoState.UNSTARRED, unstarred_at=LONG_AGO)
    before = datetime.now(UTC)
    response = web.deliver("star", raw("star.created"), delivery="again")
    assert response.status_code == 202
    row = repository_row(db)
    assert row is not None
    assert row.next_due_at is not None
    assert row.next_due_at >= before
    # The starred list decides the state; mirror bookkeeping is untouched.
    assert (row.state, row.sync_status, row.onedev_path) == (
        "unstarred",
        "completed",
        "github/Codertocat/Hello-World",
    )
    assert row.mirrored_refs == {"refs/heads/main": "a" * 40}
    assert row.starred_at == LONG_AGO
    assert row.description is None  # metadata comes from the payload
    delivery = delivery_row(db, "again")
    assert delivery is not None
    assert delivery.outcome == f"refresh due {REPO_ID}"


def test_a_star_excluded_by_the_filters_is_tracked_as_excluded(
    make_web: MakeWeb, db: Database
) -> None:
    web = make_web(exclude="codertocat/*")
    assert web.deliver("star", raw("star.created")).status_code == 202
    row = repository_row(db)
    assert row is not None
    assert row.state == RepoState.EXCLUDED
    assert row.state_reason == "matched by EPICSTAR_EXCLUDE pattern 'codertocat/*'"


# -------------------------------------------------------------------------- unstars


@pytest.mark.parametrize("form", FORMS)
def test_an_unstar_asks_for_a_full_walk_and_changes_no_repository(
    web: Web, db: Database, form: bool
) -> None:
    tracked(db)
    with db.session() as session:
        session.add(StarListState(key="user", stars=3, last_full_walk_at=LONG_AGO))
    response = web.deliver("star", raw("star.deleted"), form=form, delivery="unstar")
    assert (response.status_code, response.json()) == (202, {"status": "accepted"})
    with db.session() as session:
        star_list = session.get(StarListState, "user")
        assert star_list is not None
        assert (star_list.last_full_walk_at, star_list.stars) == (None, 3)
    row = repository_row(db)
    assert row is not None
    assert (row.state, row.unstarred_at, row.next_due_at) == (
        "active",
        None,
        LONG_AGO + timedelta(days=3650),
    )
    delivery = delivery_row(db, "unstar")
    assert delivery is not None
    assert (delivery.action, delivery.outcome) == (
        "deleted",
        f"full walk due (unstar of {REPO_ID})",
    )


def test_an_unstar_creates_the_named_users_star_list_row(make_web: MakeWeb, db: Database) -> None:
    web = make_web(github_user="CoderToCat")
    assert web.deliver("star", raw("star.deleted")).status_code == 202
    with db.session() as session:
        star_list = session.get(StarListState, "users/codertocat")
        assert star_list is not None
        assert star_list.last_full_walk_at is None
        assert session.get(StarListState, "user") is None


def test_someone_elses_unstar_is_ignored(web: Web, db: Database) -> None:
    with db.session() as session:
        session.add(StarListState(key="user", stars=3, last_full_walk_at=LONG_AGO))
    data = payload("star.deleted")
    data["sender"]["login"] = "a-stranger"
    response = web.deliver("star", data)
    assert response.json()["status"] == "ignored"
    with db.session() as session:
        star_list = session.get(StarListState, "user")
        assert star_list is not None
        assert star_list.last_full_walk_at == LONG_AGO


# --------------------------------------------------------------------- redeliveries


@pytest.mark.parametrize("form", FORMS)
def test_a_redelivery_is_a_duplicate_processed_once(web: Web, db: Database, form: bool) -> None:
    first = web.deliver("star", raw("star.created"), form=form, delivery="same-id")
    assert first.status_code == 202
    with db.session() as session:
        row = session.get(Repository, REPO_ID)
        assert row is not None
        row.next_due_at = LONG_AGO  # the worker mirrored it since
    again = web.deliver("star", raw("star.created"), form=form, delivery="same-id")
    assert (again.status_code, again.json()) == (200, {"status": "duplicate"})
    row = repository_row(db)
    assert row is not None
    assert row.next_due_at == LONG_AGO
    assert count(db, WebhookDelivery) == 1
    delivery = delivery_row(db, "same-id")
    assert delivery is not None
    assert delivery.outcome == f"tracked {REPO_ID}"


def test_concurrent_redeliveries_are_processed_exactly_once(web: Web, db: Database) -> None:
    calls = [web.request("star", raw("star.created"), delivery="racing") for _ in range(12)]
    responses = web.together(calls)
    statuses = sorted(response.json()["status"] for response in responses)
    assert statuses == ["accepted"] + ["duplicate"] * 11
    assert count(db, WebhookDelivery) == 1
    assert count(db, Repository) == 1


def test_star_and_watch_of_one_new_repository_at_once_make_one_row(web: Web, db: Database) -> None:
    calls = [web.request("star", raw("star.created")), web.request("watch", raw("watch.started"))]
    calls += [web.request("star", raw("star.created")) for _ in range(6)]
    responses = web.together(calls)
    assert [response.status_code for response in responses] == [202] * 8
    assert count(db, Repository) == 1
    assert count(db, WebhookDelivery) == 8


# ----------------------------------------------------------- push and repository events


def test_a_push_to_a_tracked_repository_makes_it_due_now(web: Web, db: Database) -> None:
    before = tracked(db).as_status()
    start = datetime.now(UTC)
    response = web.deliver("push", push_event(), delivery="push-1")
    assert (response.status_code, response.json()) == (202, {"status": "accepted"})
    row = repository_row(db)
    assert row is not None
    assert row.next_due_at is not None
    assert row.next_due_at >= start
    after = row.as_status()
    assert {key for key in before if before[key] != after[key]} == {"next_due_at"}
    delivery = delivery_row(db, "push-1")
    assert delivery is not None
    assert delivery.outcome == f"refresh due {REPO_ID}"


def test_a_push_to_an_untracked_or_unstarred_repository_is_ignored(web: Web, db: Database) -> None:
    response = web.deliver("push", push_event(repo_id=42))
    assert response.json() == {"status": "ignored", "reason": "repository 42 is not tracked"}
    assert repository_row(db, 42) is None
    tracked(db, state=RepoState.UNSTARRED)
    response = web.deliver("push", push_event())
    assert response.json()["reason"] == f"repository {REPO_ID} is unstarred"
    row = repository_row(db)
    assert row is not None
    assert row.next_due_at == LONG_AGO + timedelta(days=3650)


@pytest.mark.parametrize("action", ["renamed", "transferred"])
def test_a_rename_or_transfer_updates_the_name_and_keeps_the_mirror(
    web: Web, db: Database, action: str
) -> None:
    before = tracked(db).as_status()
    data = repository_event(
        action,
        full_name="Octocoders/Hello-Universe",
        name="Hello-Universe",
        clone_url="https://github.com/Octocoders/Hello-Universe.git",
    )
    response = web.deliver("repository", data)
    assert response.status_code == 202
    row = repository_row(db)
    assert row is not None
    assert row.full_name == "Octocoders/Hello-Universe"
    assert row.clone_url == "https://github.com/Octocoders/Hello-Universe.git"
    assert row.metadata_etag is None
    after = row.as_status()
    assert {key for key in before if before[key] != after[key]} == {"full_name"}
    assert (row.onedev_path, row.onedev_project_id) == ("github/Codertocat/Hello-World", 17)


def test_a_deleted_source_keeps_the_mirror(web: Web, db: Database) -> None:
    before = tracked(db).as_status()
    response = web.deliver("repository", repository_event("deleted"), delivery="gone")
    assert response.status_code == 202
    row = repository_row(db)
    assert row is not None
    assert (row.state, row.state_reason) == ("source_gone", "deleted")
    assert row.error is not None
    assert "kept" in row.error
    after = row.as_status()
    changed = {key for key in before if before[key] != after[key]}
    assert changed == {"state", "state_reason", "error"}
    delivery = delivery_row(db, "gone")
    assert delivery is not None
    assert delivery.outcome == f"source gone {REPO_ID}"


@pytest.mark.parametrize(
    ("action", "field", "expected"),
    [
        ("archived", "archived", True),
        ("unarchived", "archived", False),
        ("privatized", "private", True),
        ("publicized", "private", False),
    ],
)
def test_archive_and_visibility_changes_set_one_flag(
    web: Web, db: Database, action: str, field: str, expected: bool
) -> None:
    tracked(db, **{field: not expected})
    before = repository_row(db)
    assert before is not None
    response = web.deliver("repository", repository_event(action), delivery=action)
    assert response.status_code == 202
    row = repository_row(db)
    assert row is not None
    assert getattr(row, field) is expected
    other = "private" if field == "archived" else "archived"
    assert getattr(row, other) == getattr(before, other)
    assert (row.full_name, row.description, row.state, row.next_due_at) == (
        before.full_name,
        before.description,
        before.state,
        before.next_due_at,
    )
    delivery = delivery_row(db, action)
    assert delivery is not None
    assert delivery.outcome == f"{action} {REPO_ID}"


@pytest.mark.parametrize("action", ["renamed", "deleted", "archived", "privatized"])
def test_repository_events_of_untracked_repositories_are_ignored(
    web: Web, db: Database, action: str
) -> None:
    response = web.deliver("repository", repository_event(action))
    assert response.status_code == 200
    assert response.json()["status"] == "ignored"
    assert repository_row(db) is None


@pytest.mark.parametrize(
    ("event", "action"), [("issues", "opened"), ("repository", "created"), ("star", "edited")]
)
def test_other_events_are_acknowledged_and_recorded(
    web: Web, db: Database, event: str, action: str
) -> None:
    response = web.deliver(event, {"action": action, "sender": {"login": "x"}}, delivery="other")
    assert response.status_code == 200
    assert response.json()["status"] == "ignored"
    delivery = delivery_row(db, "other")
    assert delivery is not None
    assert (delivery.event, delivery.action) == (event, action)
    assert delivery.outcome.startswith("ignored: ")
    assert count(db, Repository) == 0


# ------------------------------------------------------------ values the database refuses


@pytest.mark.parametrize(
    "changes",
    [
        pytest.param({"full_name": "o/" + "n" * 400}, id="too-long-name"),
        pytest.param({"description": "nul \x00 inside"}, id="nul"),
        pytest.param({"default_branch": "b" * 300}, id="too-long-branch"),
        pytest.param({"id": 2**63}, id="id-beyond-bigint"),
        pytest.param({"id": -5}, id="negative-id"),
        pytest.param({"size": -1}, id="negative-size"),
    ],
)
def test_repository_values_a_column_cannot_hold_are_a_400(
    web: Web, db: Database, changes: dict[str, Any]
) -> None:
    data = payload("star.created")
    data["repository"].update(changes)
    response = web.deliver("star", data, delivery="odd")
    assert response.status_code == 400
    assert "repository" in response.json()["error"]
    assert delivery_row(db, "odd") is None
    assert count(db, Repository) == 0


def test_a_lone_surrogate_is_a_400_not_a_crash(web: Web, db: Database) -> None:
    body = raw("star.created").replace(b'"Hello-World"', b'"Hello-\\ud800"', 1)
    response = web.deliver("star", body)
    assert response.status_code == 400
    assert count(db, Repository) == 0


def test_an_odd_action_and_zen_are_stored_and_answered_safely(web: Web, db: Database) -> None:
    body = b'{"action": "\\u0000x\\ud800' + b"y" * 100 + b'", "zen": "\\ud800"}'
    response = web.deliver("ping", body, delivery="odd-action")
    assert response.json() == {"status": "pong"}
    delivery = delivery_row(db, "odd-action")
    assert delivery is not None
    assert delivery.action is not None
    assert delivery.action.startswith("?x?yyy")
    assert len(delivery.action) <= 64


# -------------------------------------------------------------------- logs and failures


def test_each_delivery_is_logged_with_its_id_and_never_the_secret(web: Web) -> None:
    with capture_logs() as logs:
        web.deliver("star", raw("star.created"), delivery="logged-1")
        web.deliver("star", raw("star.created"), delivery="logged-2", secret="wrong")
    entries = [entry for entry in logs if entry["event"] == "webhook delivery"]
    assert [(entry["correlation_id"], entry["status"]) for entry in entries] == [
        ("logged-1", 202),
        ("logged-2", 401),
    ]
    assert entries[0]["github_event"] == "star"
    assert entries[0]["outcome"] == f"tracked {REPO_ID}"
    text = repr(logs)
    assert SECRET not in text
    assert "sha256=" not in text


def test_an_unreachable_database_is_a_503_and_records_nothing() -> None:
    unreachable = Database("postgresql://nobody@127.0.0.1:1/none")
    with serving(unreachable) as make:
        response = make().deliver("star", raw("star.created"))
    assert response.status_code == 503
    assert response.json() == {
        "status": "unavailable",
        "error": "the database cannot be reached; retry later",
    }
