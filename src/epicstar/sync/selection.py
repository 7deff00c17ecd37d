"""Which repositories a run gives a pass; ``epicstar sync`` and its dry run choose alike."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, func, select, update
from sqlalchemy.orm import Session

from epicstar.state import repositories
from epicstar.state.models import Origin, Repository, RepoState, SyncMethod, SyncStatus

_PERMANENTLY_FAILED = (
    Repository.state == RepoState.ACTIVE,
    Repository.sync_status == SyncStatus.PERMANENT_FAILURE,
)


@dataclass(frozen=True)
class Selection:
    todo: list[Repository]
    skipped_permanent: int  # active repositories in permanent_failure that get no pass


def select_repositories(
    session: Session, *, retry_failed: bool, due_only: bool, now: datetime
) -> Selection:
    """Read only: what a run would mirror, in order (with ``due_only``, what is due ``now``),
    and the lost repositories added by hand that are due to be looked at again.

    With ``retry_failed`` the permanent failures are included and none is skipped; the real
    run then gives them a fresh start with :func:`reset_permanent_failures`.
    """
    todo = repositories.to_mirror(
        session,
        include_permanent_failures=retry_failed,
        due_at=now if due_only else None,
        lost_due_at=now,
    )
    skipped = 0
    if not retry_failed:
        counted = select(func.count()).select_from(Repository).where(*_PERMANENTLY_FAILED)
        skipped = session.scalar(counted) or 0
    return Selection(todo, skipped)


def needing_metadata(session: Session, *, retry_failed: bool, due_only: bool, now: datetime) -> int:
    """How many of the repositories a run would give a pass are starred ones, whose metadata
    the starred list holds (the others' passes ask GitHub for it, one request each)."""
    wanted = repositories.wanted(
        include_permanent_failures=retry_failed, due_at=now if due_only else None
    )
    condition = and_(
        wanted, Repository.origin == Origin.STAR, Repository.sync_method != SyncMethod.AGENT
    )
    return session.scalar(select(func.count()).select_from(Repository).where(condition)) or 0


def reset_permanent_failures(session: Session) -> None:
    """Permanent failures become pending again, with no failed attempts counted."""
    session.execute(
        update(Repository)
        .where(*_PERMANENTLY_FAILED)
        .values(retry_count=0, sync_status=SyncStatus.PENDING)
    )
