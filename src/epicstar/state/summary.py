"""Everything tracked at a glance: how many repositories are in each state and sync status,
and which of them need someone to look."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.orm import Session

from epicstar.state import repositories
from epicstar.state.models import Repository, RepoState, SyncStatus


@dataclass(frozen=True)
class Counts:
    total: int
    by_state: dict[str, int]
    """Every :class:`RepoState`, 0 when none is in it."""
    by_sync_status: dict[str, int]
    """Every :class:`SyncStatus`, 0 when none has it."""


def repository_counts(session: Session) -> Counts:
    by_state = {state.value: 0 for state in RepoState}
    by_sync_status = {status.value: 0 for status in SyncStatus}
    statement = select(Repository.state, Repository.sync_status, func.count()).group_by(
        Repository.state, Repository.sync_status
    )
    total = 0
    for state, sync_status, count in session.execute(statement):
        total += count
        # A value this version does not know (a newer one wrote it) still counts in the total.
        if state in by_state:
            by_state[state] += count
        if sync_status in by_sync_status:
            by_sync_status[sync_status] += count
    return Counts(total, by_state, by_sync_status)


def needs_attention() -> ColumnElement[bool]:
    """Gone or blocked on GitHub, or active and failing or holding rewrites for approval."""
    return or_(
        Repository.state.in_([RepoState.SOURCE_GONE, RepoState.BLOCKED]),
        and_(
            Repository.state == RepoState.ACTIVE,
            Repository.sync_status.in_(
                [SyncStatus.FAILED, SyncStatus.PERMANENT_FAILURE, SyncStatus.HELD]
            ),
        ),
    )


def needing_attention(session: Session, *, limit: int) -> tuple[list[Repository], int]:
    """The repositories that need attention, the latest attempted first, and their count.

    One pass over the table finds both (a window counts every match before the limit); the
    rows themselves are read by id afterwards.
    """
    found = session.execute(
        select(Repository.github_id, func.count().over())
        .where(needs_attention())
        .order_by(Repository.last_attempt_at.desc().nulls_last(), Repository.github_id)
        .limit(limit)
    ).all()
    total = found[0][1] if found else 0
    return repositories.by_ids(session, [github_id for github_id, _total in found]), int(total)
