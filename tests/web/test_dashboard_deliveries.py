"""``/deliveries``: GitHub's webhook deliveries, newest first, and replaying a kept one from
the page (write scope only, with the session's CSRF token)."""

from __future__ import annotations

import re
from datetime import timedelta

from epicstar.state.audit import entries
from epicstar.state.database import Database
from epicstar.state.models import WebhookDelivery, utcnow
from tests.web.conftest import MakeWeb, payload
from tests.web.dashboard_client import action_forms, browser

HOSTILE = "<script>alert(1)</script>"
ROW = re.compile(r'<tr data-delivery-id="([^"]+)">')
REPLAY = re.compile(r'<form method="post" action="/deliveries/([^"]+)/replay"')


def delivery(db: Database, delivery_id: str, *, age: timedelta, **fields: str | None) -> None:
    """A delivery as recorded long enough ago that its body is gone."""
    values: dict[str, str | None] = {"event": "star", "action": "created", "outcome": "ignored"}
    values.update(fields)
    with db.session() as session:
        session.add(WebhookDelivery(delivery_id=delivery_id, received_at=utcnow() - age, **values))


def replays(db: Database) -> list[tuple[str, str | None, str | None]]:
    with db.session() as session:
        found, _total = entries(session, action="webhook.replayed", offset=0, limit=10)
        return [(entry.actor, entry.key_prefix, entry.target) for entry in found]


def test_deliveries_show_newest_first_and_only_kept_ones_offer_a_replay(
    db: Database, make_web: MakeWeb
) -> None:
    delivery(db, "hostile", age=timedelta(days=40), action=HOSTILE, outcome=f"rejected {HOSTILE}")
    delivery(db, "older", age=timedelta(days=41))
    writer = browser(make_web, db, "write")
    assert writer.web.deliver("ping", payload("ping"), delivery="kept-ping").status_code < 300

    shown = writer.get("/deliveries")

    assert shown.status_code == 200
    assert ROW.findall(shown.text) == ["kept-ping", "hostile", "older"]
    assert REPLAY.findall(shown.text) == ["kept-ping"]
    assert 'data-live="deliveries"' in shown.text
    assert HOSTILE not in shown.text
    assert "rejected &lt;script&gt;alert(1)&lt;/script&gt;" in shown.text
    assert "3 deliveries" in shown.text


def test_a_write_key_replays_a_delivery_from_the_page_and_it_is_audited(
    db: Database, make_web: MakeWeb
) -> None:
    writer = browser(make_web, db, "write")
    writer.web.deliver("ping", payload("ping"), delivery="kept-ping")

    by_form = writer.act("/deliveries/kept-ping/replay", next="/deliveries?page=1")
    back = writer.get(by_form.headers["location"])

    assert by_form.status_code == 303
    assert by_form.headers["location"] == "/deliveries?page=1"
    assert "Delivery kept-ping replayed" in back.text  # the flash message, shown once
    assert [actor for actor, _prefix, _target in replays(db)] == ["key"]


def test_the_pages_script_gets_the_replays_outcome_as_json(db: Database, make_web: MakeWeb) -> None:
    writer = browser(make_web, db, "write")
    writer.web.deliver("ping", payload("ping"), delivery="kept-ping")

    answer = writer.act_by_script("/deliveries/kept-ping/replay")
    unknown = writer.act("/deliveries/never-sent/replay")

    assert answer.status_code == 202
    assert answer.json()["message"].startswith("Delivery kept-ping replayed")
    assert unknown.status_code == 404
    assert "no delivery &#39;never-sent&#39; is kept" in unknown.text


def test_a_read_key_sees_no_replay_and_its_forged_replay_is_refused(
    db: Database, make_web: MakeWeb
) -> None:
    reader = browser(make_web, db, "read")
    reader.web.deliver("ping", payload("ping"), delivery="kept-ping")

    shown = reader.get("/deliveries")
    forged = reader.act("/deliveries/kept-ping/replay")  # with its own valid CSRF token

    assert shown.status_code == 200
    assert ROW.findall(shown.text) == ["kept-ping"]
    assert action_forms(shown.text) == 0
    assert forged.status_code == 403
    assert "lacks the &#39;write&#39; scope" in forged.text
    assert replays(db) == []


def test_a_replay_without_the_sessions_csrf_token_is_refused(
    db: Database, make_web: MakeWeb
) -> None:
    writer = browser(make_web, db, "write")
    writer.web.deliver("ping", payload("ping"), delivery="kept-ping")

    without = writer.post("/deliveries/kept-ping/replay", {})
    wrong = writer.post("/deliveries/kept-ping/replay", {"csrf": "0" * 64})
    from_elsewhere = writer.post(
        "/deliveries/kept-ping/replay",
        {"csrf": writer.csrf()},
        headers={"Sec-Fetch-Site": "cross-site"},
    )

    assert [without.status_code, wrong.status_code, from_elsewhere.status_code] == [403] * 3
    assert "CSRF token is wrong" in wrong.text
    assert replays(db) == []


def test_many_deliveries_come_a_page_at_a_time(db: Database, make_web: MakeWeb) -> None:
    for minute in range(55):
        delivery(db, f"d-{minute:02d}", age=timedelta(days=30, minutes=minute))
    reader = browser(make_web, db, "read")

    first = reader.get("/deliveries")
    second = reader.get("/deliveries?page=2")

    assert ROW.findall(first.text) == [f"d-{minute:02d}" for minute in range(50)]
    assert ROW.findall(second.text) == [f"d-{minute:02d}" for minute in range(50, 55)]
    assert "Page 2 of 2" in second.text
