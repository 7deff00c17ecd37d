"""Dashboard sessions: opened at sign-in, looked up on every request, ended at sign-out.

A session is found by the SHA-256 of its token, with its key's revocation and expiry in the
same read, so a revoked key ends its sessions from the next request on in every process.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from epicstar.state.models import ApiKey, DashboardSession, key_is_live, utcnow


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class OpenSession:
    """A live session: either a key's (with its name, prefix and scopes) or a proxy user's."""

    session_id: int
    key_id: int | None
    key_name: str | None
    key_prefix: str | None
    key_scopes: list[str]
    user_name: str | None


def open_session(
    session: Session,
    *,
    lifetime: timedelta,
    key_id: int | None = None,
    user_name: str | None = None,
    address: str | None = None,
) -> str:
    """A new session's token (256 random bits, for the cookie; only its hash is stored)."""
    token = secrets.token_urlsafe(32)
    now = utcnow()
    prune(session, now)
    session.add(
        DashboardSession(
            token_hash=token_hash(token),
            key_id=key_id,
            user_name=user_name,
            created_at=now,
            expires_at=now + lifetime,
            address=address,
        )
    )
    return token


def find(session: Session, token: str, now: datetime | None = None) -> OpenSession | None:
    """The session the token opened, or None when it is unknown, expired or its key is not
    usable any more (revoked or expired)."""
    now = now or utcnow()
    row = session.execute(
        select(
            DashboardSession.id,
            DashboardSession.key_id,
            DashboardSession.user_name,
            DashboardSession.expires_at,
            ApiKey.name,
            ApiKey.prefix,
            ApiKey.scopes,
            ApiKey.revoked_at,
            ApiKey.expires_at,
        )
        .outerjoin(ApiKey, ApiKey.id == DashboardSession.key_id)
        .where(DashboardSession.token_hash == token_hash(token))
    ).first()
    if row is None:
        return None
    (session_id, key_id, user_name, expires_at, name, prefix, scopes, revoked, key_expires) = row
    if expires_at <= now:
        return None
    if key_id is not None and (name is None or not key_is_live(revoked, key_expires, now)):
        return None
    return OpenSession(session_id, key_id, name, prefix, list(scopes or []), user_name)


def close(session: Session, token: str) -> None:
    statement = delete(DashboardSession).where(DashboardSession.token_hash == token_hash(token))
    session.execute(statement)


def prune(session: Session, now: datetime) -> None:
    """Forget sessions that have expired (at each sign-in: they are few)."""
    session.execute(delete(DashboardSession).where(DashboardSession.expires_at <= now))
