"""Keys in the database: create (the full key is returned once), list, revoke."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from epicstar.auth.keys import NewKey, generate_key, hash_secret
from epicstar.auth.scopes import Scope, may_grant, parse_scopes
from epicstar.state.audit import Actor, record_change
from epicstar.state.models import ApiKey, key_is_live, utcnow

MAX_NAME_LENGTH = 100
MAX_EXPIRY = timedelta(days=3650)
_DURATION = re.compile(r"(?P<amount>[0-9]{1,7})(?P<unit>[dhms])")
_UNITS = {"d": "days", "h": "hours", "m": "minutes", "s": "seconds"}


class KeyNotFound(LookupError):
    pass


class ScopeNotHeld(PermissionError):
    """A key asked to create a key with a scope it does not hold itself."""


def parse_expiry(text: str) -> timedelta:
    """``90d``, ``12h``, ``30m`` or ``45s`` as a duration (at most ten years)."""
    match = _DURATION.fullmatch(text.strip().lower())
    if match is None:
        raise ValueError(f"'{text}' is not a duration: use a number and d, h, m or s, e.g. 90d")
    duration = timedelta(**{_UNITS[match["unit"]]: int(match["amount"])})
    return check_expiry(duration)


def check_expiry(duration: timedelta) -> timedelta:
    if duration <= timedelta(0):
        raise ValueError("a key's lifetime must be positive")
    if duration > MAX_EXPIRY:
        raise ValueError("a key's lifetime is at most 3650 days")
    return duration


def check_name(name: str) -> str:
    text = name.strip()
    if not text or len(text) > MAX_NAME_LENGTH or not text.isprintable():
        raise ValueError(f"a key's name is 1 to {MAX_NAME_LENGTH} printable characters")
    return text


def create_key(
    session: Session,
    *,
    name: str,
    scopes: Iterable[str],
    expires_in: timedelta | None,
    actor: Actor,
    actor_scopes: frozenset[Scope] | None = None,
    now: datetime | None = None,
) -> tuple[ApiKey, NewKey]:
    """A new key, recorded in the audit log; ``actor_scopes`` (None for the CLI) bounds the
    scopes it may have. The full key exists only in the returned :class:`NewKey`."""
    now = now or utcnow()
    name = check_name(name)
    wanted = parse_scopes(scopes)
    if actor_scopes is not None:
        missing = [scope for scope in wanted if not may_grant(actor_scopes, Scope(scope))]
        if missing:
            raise ScopeNotHeld(
                f"this key cannot create a key with scope {', '.join(missing)}: it lacks it"
            )
    expires_at = now + check_expiry(expires_in) if expires_in is not None else None
    new = generate_key()
    while session.scalar(select(ApiKey.id).where(ApiKey.prefix == new.prefix)) is not None:
        new = generate_key()
    row = ApiKey(
        name=name,
        prefix=new.prefix,
        secret_hash=hash_secret(new.secret),
        scopes=wanted,
        created_at=now,
        created_by=actor.describe(),
        expires_at=expires_at,
        usage_count=0,
    )
    session.add(row)
    session.flush()
    record_change(
        session,
        actor,
        "key.created",
        f"key {row.id} ({new.prefix})",
        {"key_id": row.id, "name": name, "prefix": new.prefix, "scopes": wanted},
        at=now,
    )
    return row, new


def list_keys(session: Session) -> list[ApiKey]:
    return list(session.scalars(select(ApiKey).order_by(ApiKey.id)))


def page_of_keys(session: Session, *, offset: int, limit: int) -> tuple[list[ApiKey], int]:
    """One page of keys, oldest first (as ``epicstar keys list``), and how many there are."""
    rows = session.scalars(select(ApiKey).order_by(ApiKey.id).offset(offset).limit(limit))
    return list(rows), int(session.scalar(select(func.count()).select_from(ApiKey)) or 0)


def find_key(session: Session, id_or_prefix: str) -> ApiKey | None:
    text = id_or_prefix.strip()
    if text.startswith("esk_"):
        text = text.removeprefix("esk_").split("_", 1)[0]
    condition = ApiKey.prefix == text
    if text.isdigit() and len(text) < 10:
        condition = or_(condition, ApiKey.id == int(text))
    return session.scalars(select(ApiKey).where(condition).order_by(ApiKey.id)).first()


def revoke_key(
    session: Session, id_or_prefix: str, *, actor: Actor, now: datetime | None = None
) -> tuple[ApiKey, bool]:
    """Revoke a key (by id or prefix); the bool says whether it was live until now.

    Revoking a revoked key changes nothing and is not logged again.
    """
    row = find_key(session, id_or_prefix)
    if row is None:
        raise KeyNotFound(f"no API key has the id or prefix '{id_or_prefix}'")
    if row.revoked_at is not None:
        return row, False
    now = now or utcnow()
    row.revoked_at = now
    record_change(
        session,
        actor,
        "key.revoked",
        f"key {row.id} ({row.prefix})",
        {"key_id": row.id, "name": row.name, "prefix": row.prefix},
        at=now,
    )
    return row, True


def key_status(row: ApiKey, now: datetime) -> str:
    if key_is_live(row.revoked_at, row.expires_at, now):
        return "active"
    return "revoked" if row.revoked_at is not None else "expired"


def key_view(row: ApiKey, now: datetime | None = None) -> dict[str, Any]:
    """What may be shown of a key: never the key or its hash."""
    return {
        "id": row.id,
        "name": row.name,
        "prefix": row.prefix,
        "scopes": list(row.scopes),
        "status": key_status(row, now or utcnow()),
        "created_at": row.created_at.isoformat(),
        "created_by": row.created_by,
        "expires_at": _iso(row.expires_at),
        "revoked_at": _iso(row.revoked_at),
        "last_used_at": _iso(row.last_used_at),
        "last_used_ip": row.last_used_ip,
        "usage_count": row.usage_count,
    }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None
