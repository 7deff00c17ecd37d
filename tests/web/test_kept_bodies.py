"""Recorded deliveries keep their raw body for replay, and a replay processes it as on arrival."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from epicstar.state.audit import CLI
from epicstar.state.database import Database
from epicstar.state.models import AuditEntry, Repository, WebhookDelivery, utcnow
from epicstar.web.webhooks import WebhookReceiver
from tests.web.conftest import REPO_ID, MakeWeb, Web, push_event, raw, signed, tracked

FORMS = [pytest.param(False, id="json"), pytest.param(True, id="form")]


def kept(db: Database, delivery_id: str) -> WebhookDelivery | None:
    with db.session() as session:
        return session.get(WebhookDelivery, delivery_id)


def receiver(web: Web) -> WebhookReceiver:
    found: WebhookReceiver = web.app.state.webhooks
    return found


@pytest.mark.parametrize("form", FORMS)
def test_a_recorded_delivery_keeps_its_body_exactly_as_sent(
    web: Web, db: Database, form: bool
) -> None:
    body, headers = signed("star", raw("star.created"), form=form, delivery="kept-1")
    headers["Content-Type"] += "; charset=utf-8"
    assert web.post(body, headers).status_code == 202
    row = kept(db, "kept-1")
    assert row is not None
    assert row.body == body
    expected = "application/x-www-form-urlencoded" if form else "application/json"
    assert row.content_type == expected


def test_ignored_deliveries_keep_their_body_and_rejected_ones_are_not_recorded(
    web: Web, db: Database
) -> None:
    web.deliver("issues", {"action": "opened"}, delivery="kept-ignored")
    ignored = kept(db, "kept-ignored")
    assert ignored is not None
    assert ignored.body == b'{"action": "opened"}'
    assert (
        web.deliver("star", raw("star.created"), delivery="kept-bad", secret="wrong").status_code
        == 401
    )
    assert web.deliver("star", b"[1]", delivery="kept-400").status_code == 400
    assert kept(db, "kept-bad") is None
    assert kept(db, "kept-400") is None


def test_a_redelivery_leaves_the_kept_body_alone(web: Web, db: Database) -> None:
    web.deliver("push", push_event(), delivery="kept-twice")
    first = kept(db, "kept-twice")
    assert first is not None
    again = web.deliver("push", push_event(repo_id=7), delivery="kept-twice")
    assert again.json() == {"status": "duplicate"}
    second = kept(db, "kept-twice")
    assert second is not None
    assert second.body == first.body


@pytest.mark.parametrize("form", FORMS)
def test_a_replay_processes_the_kept_body_again_and_is_audited(
    web: Web, db: Database, form: bool
) -> None:
    web.deliver("push", push_event(), form=form, delivery="replayed")
    before = kept(db, "replayed")
    assert before is not None
    assert before.outcome == f"ignored: repository {REPO_ID} is not tracked"
    tracked(db)

    replayed = receiver(web).replay("replayed", CLI)

    assert replayed is not None
    assert (replayed.event, replayed.result.status_code) == ("push", 202)
    assert replayed.result.due == (REPO_ID,)
    after = kept(db, "replayed")
    assert after is not None
    assert after.outcome == f"refresh due {REPO_ID}"
    assert (after.received_at, after.body) == (before.received_at, before.body)
    with db.session() as session:
        row = session.get(Repository, REPO_ID)
        assert row is not None
        assert row.next_due_at is not None
        assert row.next_due_at <= utcnow()
        entries = list(session.scalars(select(AuditEntry)))
    assert [(entry.action, entry.actor, entry.target) for entry in entries] == [
        ("webhook.replayed", "cli", "replayed")
    ]
    assert entries[0].details == {
        "event": "push",
        "action": None,
        "outcome": f"refresh due {REPO_ID}",
    }


def test_a_replay_needs_no_secret_because_the_body_was_verified_on_arrival(
    make_web: MakeWeb, db: Database
) -> None:
    make_web().deliver("star", raw("star.created"), delivery="replay-unconfigured")
    with db.session() as session:
        session.delete(session.get(Repository, REPO_ID))
    unconfigured = make_web(webhook_secret=None)
    assert unconfigured.deliver("star", raw("star.created")).status_code == 401

    replayed = receiver(unconfigured).replay("replay-unconfigured", CLI)

    assert replayed is not None
    assert replayed.result.outcome == f"tracked {REPO_ID}"
    with db.session() as session:
        assert session.get(Repository, REPO_ID) is not None


def test_unknown_and_expired_deliveries_are_not_replayed(make_web: MakeWeb, db: Database) -> None:
    web = make_web(webhook_retention_days=2)
    web.deliver("push", push_event(), delivery="old")
    web.deliver("push", push_event(), delivery="older")
    with db.session() as session:
        for delivery_id, age in (
            ("old", timedelta(days=2, minutes=1)),
            ("older", timedelta(days=9)),
        ):
            row = session.get(WebhookDelivery, delivery_id)
            assert row is not None
            row.received_at = utcnow() - age
    assert receiver(web).replay("never-received", CLI) is None
    assert receiver(web).replay("old", CLI) is None  # its body is not pruned yet: too old anyway
    assert receiver(web).replay("older", CLI) is None
    with db.session() as session:
        assert list(session.scalars(select(AuditEntry))) == []
        outcomes = set(session.scalars(select(WebhookDelivery.outcome)))
    assert outcomes == {f"ignored: repository {REPO_ID} is not tracked"}
