"""``/audit`` (admin only): who changed what, newest first, filtered by action, a page at a
time, every recorded text shown as text."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from epicstar.state.audit import CLI, Actor, record_change
from epicstar.state.database import Database
from tests.web.conftest import MakeWeb
from tests.web.dashboard_client import action_forms, browser

HOSTILE = "<script>alert(1)</script>"
ROW = re.compile(r'<tr data-audit-id="(\d+)">')
START = datetime(2021, 5, 1, 12, tzinfo=UTC)


def change(
    db: Database, actor: Actor, action: str, target: str, minutes: int, **details: str
) -> int:
    with db.session() as session:
        entry = record_change(
            session, actor, action, target, details, at=START + timedelta(minutes=minutes)
        )
        session.flush()
        return entry.id


def cells(html: str, field: str) -> list[str]:
    return re.findall(rf'<td data-field="{field}"[^>]*>(.*?)</td>', html, flags=re.S)


def test_an_admin_reads_who_did_what_newest_first_as_text(db: Database, make_web: MakeWeb) -> None:
    key = Actor("key", key_id=7, key_name="laptop", key_prefix="abc123", address="192.0.2.9")
    by_cli = change(db, CLI, "key.created", "key 1 (first)", 0)
    by_key = change(db, key, "repository.added", f"evil/{HOSTILE}", 5, why=HOSTILE)
    by_user = change(db, Actor("user", key_name="alice"), "stars.poll_requested", "stars", 9)
    admin = browser(make_web, db, "admin")

    shown = admin.get("/audit")
    ids = [int(found) for found in ROW.findall(shown.text)]

    assert shown.status_code == 200
    assert ids[-3:] == [by_user, by_key, by_cli]  # the admin's own key (made now) comes first
    assert cells(shown.text, "actor")[-3:] == [
        "user alice",
        "API key laptop <code>esk_abc123_…</code>",
        "command line",
    ]
    assert "192.0.2.9" in shown.text
    assert HOSTILE not in shown.text
    assert "evil/&lt;script&gt;alert(1)&lt;/script&gt;" in cells(shown.text, "target")
    assert "&#34;why&#34;: &#34;&lt;script&gt;alert(1)&lt;/script&gt;&#34;" in shown.text
    assert 'data-live="audit"' in shown.text
    assert action_forms(shown.text) == 0


def test_the_log_filters_by_action_and_comes_a_page_at_a_time(
    db: Database, make_web: MakeWeb
) -> None:
    made = [change(db, CLI, "repository.sync_requested", f"repository {n}", n) for n in range(55)]
    change(db, CLI, "webhook.replayed", "delivery x", 60)
    admin = browser(make_web, db, "admin")

    first = admin.get("/audit?action=repository.sync_requested")
    second = admin.get("/audit?action=repository.sync_requested&page=2")
    replayed = admin.get("/audit?action=webhook.replayed")
    unknown = admin.get("/audit?action=%3Cscript%3E")

    assert [int(n) for n in ROW.findall(first.text)] == made[::-1][:50]
    assert [int(n) for n in ROW.findall(second.text)] == made[::-1][50:]
    assert 'href="/audit?action=repository.sync_requested&amp;page=2"' in first.text
    assert cells(replayed.text, "action") == ["<code>webhook.replayed</code>"]
    assert '<option value="webhook.replayed" selected>' in replayed.text
    assert unknown.status_code == 200  # an unknown action means no filter
    assert "57 entries" in unknown.text  # 56 changes and the admin key's creation


def test_the_audit_log_is_refused_to_write_and_read_keys(db: Database, make_web: MakeWeb) -> None:
    change(db, CLI, "key.created", HOSTILE, 0)
    for scope in ("write", "read"):
        refused = browser(make_web, db, scope).get("/audit")

        assert refused.status_code == 403
        assert "lacks the &#39;admin&#39; scope" in refused.text
        assert "key.created" not in refused.text
