"""Queries on the repositories table: selection, leases, status listing."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from epicstar.state.models import Repository, RepoState, SyncStatus


def path_taken(session: Session, path: str, *, except_id: int) -> bool:
    """Whether another tracked repository already uses this OneDev path (case-insensitive)."""
    statement = select(Repository.github_id).where(
        func.lower(Repository.onedev_path) == path.lower(), Repository.github_id != except_id
    )
    return session.scalars(statement).first() is not None


def to_mirror(
    session: Session, *, include_permanent_failures: bool, due_at: datetime | None = None
) -> list[Repository]:
    """Every repository that should be mirrored (only those due at ``due_at`` if given),
    oldest success first."""
    statement = select(Repository).where(Repository.state == RepoState.ACTIVE)
    if due_at is not None:
        statement = statement.where(
            or_(Repository.next_due_at.is_(None), Repository.next_due_at <= due_at)
        )
    if not include_permanent_failures:
        statement = statement.where(Repository.sync_status != SyncStatus.PERMANENT_FAILURE)
    statement = statement.order_by(
        Repository.last_synced_at.is_not(None), Repository.last_synced_at, Repository.github_id
    )
    return list(session.scalars(statement))


def listing(session: Session, states: Sequence[str] = ()) -> list[Repository]:
    statement = select(Repository).order_by(func.lower(Repository.full_name))
    if states:
        statement = statement.where(Repository.state.in_(list(states)))
    return list(session.scalars(statement))


def take_lease(
    session: Session, github_id: int, owner: str, *, now: datetime, duration: timedelta
) -> bool:
    """Atomically claim a repository for one pass; False when someone else holds it.

    The repository is due from now on: should the pass die, it is handed out again as soon
    as the lease lapses. A pass that ends sets the real next due time.
    """
    result = session.execute(
        update(Repository)
        .where(
            Repository.github_id == github_id,
            or_(Repository.lease_owner.is_(None), Repository.lease_expires_at < now),
        )
        .values(
            lease_owner=owner,
            lease_expires_at=now + duration,
            sync_status=SyncStatus.IN_PROGRESS,
            last_attempt_at=now,
            next_due_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0))
