"""Checking keys against the database: every failure is alike, a verified key skips Argon2,
revocation and expiry apply at once, usage is written within seconds."""

from __future__ import annotations

import time
from datetime import timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import select, text

from epicstar.auth import verifier as verifier_module
from epicstar.auth.keys import secret_matches
from epicstar.auth.scopes import Scope
from epicstar.auth.store import ScopeNotHeld, create_key, list_keys, revoke_key
from epicstar.auth.verifier import KeyVerifier
from epicstar.state.audit import CLI, Actor, entries
from epicstar.state.database import Database
from epicstar.state.models import ApiKey, AuditEntry, utcnow


def make_key(db: Database, *scopes: str, expires_in: timedelta | None = None) -> str:
    with db.session() as session:
        _row, new = create_key(
            session, name="test", scopes=scopes, expires_in=expires_in, actor=CLI
        )
    return new.full


def test_a_valid_key_gives_its_scopes_and_others_give_nothing(db: Database) -> None:
    key = make_key(db, "write")
    prefix = key.split("_")[1]
    verifier = KeyVerifier(db)
    principal = verifier.authenticate(key, "192.0.2.1")
    assert principal is not None
    assert principal.prefix == prefix
    assert principal.scopes == {Scope.READ, Scope.WRITE}
    assert verifier.authenticate(key[:-1] + ("A" if key[-1] != "A" else "B"), None) is None
    assert verifier.authenticate(f"esk_{'z' * 12}_{'a' * 43}", None) is None
    assert verifier.authenticate("garbage", None) is None
    verifier.close()


def test_an_unknown_prefix_costs_what_a_wrong_secret_costs(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both run one Argon2 verification against a hash made with the same parameters, so
    answering tells nobody whether the prefix exists."""
    key = make_key(db, "read")
    prefix = key.split("_")[1]
    checked: list[str] = []

    def recording(secret_hash: str, secret: str) -> bool:
        checked.append(secret_hash.rsplit("$", 2)[0])  # algorithm, version and parameters
        return secret_matches(secret_hash, secret)

    monkeypatch.setattr("epicstar.auth.verifier.secret_matches", recording)
    verifier = KeyVerifier(db)
    assert verifier.authenticate(f"esk_{prefix}_{'W' * 43}", None) is None
    assert verifier.authenticate(f"esk_{'q' * 12}_{'W' * 43}", None) is None
    assert len(checked) == 2
    assert checked[0] == checked[1]
    assert checked[0].startswith("$argon2id$")
    verifier.close()


def test_a_verified_key_skips_argon2_until_the_cache_lapses(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = make_key(db, "read")
    checks: list[str] = []

    def counting(secret_hash: str, secret: str) -> bool:
        checks.append(secret)
        return secret_matches(secret_hash, secret)

    monkeypatch.setattr("epicstar.auth.verifier.secret_matches", counting)
    now = [1000.0]  # the verifier's clock, moved by hand: a busy machine cannot lapse it
    monkeypatch.setattr(verifier_module, "time", SimpleNamespace(monotonic=lambda: now[0]))
    verifier = KeyVerifier(db, verified_for=30)
    for _ in range(20):
        assert verifier.authenticate(key, None) is not None
    assert len(checks) == 1
    now[0] += 31
    assert verifier.authenticate(key, None) is not None
    assert len(checks) == 2
    verifier.close()


def test_revocation_and_expiry_apply_to_a_cached_key_at_once(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = make_key(db, "read")
    short = make_key(db, "read", expires_in=timedelta(minutes=5))
    verifier = KeyVerifier(db)
    assert verifier.authenticate(key, None) is not None
    assert verifier.authenticate(short, None) is not None
    with db.session() as session:
        revoke_key(session, key.split("_")[1], actor=CLI)
    assert verifier.authenticate(key, None) is None
    later = utcnow() + timedelta(minutes=6)
    monkeypatch.setattr(verifier_module, "utcnow", lambda: later)
    assert verifier.authenticate(short, None) is None
    verifier.close()


def test_usage_is_written_by_the_background_flush(db: Database) -> None:
    key = make_key(db, "read")
    verifier = KeyVerifier(db)
    for address in ("192.0.2.1", "192.0.2.1", "198.51.100.7"):
        assert verifier.authenticate(key, address) is not None
    deadline = time.monotonic() + verifier_module.USAGE_FLUSH_SECONDS + 3
    row = None
    while time.monotonic() < deadline:
        with db.session() as session:
            row = session.scalars(select(ApiKey)).one()
        if row.usage_count == 3:
            break
        time.sleep(0.2)
    assert row is not None
    assert row.usage_count == 3
    assert row.last_used_ip == "198.51.100.7"
    assert row.last_used_at is not None
    verifier.close()


def test_a_key_cannot_grant_a_scope_it_lacks_and_every_change_is_audited(
    db: Database,
) -> None:
    writer = Actor("key", 1, "writer", "abcdefgh", "192.0.2.9")
    with db.session() as session, pytest.raises(ScopeNotHeld):
        create_key(
            session,
            name="too much",
            scopes=["admin"],
            expires_in=None,
            actor=writer,
            actor_scopes=frozenset({Scope.READ, Scope.WRITE}),
        )
    with db.session() as session:
        _row, new = create_key(
            session,
            name="fine",
            scopes=["read"],
            expires_in=None,
            actor=writer,
            actor_scopes=frozenset({Scope.READ, Scope.WRITE}),
        )
    with db.session() as session:
        revoke_key(session, new.prefix, actor=CLI)
        revoke_key(session, new.prefix, actor=CLI)  # again: nothing more is logged
    with db.session() as session:
        log, total = entries(session, action=None, offset=0, limit=10)
        assert total == 2
        assert [entry.action for entry in log] == ["key.revoked", "key.created"]
        created = log[1]
        assert (created.actor, created.key_name, created.address) == ("key", "writer", "192.0.2.9")
        assert log[0].actor == "cli"
        assert [key.name for key in list_keys(session)] == ["fine"]
        dump = " ".join(
            str(value)
            for table in ("api_keys", "audit_log")
            for row in session.execute(text(f"SELECT * FROM {table}"))  # noqa: S608
            for value in row
        )
        assert new.secret not in dump
        assert session.scalar(select(AuditEntry.id).where(AuditEntry.action == "x")) is None
