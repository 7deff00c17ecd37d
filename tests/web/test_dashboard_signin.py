"""Signing in to the dashboard: with a key, by a trusted proxy's header, and out again."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from epicstar.auth.store import revoke_key
from epicstar.state.audit import CLI, entries
from epicstar.state.database import Database
from epicstar.state.models import ApiKey, DashboardSession, utcnow
from epicstar.web.authentication import SESSION_COOKIE
from tests.web.conftest import MakeWeb, tracked
from tests.web.dashboard_client import csrf_of, new_key, sign_in, signed_in


def test_pages_send_a_browser_that_is_not_signed_in_to_the_sign_in_page(
    make_web: MakeWeb,
) -> None:
    web = make_web()
    home = web.get("/")
    assert home.status_code == 303
    assert home.headers["location"] == "/login"
    filtered = web.get("/repositories?state=failed&q=a b")
    assert filtered.status_code == 303
    assert (
        filtered.headers["location"] == "/login?next=%2Frepositories%3Fstate%3Dfailed%26q%3Da%2520b"
    )
    login = web.get("/login?next=/repositories")
    assert login.status_code == 200
    assert 'name="next" value="/repositories"' in login.text


def test_a_key_signs_in_with_a_session_cookie_that_is_not_the_key(
    db: Database, make_web: MakeWeb
) -> None:
    web = make_web()
    key = new_key(db, "read")
    answer = sign_in(web, key, "/repositories?state=active")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/repositories?state=active"
    cookie = answer.headers["set-cookie"]
    assert cookie.startswith(f"{SESSION_COOKIE}=")
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie
    assert "Secure" not in cookie  # plain http: a Secure cookie would never come back
    assert "Max-Age=43200" in cookie  # EPICSTAR_SESSION_HOURS, 12 by default
    token = cookie.split(";")[0].split("=", 1)[1]
    assert key not in cookie
    with db.session() as session:
        stored = session.scalars(select(DashboardSession)).one()
        assert stored.token_hash != token  # only its hash is kept
        assert token not in stored.token_hash
    assert web.get("/").status_code == 200


def test_the_cookie_is_secure_behind_an_https_proxy_that_is_trusted(
    db: Database, make_web: MakeWeb
) -> None:
    key = new_key(db, "read")
    proxied = {"X-Forwarded-Proto": "https"}
    trusted = make_web(trusted_proxies=["127.0.0.1"])
    answer = trusted.form("/login", {"key": key}, headers=proxied)
    assert "Secure" in answer.headers["set-cookie"]
    untrusted = make_web()
    answer = untrusted.form("/login", {"key": key}, headers=proxied)
    assert "Secure" not in answer.headers["set-cookie"]


def test_a_wrong_key_is_refused_and_counted_per_address(db: Database, make_web: MakeWeb) -> None:
    web = make_web(api_rate_limit="3/minute")
    good = new_key(db, "read")
    for wrong in ("nonsense", good[:-2] + "xx", "esk_unknownprefi_" + "a" * 43):
        answer = sign_in(web, wrong)
        assert answer.status_code == 200  # the form again, with the reason
        assert "that key is not valid" in answer.text
        assert SESSION_COOKIE not in answer.headers.get("set-cookie", "")
    answer = sign_in(web, good)  # the address spent its budget on bad keys
    assert SESSION_COOKIE not in answer.headers.get("set-cookie", "")
    assert "too many sign-ins with an invalid key" in answer.text


def test_an_agent_key_cannot_open_the_dashboard(db: Database, make_web: MakeWeb) -> None:
    web = make_web()
    answer = sign_in(web, new_key(db, "agent"))
    assert SESSION_COOKIE not in answer.headers.get("set-cookie", "")
    assert "no &#39;read&#39; scope" in answer.text


def test_sign_in_never_redirects_off_the_site(db: Database, make_web: MakeWeb) -> None:
    web = make_web()
    key = new_key(db, "read")
    for target in (
        "//evil.example/",
        "///evil.example/",
        "https://evil.example/",
        "/\\evil.example",
        "javascript:x",
    ):
        answer = sign_in(web, key, target)
        assert answer.headers["location"] == "/", target


def test_revoking_the_key_ends_its_sessions(db: Database, make_web: MakeWeb) -> None:
    web = make_web()
    key = signed_in(web, db, "read")
    assert web.get("/repositories").status_code == 200
    with db.session() as session:
        revoke_key(session, key.split("_")[1], actor=CLI)
    answer = web.get("/repositories")
    assert answer.status_code == 303
    assert answer.headers["location"].startswith("/login")


def test_an_expired_key_or_session_ends_it(db: Database, make_web: MakeWeb) -> None:
    web = make_web()
    signed_in(web, db, "read")
    with db.session() as session:
        session.execute(update(ApiKey).values(expires_at=utcnow() - timedelta(seconds=1)))
    assert web.get("/").status_code == 303

    other = make_web()
    signed_in(other, db, "read")
    with db.session() as session:
        session.execute(update(DashboardSession).values(expires_at=utcnow() - timedelta(seconds=1)))
    assert other.get("/").status_code == 303


def test_signing_out_ends_the_session_for_good(db: Database, make_web: MakeWeb) -> None:
    web = make_web()
    signed_in(web, db, "read")
    home = web.get("/")
    token = web.client.cookies[SESSION_COOKIE]
    answer = web.form("/logout", {"csrf": csrf_of(home)})
    assert answer.status_code == 303
    assert answer.headers["location"] == "/login"
    assert web.get("/").status_code == 303
    web.client.cookies.set(SESSION_COOKIE, token)  # a copy of the old cookie
    assert web.get("/").status_code == 303


def test_a_trusted_proxy_signs_its_user_in_with_the_configured_scopes(
    db: Database, make_web: MakeWeb
) -> None:
    tracked(db)
    web = make_web(
        trusted_proxies=["127.0.0.1"],
        trusted_header="Remote-User",
        trusted_header_scopes=["write"],
    )
    alice = {"Remote-User": "alice"}
    page = web.get("/repositories", headers=alice)
    assert page.status_code == 200
    assert ">alice<" in page.text
    assert "/repositories/186853002/sync" in page.text  # write scope: actions shown
    answer = web.form(
        "/repositories/186853002/sync",
        {"csrf": csrf_of(page), "next": "/repositories"},
        headers=alice,
    )
    assert answer.status_code == 303
    with db.session() as session:
        logged, _total = entries(session, action="repository.sync_requested", offset=0, limit=5)
        assert [(entry.actor, entry.key_name) for entry in logged] == [("user", "alice")]
    # The session is the proxy user's only while the proxy names them.
    assert web.get("/repositories").status_code == 303
    assert web.get("/repositories", headers={"Remote-User": "bob"}).status_code == 200


def test_the_trusted_header_from_anyone_else_is_ignored(db: Database, make_web: MakeWeb) -> None:
    web = make_web(trusted_header="Remote-User", trusted_header_scopes=["admin"])
    answer = web.get("/", headers={"Remote-User": "admin"})
    assert answer.status_code == 303
    assert answer.headers["location"] == "/login"
    elsewhere = make_web(
        trusted_proxies=["10.0.0.0/8"],
        trusted_header="Remote-User",
        trusted_header_scopes=["admin"],
    )
    assert elsewhere.get("/", headers={"Remote-User": "admin"}).status_code == 303
