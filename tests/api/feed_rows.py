"""Feed rows written straight into a served API's database, as passes leave them, and
commits as the ingestion API takes them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from epicstar.feed import FeedRow, store
from epicstar.state.models import FeedKind, FeedSource
from tests.api.conftest import Api

AUTHORED = datetime(2024, 5, 1, 9, 30, tzinfo=UTC)


def sha_of(number: int) -> str:
    return f"{number:040x}"


def record(
    api: Api,
    github_id: int,
    rows: list[FeedRow],
    *,
    seen_at: datetime,
    source: FeedSource = FeedSource.PASS,
) -> None:
    """``rows`` (oldest first) stored as seen at ``seen_at``."""
    with api.database.session() as session:
        store(session, github_id, rows, source=source, seen_at=seen_at)


def row(number: int, title: str = "", **fields: Any) -> FeedRow:
    values: dict[str, Any] = {
        "kind": FeedKind.COMMIT,
        "sha": sha_of(number),
        "author_name": "Ada Lovelace",
        "author_email": "ada@example.org",
        "authored_at": AUTHORED,
        "committer_name": "Ada Lovelace",
        "committer_email": "ada@example.org",
        "committed_at": AUTHORED,
        "title": title or f"change {number}",
        "branches": ["main"],
    }
    values.update(fields)
    return FeedRow(**values)


def posted(number: int, **fields: Any) -> dict[str, Any]:
    """A commit as the agent posts it."""
    moment = AUTHORED + timedelta(minutes=number)
    values: dict[str, Any] = {
        "sha": sha_of(number),
        "author_name": "Grace Hopper",
        "author_email": "grace@example.org",
        "authored_at": moment.isoformat(),
        "committer_name": "Grace Hopper",
        "committer_email": "grace@example.org",
        "committed_at": moment.isoformat(),
        "title": f"posted change {number}",
        "body": "",
        "additions": number,
        "deletions": 1,
        "files_changed": 2,
        "is_merge": False,
        "parent_count": 1,
        "branches": ["main"],
    }
    values.update(fields)
    return values
