"""The feed benchmark's data: repositories, a feed of stored commits written straight into
the database (COPY on PostgreSQL), and batches of commits as the agent posts them.

Everything is drawn from a seeded generator, so every run stores the same feed: commits
spread evenly over the repositories and authors, seen over a year in small groups (as passes
see them), titles and bodies of ordinary words, and one rare word in a handful of titles.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import insert, text
from sqlalchemy.orm import Session

from epicstar.state.models import (
    Commit,
    FeedKind,
    FeedSource,
    Origin,
    Repository,
    RepoState,
    SyncMethod,
    SyncStatus,
    utcnow,
)

SEED = 11
FEED_REPOSITORY_BASE = 1_000_000
INGESTION_REPOSITORY_BASE = 9_000_000
RARE_WORD = "xylophone"
RARE_COMMITS = 10
"""How many stored commits have the rare word in their title, spread over the feed."""
FIRST_SEEN = datetime(2025, 1, 1, tzinfo=UTC)
_WORDS = " ".join(
    (
        "fix add remove update refactor parser cache test docs build release bump version",
        "handle error edge case support config option default api client server request",
        "response timeout retry log debug memory leak speed up clean type check lint format",
        "migrate schema index query page filter sort render template style layout button",
    )
).split(" ")
_CHUNK = 10_000
_SQLITE_CACHE_KIB = 1_000_000


def author(index: int) -> tuple[str, str]:
    return f"Author {index:05d}", f"author{index:05d}@example.org"


def repositories(
    count: int, base: int, prefix: str, sync_method: SyncMethod = SyncMethod.SERVER
) -> Iterator[Repository]:
    """Mirrored repositories; commits are posted only to those in ``agent`` mode."""
    now = utcnow()
    for index in range(count):
        name = f"{prefix}-{index % 37:02d}/feed-{index:05d}"
        yield Repository(
            github_id=base + index,
            full_name=name,
            origin=Origin.MANUAL,  # the sandbox's starred list (empty) has no say
            state=RepoState.ACTIVE,
            sync_status=SyncStatus.COMPLETED,
            onedev_path=f"github/{name}",
            default_branch="main",
            last_synced_at=now,
            next_due_at=now + timedelta(days=3650),
            sync_method=sync_method,
        )


def _sentence(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(_WORDS) for _ in range(words))


@dataclass(frozen=True)
class _Feed:
    repos: int
    authors: int
    rare_every: int


def _commit_values(rng: random.Random, feed: _Feed, index: int, seen: datetime) -> dict[str, Any]:
    name, email = author(rng.randrange(feed.authors))
    title = _sentence(rng, rng.randint(3, 9)).capitalize()
    if index % feed.rare_every == feed.rare_every // 2:
        title += f" ({RARE_WORD})"
    moment = seen - timedelta(minutes=rng.randint(1, 600))
    return {
        "repository_id": FEED_REPOSITORY_BASE + rng.randrange(feed.repos),
        "kind": FeedKind.COMMIT.value,
        "ref": "",
        "sha": f"{index:08x}{rng.getrandbits(128):032x}",
        "author_name": name,
        "author_email": email,
        "authored_at": moment,
        "committer_name": name,
        "committer_email": email,
        "committed_at": moment,
        "title": title,
        "body": "\n".join(_sentence(rng, 12) for _ in range(rng.randint(0, 4))),
        "additions": rng.randint(0, 400),
        "deletions": rng.randint(0, 200),
        "files_changed": rng.randint(1, 20),
        "is_merge": False,
        "parent_count": 1,
        "branches": ["main"],
        "source": FeedSource.PASS.value,
        "first_seen_at": seen,
    }


def store_feed(session: Session, commits: int, repos: int, authors: int) -> None:
    """``commits`` rows over ``repos`` repositories (added here) and ``authors`` authors,
    seen between :data:`FIRST_SEEN` and a year later, oldest first."""
    session.add_all(repositories(repos, FEED_REPOSITORY_BASE, "stored"))
    session.flush()
    rng = random.Random(SEED)
    step = timedelta(days=365) / max(commits, 1)
    seen = FIRST_SEEN
    feed = _Feed(repos, authors, rare_every=max(commits // RARE_COMMITS, 1))
    write = _copy if session.get_bind().dialect.name == "postgresql" else _insert_many
    if write is _insert_many:  # the indexes' pages stay in memory, not spilled again and again
        session.execute(text(f"PRAGMA cache_size = -{_SQLITE_CACHE_KIB}"))
    for start in range(0, commits, _CHUNK):
        rows = []
        for index in range(start, min(start + _CHUNK, commits)):
            if index % 8 == 0:  # passes see a few commits at once
                seen = FIRST_SEEN + step * index
            rows.append(_commit_values(rng, feed, index, seen))
        write(session, rows)


def _insert_many(session: Session, rows: list[dict[str, Any]]) -> None:
    session.execute(insert(Commit), rows)


def _copy(session: Session, rows: list[dict[str, Any]]) -> None:
    """PostgreSQL's COPY, in the session's transaction."""
    from psycopg import sql

    columns = list(rows[0])
    statement = sql.SQL("COPY commits ({}) FROM STDIN").format(
        sql.SQL(", ").join(sql.Identifier(column) for column in columns)
    )
    connection = session.connection().connection.driver_connection
    assert connection is not None
    with connection.cursor() as cursor, cursor.copy(statement) as copy:
        for row in rows:
            copy.write_row(
                [
                    json.dumps(value) if column == "branches" else value
                    for column, value in row.items()
                ]
            )


def batches(commits: int, size: int, repos: int) -> Iterator[tuple[int, bytes]]:
    """(GitHub id, JSON body) of each batch the agent posts, newest commit first, the
    batches spread over ``repos`` repositories in turn."""
    rng = random.Random(SEED + 1)
    moment = datetime(2026, 1, 1, tzinfo=UTC)
    for number, start in enumerate(range(0, commits, size)):
        posted = []
        for index in range(start, min(start + size, commits)):
            name, email = author(rng.randrange(5_000))
            when = (moment + timedelta(seconds=index)).isoformat()
            posted.append(
                {
                    "sha": f"{index:08x}{rng.getrandbits(128):032x}",
                    "author_name": name,
                    "author_email": email,
                    "authored_at": when,
                    "committer_name": name,
                    "committer_email": email,
                    "committed_at": when,
                    "title": _sentence(rng, rng.randint(3, 9)).capitalize(),
                    "body": "\n".join(_sentence(rng, 12) for _ in range(rng.randint(0, 4))),
                    "additions": rng.randint(0, 400),
                    "deletions": rng.randint(0, 200),
                    "files_changed": rng.randint(1, 20),
                    "is_merge": False,
                    "parent_count": 1,
                    "branches": ["main"],
                }
            )
        posted.reverse()  # newest first, as git log lists them
        body = {"commits": posted, "client_version": "feed-benchmark"}
        yield INGESTION_REPOSITORY_BASE + number % repos, json.dumps(body).encode()
