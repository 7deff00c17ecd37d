"""Queries on the sync attempts: pages of them, newest first, each with its repository's name."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from epicstar.state.models import Repository, SyncAttempt


def page_of(
    session: Session,
    *,
    github_id: int | None = None,
    outcome: str | None = None,
    since: datetime | None = None,
    offset: int = 0,
    limit: int = 50,
) -> tuple[list[tuple[SyncAttempt, str]], int]:
    """One page of attempts (with their repository's full name), the latest started first,
    and how many match in all. ``since``: started at or after it."""
    conditions: list[ColumnElement[bool]] = []
    if github_id is not None:
        conditions.append(SyncAttempt.repository_id == github_id)
    if outcome:
        conditions.append(SyncAttempt.outcome == outcome)
    if since is not None:
        conditions.append(SyncAttempt.started_at >= since)
    statement = (
        select(SyncAttempt, Repository.full_name)
        .join(Repository, Repository.github_id == SyncAttempt.repository_id)
        .where(*conditions)
        .order_by(SyncAttempt.started_at.desc(), SyncAttempt.id.desc())
        .offset(offset)
        .limit(limit)
    )
    rows = [(attempt, full_name) for attempt, full_name in session.execute(statement)]
    total = session.scalar(select(func.count()).select_from(SyncAttempt).where(*conditions))
    return rows, int(total or 0)


def attempt_view(attempt: SyncAttempt, full_name: str) -> dict[str, Any]:
    return {
        "id": attempt.id,
        "github_id": attempt.repository_id,
        "full_name": full_name,
        "trigger": attempt.trigger,
        "started_at": attempt.started_at.isoformat(),
        "finished_at": _iso(attempt.finished_at),
        "duration_seconds": attempt.duration_seconds,
        "outcome": attempt.outcome,
        "refs_changed": attempt.refs_changed,
        "new_commits": attempt.new_commits,
        "bytes_fetched": attempt.bytes_fetched,
        "lfs": None
        if attempt.lfs_missing is None
        else {
            "objects_fetched": attempt.lfs_objects_fetched,
            "bytes_fetched": attempt.lfs_bytes_fetched,
            "objects_pushed": attempt.lfs_objects_pushed,
            "bytes_pushed": attempt.lfs_bytes_pushed,
            "missing": attempt.lfs_missing,
        },
        "wiki_refs_changed": attempt.wiki_refs_changed,
        "error": attempt.error,
    }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None
