"""What the ingestion API has received for one repository: the commits the feed holds for
it, and the newest one that was posted rather than found by a pass."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from epicstar.feed.store import count_for
from epicstar.state.models import Commit, FeedKind, FeedSource


@dataclass(frozen=True)
class Ingestion:
    total_commits: int
    """Commits in the repository's feed, posted or found by a pass."""
    last_ingested_sha: str | None
    last_ingested_at: datetime | None
    """When the last posted commit was stored."""


def ingestion_of(session: Session, github_id: int) -> Ingestion:
    newest = session.execute(
        select(Commit.sha, Commit.first_seen_at)
        .where(
            Commit.repository_id == github_id,
            Commit.source == FeedSource.INGESTED,
            Commit.kind == FeedKind.COMMIT,
        )
        .order_by(Commit.first_seen_at.desc(), Commit.id.desc())
        .limit(1)
    ).first()
    return Ingestion(
        total_commits=count_for(session, github_id),
        last_ingested_sha=newest.sha if newest is not None else None,
        last_ingested_at=newest.first_seen_at if newest is not None else None,
    )
