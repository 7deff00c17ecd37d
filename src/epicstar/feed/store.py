"""Storing feed rows: each normalised the same way whoever found it (a pass or the
ingestion API), each stored once, a batch at a time."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Insert, func, select
from sqlalchemy.orm import Session

from epicstar.state.models import (
    COMMIT_EMAIL_LIMIT,
    COMMIT_NAME_LIMIT,
    Commit,
    FeedKind,
    FeedSource,
)

TITLE_LIMIT = 1_000
BODY_LIMIT = 16_384
"""Characters of a commit message's body kept (its title apart); longer ones are cut."""

_LOOKUP_CHUNK = 500


@dataclass
class FeedRow:
    """One row to store, as found: :func:`store` normalises it."""

    kind: FeedKind
    sha: str
    ref: str = ""
    author_name: str = ""
    author_email: str = ""
    authored_at: datetime | None = None
    committer_name: str = ""
    committer_email: str = ""
    committed_at: datetime | None = None
    title: str = ""
    body: str = ""
    additions: int | None = None
    deletions: int | None = None
    files_changed: int | None = None
    is_merge: bool = False
    parent_count: int = 1
    branches: Sequence[str] = ()


@dataclass(frozen=True)
class Stored:
    inserted: int
    skipped: int


def store(
    session: Session,
    github_id: int,
    rows: Sequence[FeedRow],
    *,
    source: FeedSource,
    seen_at: datetime,
) -> Stored:
    """Add ``rows`` (oldest first: later rows list after earlier ones) to the feed of one
    repository; rows already stored (same kind, ref and sha) are skipped."""
    unique: dict[tuple[str, str, str], FeedRow] = {}
    for row in rows:
        unique.setdefault((row.kind.value, row.ref, row.sha.lower()), row)
    stored = _already_stored(session, github_id, list(unique))
    values = [
        _values(github_id, row, source, seen_at)
        for identity, row in unique.items()
        if identity not in stored
    ]
    if values:
        session.execute(_insert_ignoring_duplicates(session), values)
    return Stored(inserted=len(values), skipped=len(rows) - len(values))


def _already_stored(
    session: Session, github_id: int, identities: list[tuple[str, str, str]]
) -> set[tuple[str, str, str]]:
    found: set[tuple[str, str, str]] = set()
    for start in range(0, len(identities), _LOOKUP_CHUNK):
        chunk = identities[start : start + _LOOKUP_CHUNK]
        query = select(Commit.kind, Commit.ref, Commit.sha).where(
            Commit.repository_id == github_id,
            Commit.sha.in_(sorted({sha for _kind, _ref, sha in chunk})),
        )
        found.update((kind, ref, sha) for kind, ref, sha in session.execute(query))
    return found & set(identities)


def _insert_ignoring_duplicates(session: Session) -> Insert:
    """An insert that skips a row another writer stored meanwhile instead of failing."""
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects import postgresql  # the dialect in use is loaded already

        return postgresql.insert(Commit).on_conflict_do_nothing()
    from sqlalchemy.dialects import sqlite

    return sqlite.insert(Commit).on_conflict_do_nothing()


def _values(
    github_id: int, row: FeedRow, source: FeedSource, seen_at: datetime
) -> dict[str, object]:
    return {
        "repository_id": github_id,
        "kind": row.kind.value,
        "ref": clean(row.ref, 255),
        "sha": row.sha.lower(),
        "author_name": clean(row.author_name, COMMIT_NAME_LIMIT),
        "author_email": normal_email(row.author_email),
        "authored_at": _utc(row.authored_at),
        "committer_name": clean(row.committer_name, COMMIT_NAME_LIMIT),
        "committer_email": normal_email(row.committer_email),
        "committed_at": _utc(row.committed_at),
        "title": clean(row.title, TITLE_LIMIT),
        "body": clean(row.body, BODY_LIMIT, strip=False).strip("\n"),
        "additions": row.additions,
        "deletions": row.deletions,
        "files_changed": row.files_changed,
        "is_merge": row.is_merge,
        "parent_count": row.parent_count,
        "branches": sorted({clean(name, 255) for name in row.branches}),
        "source": source.value,
        "first_seen_at": seen_at,
    }


def clean(text: str, limit: int, *, strip: bool = True) -> str:
    """``text`` without NUL characters (no database keeps them in text), cut at ``limit``."""
    text = text.replace("\x00", "")
    return (text.strip() if strip else text)[:limit]


def normal_email(email: str) -> str:
    return clean(email, COMMIT_EMAIL_LIMIT).lower()


def _utc(moment: datetime | None) -> datetime | None:
    return moment.astimezone(UTC) if moment is not None else None


def count_for(session: Session, github_id: int, kind: FeedKind = FeedKind.COMMIT) -> int:
    query = select(func.count()).where(Commit.repository_id == github_id, Commit.kind == kind)
    return session.scalar(query) or 0
