"""Queries on the repositories table: selection, leases, status listing, one repository."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select, update
from sqlalchemy.orm import Session

from epicstar.state.models import Origin, Repository, RepoState, SyncStatus

LOST_STATES = (RepoState.SOURCE_GONE, RepoState.BLOCKED)


def path_taken(session: Session, path: str, *, except_id: int) -> bool:
    """Whether another tracked repository already uses this OneDev path (case-insensitive)."""
    statement = select(Repository.github_id).where(
        func.lower(Repository.onedev_path) == path.lower(), Repository.github_id != except_id
    )
    return session.scalars(statement).first() is not None


def lost_and_due(now: datetime) -> ColumnElement[bool]:
    """A repository added by hand whose source was lost (404, 451), due to be looked at again
    (it may be restored); a starred one comes back through the starred list instead."""
    return and_(
        Repository.origin == Origin.MANUAL,
        Repository.state.in_(LOST_STATES),
        Repository.next_due_at <= now,
    )


def wanted(
    *,
    include_permanent_failures: bool,
    due_at: datetime | None = None,
    lost_due_at: datetime | None = None,
) -> ColumnElement[bool]:
    """Repositories that should be mirrored (only those due at ``due_at`` if given); with
    ``lost_due_at``, also those :func:`lost_and_due` then."""
    condition: ColumnElement[bool] = Repository.state == RepoState.ACTIVE
    if due_at is not None:
        condition = and_(
            condition, or_(Repository.next_due_at.is_(None), Repository.next_due_at <= due_at)
        )
    if not include_permanent_failures:
        condition = and_(condition, Repository.sync_status != SyncStatus.PERMANENT_FAILURE)
    if lost_due_at is not None:
        condition = or_(condition, lost_and_due(lost_due_at))
    return condition


def to_mirror(
    session: Session,
    *,
    include_permanent_failures: bool,
    due_at: datetime | None = None,
    lost_due_at: datetime | None = None,
) -> list[Repository]:
    """Every repository that :func:`wanted` selects, oldest success first."""
    wanted_now = wanted(
        include_permanent_failures=include_permanent_failures,
        due_at=due_at,
        lost_due_at=lost_due_at,
    )
    statement = select(Repository).where(wanted_now)
    statement = statement.order_by(
        Repository.last_synced_at.is_not(None), Repository.last_synced_at, Repository.github_id
    )
    return list(session.scalars(statement))


ORDERS: dict[str, tuple[Any, ...]] = {
    "name": (func.lower(Repository.full_name),),
    "state": (Repository.state, func.lower(Repository.full_name)),
    "sync_status": (Repository.sync_status, func.lower(Repository.full_name)),
    "last_synced_at": (Repository.last_synced_at, func.lower(Repository.full_name)),
}
"""How a page may be sorted (``-`` before a name reverses it): by name by default."""
SORTS = tuple(name for key in ORDERS for name in (key, f"-{key}"))


def page_of(
    session: Session,
    *,
    state: str | None = None,
    sync_status: str | None = None,
    name_part: str | None = None,
    sort: str = "name",
    offset: int = 0,
    limit: int = 50,
) -> tuple[list[Repository], int]:
    """One page of repositories (by name, any case, unless ``sort`` says otherwise: one of
    :data:`SORTS`), and how many match in all. Never-synced repositories sort last."""
    conditions: list[ColumnElement[bool]] = []
    if state:
        conditions.append(Repository.state == state)
    if sync_status:
        conditions.append(Repository.sync_status == sync_status)
    if name_part:
        conditions.append(
            func.lower(Repository.full_name).contains(name_part.lower(), autoescape=True)
        )
    ids = (
        select(Repository.github_id)
        .where(*conditions)
        .order_by(*_ordering(sort), Repository.github_id)
        .offset(offset)
        .limit(limit)
    )
    total = session.scalar(select(func.count()).select_from(Repository).where(*conditions))
    return by_ids(session, list(session.scalars(ids))), int(total or 0)


def by_ids(session: Session, github_ids: list[int]) -> list[Repository]:
    """The repositories of ``github_ids``, in that order (one gone meanwhile is left out).

    A page is chosen by its ids first and only then read whole: sorting narrow rows costs
    far less than sorting whole ones (their refs, errors, descriptions), more so the deeper
    the page (on SQLite, page 150 of 10,000: 25 ms instead of 350 ms).
    """
    found = session.scalars(select(Repository).where(Repository.github_id.in_(github_ids)))
    rows = {row.github_id: row for row in found}
    return [rows[github_id] for github_id in github_ids if github_id in rows]


def _ordering(sort: str) -> list[ColumnElement[Any]]:
    descending = sort.startswith("-")
    key = sort.removeprefix("-")
    if key not in ORDERS:
        raise ValueError(f"cannot sort by {sort!r}: choose one of {', '.join(SORTS)}")
    ordered: list[ColumnElement[Any]] = []
    if key == "last_synced_at":
        ordered.append(Repository.last_synced_at.is_(None))  # never synced: last either way
    ordered += [column.desc() if descending else column.asc() for column in ORDERS[key]]
    return ordered


def locked(session: Session, github_id: int) -> Repository | None:
    """The repository, locked until the transaction ends (None when it is not tracked).

    A write comes first: it takes the row's lock on PostgreSQL and the database's on SQLite,
    where a plain read takes none, so what is read next cannot change before the commit.
    """
    session.execute(
        update(Repository)
        .where(Repository.github_id == github_id)
        .values(updated_at=Repository.updated_at)
        .execution_options(synchronize_session=False)
    )
    return session.get(Repository, github_id, populate_existing=True)


def by_name(session: Session, full_name: str) -> Repository | None:
    """The repository named ``full_name`` in any case (the oldest, should a name have been
    reused by a repository GitHub made later)."""
    return session.scalars(
        select(Repository)
        .where(func.lower(Repository.full_name) == full_name.lower())
        .order_by(Repository.github_id)
        .limit(1)
    ).first()


def listing(session: Session, states: Sequence[str] = ()) -> list[Repository]:
    statement = select(Repository).order_by(func.lower(Repository.full_name))
    if states:
        statement = statement.where(Repository.state.in_(list(states)))
    return list(session.scalars(statement))


def take_lease(
    session: Session,
    github_id: int,
    owner: str,
    *,
    now: datetime,
    duration: timedelta,
    from_holder: str | None = None,
) -> bool:
    """Atomically claim a repository for one pass; False when someone else holds it.

    With ``from_holder``, take the lease over from that holder only (one known to be gone),
    whether or not it has lapsed. The repository is due from now on: should the pass die, it
    is handed out again as soon as the lease lapses. A pass that ends sets the real next due
    time.
    """
    available = (
        Repository.lease_owner == from_holder
        if from_holder is not None
        else or_(Repository.lease_owner.is_(None), Repository.lease_expires_at < now)
    )
    result = session.execute(
        update(Repository)
        .where(Repository.github_id == github_id, available)
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


def lease_holder(session: Session, github_id: int, *, now: datetime) -> str | None:
    """Who holds the repository's lease now; None when it is free or has lapsed."""
    return session.scalar(
        select(Repository.lease_owner).where(
            Repository.github_id == github_id, Repository.lease_expires_at >= now
        )
    )


def end_leases_of_gone(session: Session, *, now: datetime, gone: Callable[[str], bool]) -> int:
    """End every running lease whose holder ``gone`` says no longer exists; how many ended.

    Each is ended only if that holder still has it, so a lease taken meanwhile stays.
    """
    holders = session.scalars(
        select(Repository.lease_owner).where(
            Repository.lease_owner.is_not(None), Repository.lease_expires_at >= now
        )
    )
    ended = 0
    for holder in [holder for holder in holders if holder is not None and gone(holder)]:
        result = session.execute(
            update(Repository)
            .where(Repository.lease_owner == holder)
            .values(lease_expires_at=now - timedelta(microseconds=1))
            .execution_options(synchronize_session=False)
        )
        ended += int(getattr(result, "rowcount", 0))
    return ended
