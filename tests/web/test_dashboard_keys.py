"""``/keys`` (admin only): the keys listed, a key created and shown once, a key revoked, which
ends its dashboard sessions."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from epicstar.state.database import Database
from epicstar.state.models import ApiKey, utcnow
from tests.web.conftest import MakeWeb
from tests.web.dashboard_client import Browser, browser, key_id, new_key

SHOWN_ONCE = re.compile(r'<code id="new-key">(esk_[^<]+)</code>')
KEY_ROW = re.compile(r'<tr data-key-id="(\d+)">')
REVOKE = re.compile(r'<form method="post" action="/keys/(\d+)/revoke"')


def keys(db: Database) -> list[ApiKey]:
    with db.session() as session:
        return list(session.query(ApiKey).order_by(ApiKey.id))


def test_an_admin_sees_every_key_and_its_use_but_never_a_key(
    db: Database, make_web: MakeWeb
) -> None:
    admin_key = new_key(db, "admin", name="laptop")
    reader_key = new_key(db, "read", name="<script>alert(1)</script>")
    admin = Browser(make_web(), admin_key)
    assert admin.web.api("GET", "/summary", reader_key).status_code == 200

    shown = admin.get("/keys")

    assert shown.status_code == 200
    assert KEY_ROW.findall(shown.text) == [str(key_id(db, admin_key)), str(key_id(db, reader_key))]
    assert f"esk_{admin_key.split('_')[1]}_…" in shown.text
    assert admin_key not in shown.text
    assert reader_key not in shown.text
    assert "<script>alert(1)" not in shown.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in shown.text
    assert shown.text.count('class="badge key-active"') == 2
    assert "this session" in shown.text
    assert 'data-live="keys"' in shown.text
    assert REVOKE.findall(shown.text) == KEY_ROW.findall(shown.text)


def test_keys_are_refused_to_write_and_read_keys_and_hidden_from_their_nav(
    db: Database, make_web: MakeWeb
) -> None:
    for scope in ("write", "read"):
        visitor = browser(make_web, db, scope)

        refused = visitor.get("/keys")
        overview = visitor.get("/")

        assert refused.status_code == 403
        assert "Not allowed" in refused.text
        assert "lacks the &#39;admin&#39; scope" in refused.text
        assert 'href="/keys"' not in overview.text
        assert 'href="/audit"' not in overview.text


def test_a_created_key_is_shown_once_with_a_copy_button_and_works_for_the_api(
    db: Database, make_web: MakeWeb
) -> None:
    admin = browser(make_web, db, "admin")

    created = admin.act("/keys", name="ci runner", scopes=["read"], expiry="30")
    shown = SHOWN_ONCE.search(created.text)
    again = admin.get("/keys")

    assert created.status_code == 201
    assert shown is not None
    key = shown[1]
    assert 'class="key-once"' in created.text
    assert '<button type="button" class="button small" data-copy="new-key">' in created.text
    assert "data-script" not in created.text.split('action="/keys"')[1].split(">")[0]
    assert admin.web.api("GET", "/summary", key).status_code == 200
    assert admin.web.api("POST", "/stars/poll", key).status_code == 403  # read only
    assert key not in again.text
    assert "key-once" not in again.text
    newest = keys(db)[-1]
    assert (newest.name, list(newest.scopes)) == ("ci runner", ["read"])
    assert newest.expires_at is not None
    assert abs(newest.expires_at - (utcnow() + timedelta(days=30))) < timedelta(minutes=1)


def test_a_key_is_made_no_stronger_than_its_maker_and_a_wrong_form_says_why(
    db: Database, make_web: MakeWeb
) -> None:
    admin = browser(make_web, db, "admin")
    before = len(keys(db))

    agent = admin.act("/keys", name="agent", scopes=["agent"], expiry="never")
    no_scope = admin.act("/keys", name="nothing", expiry="never")
    no_name = admin.act("/keys", name="  ", scopes=["read"], expiry="never")
    odd_expiry = admin.act("/keys", name="odd", scopes=["read"], expiry="forever")
    odd_scope = admin.act("/keys", name="odd", scopes=["root"], expiry="never")

    assert agent.status_code == 403
    assert "lacks it" in agent.text
    assert no_scope.status_code == 200
    assert "choose at least one scope" in no_scope.text
    assert no_name.status_code == 200
    assert "name: " in no_name.text
    assert odd_expiry.status_code == 200
    assert odd_scope.status_code == 200
    assert 'value="odd"' in odd_scope.text  # what was typed stays in the form
    assert len(keys(db)) == before


def test_creating_a_key_needs_the_admin_scope_and_the_sessions_csrf_token(
    db: Database, make_web: MakeWeb
) -> None:
    writer = browser(make_web, db, "write")
    admin = browser(make_web, db, "admin")
    before = len(keys(db))
    fields: dict[str, str | list[str]] = {"name": "sneaky", "scopes": ["read"], "expiry": "never"}

    by_writer = writer.act("/keys", **fields)  # with its own valid token
    without_token = admin.post("/keys", fields)
    wrong_token = admin.post("/keys", {**fields, "csrf": writer.csrf()})

    assert by_writer.status_code == 403
    assert without_token.status_code == 403
    assert wrong_token.status_code == 403
    assert SHOWN_ONCE.search(by_writer.text + without_token.text + wrong_token.text) is None
    assert len(keys(db)) == before


def test_revoking_a_key_signs_its_browser_out_at_the_next_request(
    db: Database, make_web: MakeWeb
) -> None:
    admin = browser(make_web, db, "admin")
    victim_key = new_key(db, "write")
    victim = Browser(make_web(), victim_key)
    assert victim.get("/").status_code == 200

    revoked = admin.act(f"/keys/{key_id(db, victim_key)}/revoke", next="/keys")
    listed = admin.get("/keys")

    assert revoked.status_code == 303
    assert revoked.headers["location"] == "/keys"
    assert victim.get("/").status_code == 303
    assert victim.get("/activity").headers["location"] == "/login?next=%2Factivity"
    assert admin.web.api("GET", "/summary", victim_key).status_code == 401
    assert 'class="badge key-revoked"' in listed.text
    assert str(key_id(db, victim_key)) not in REVOKE.findall(listed.text)


def test_an_admin_who_revokes_their_own_key_is_signed_out(db: Database, make_web: MakeWeb) -> None:
    own_key = new_key(db, "admin")
    admin = Browser(make_web(), own_key)

    revoked = admin.act_by_script(f"/keys/{key_id(db, own_key)}/revoke")

    assert revoked.status_code == 200
    assert admin.get("/keys").status_code == 303


def test_revoking_needs_the_admin_scope_and_a_known_key(db: Database, make_web: MakeWeb) -> None:
    target = new_key(db, "read")
    reader = browser(make_web, db, "read")
    writer = browser(make_web, db, "write")
    admin = browser(make_web, db, "admin")

    by_reader = reader.act(f"/keys/{key_id(db, target)}/revoke")
    by_writer = writer.act(f"/keys/{key_id(db, target)}/revoke")
    unknown = admin.act("/keys/999999/revoke")
    not_a_number = admin.act("/keys/abc/revoke")

    assert [by_reader.status_code, by_writer.status_code] == [403, 403]
    assert [unknown.status_code, not_a_number.status_code] == [404, 404]
    assert all(key.revoked_at is None for key in keys(db))


def test_a_keys_expiry_and_last_use_are_shown(db: Database, make_web: MakeWeb) -> None:
    admin = browser(make_web, db, "admin")
    used = new_key(db, "read", name="used")
    admin.web.api("GET", "/summary", used)
    admin.web.app.state.authenticator.verifier.flush_usage()  # done every few seconds
    with db.session() as session:
        row = session.get(ApiKey, key_id(db, used))
        assert row is not None
        row.expires_at = datetime(2001, 1, 1, tzinfo=utcnow().tzinfo)

    shown = admin.get("/keys")
    row_html = shown.text.split(f'<tr data-key-id="{key_id(db, used)}">')[1].split("</tr>")[0]

    assert 'class="badge key-expired"' in row_html
    assert "from " in row_html  # the address it was last used from
    assert '<td class="number" data-label="Uses">1</td>' in row_html
    assert "revoke" not in row_html
