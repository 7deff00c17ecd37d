"""Reading the feed: newest first (by when epicstar first saw an entry), filtered by
repository, author, words and time, a page at a time."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from epicstar.feed.links import web_page
from epicstar.state.models import Commit, FeedKind, Repository


@dataclass(frozen=True)
class FeedFilter:
    repository: int | None = None
    """A GitHub id."""
    author: str | None = None
    """An email address (it has an @), or a name; any case."""
    words: str | None = None
    """Found anywhere in the title or body, any case."""
    since: datetime | None = None
    """Seen at or after."""
    until: datetime | None = None
    """Seen before."""
    kinds: frozenset[FeedKind] | None = None


class FeedEntry(NamedTuple):
    commit: Commit
    full_name: str
    """The repository's owner/name."""
    github_page: str | None
    """The repository's page on GitHub, when it has a usable one."""


@dataclass(frozen=True)
class FeedPage:
    entries: Sequence[FeedEntry]
    has_more: bool


def page_of(session: Session, wanted: FeedFilter, *, offset: int, limit: int) -> FeedPage:
    # The page's ids first, then its rows: the entries skipped to reach a page are read from
    # an index alone, not each fetched whole and joined to its repository.
    page = (
        select(Commit.id)
        .where(*_conditions(wanted, session.get_bind().dialect.name))
        .order_by(*_NEWEST_FIRST)
        .offset(offset)
        .limit(limit + 1)
        .subquery()
    )
    query = (
        select(Commit, Repository.full_name, Repository.html_url)
        .join(page, page.c.id == Commit.id)
        .join(Repository, Repository.github_id == Commit.repository_id)
        .order_by(*_NEWEST_FIRST)
    )
    rows = session.execute(query).all()
    entries = [FeedEntry(commit, name, web_page(url)) for commit, name, url in rows[:limit]]
    return FeedPage(entries, has_more=len(rows) > limit)


_NEWEST_FIRST = (Commit.first_seen_at.desc(), Commit.id.desc())


def _conditions(wanted: FeedFilter, dialect: str) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if wanted.repository is not None:
        conditions.append(Commit.repository_id == wanted.repository)
    if wanted.author:
        author = wanted.author.strip().lower()
        if "@" in author:
            conditions.append(Commit.author_email == author)
        else:
            conditions.append(func.lower(Commit.author_name) == author)
    if wanted.words:
        pattern = f"%{_escaped(wanted.words.strip())}%"
        conditions.append(
            or_(_holds(Commit.title, pattern, dialect), _holds(Commit.body, pattern, dialect))
        )
    if wanted.since is not None:
        conditions.append(Commit.first_seen_at >= wanted.since)
    if wanted.until is not None:
        conditions.append(Commit.first_seen_at < wanted.until)
    if wanted.kinds is not None:
        conditions.append(Commit.kind.in_(sorted(wanted.kinds)))
    return conditions


def _holds(column: InstrumentedAttribute[str], pattern: str, dialect: str) -> ColumnElement[bool]:
    """``column`` holds ``pattern``, in any case, with no copy of the text lower-cased for
    each row (a word search reads every row: the copies made it twice as slow on SQLite).
    SQLite's LIKE ignores the case of ASCII letters, as its lower() folds only those;
    PostgreSQL's ILIKE folds every letter, as its lower() does."""
    if dialect == "sqlite":
        return column.like(pattern, escape="\\")
    return column.ilike(pattern, escape="\\")


def _escaped(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def entry_view(commit: Commit, full_name: str) -> dict[str, Any]:
    """An entry as the API shows it."""
    return {
        "id": commit.id,
        "repository": {"github_id": commit.repository_id, "full_name": full_name},
        "kind": commit.kind,
        "ref": commit.ref or None,
        "sha": commit.sha,
        "title": commit.title,
        "body": commit.body,
        "author": {
            "name": commit.author_name,
            "email": commit.author_email,
            "date": _iso(commit.authored_at),
        },
        "committer": {
            "name": commit.committer_name,
            "email": commit.committer_email,
            "date": _iso(commit.committed_at),
        },
        "additions": commit.additions,
        "deletions": commit.deletions,
        "files_changed": commit.files_changed,
        "is_merge": commit.is_merge,
        "parent_count": commit.parent_count,
        "branches": list(commit.branches or []),
        "source": commit.source,
        "first_seen_at": _iso(commit.first_seen_at),
    }


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None
