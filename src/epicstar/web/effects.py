"""What an action changes in the database, and what the sender is answered.

The webhook receiver only records: the database is the truth, and the background worker
mirrors whatever is due. Each function here runs inside the delivery's transaction.
Answers: ``202 {"status": "accepted"}`` when something was recorded for later work,
``200 {"status": "ignored", "reason": ...}`` when there is nothing to do (including a star
by someone other than the mirrored user), ``200 {"status": "pong"}`` for ``ping``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.orm import Session

from epicstar.state import star_lists
from epicstar.state.models import Origin, Repository, RepoState
from epicstar.sync.filters import Filters
from epicstar.sync.metadata import apply_metadata, new_repository
from epicstar.web.events import (
    Action,
    Ignore,
    MarkStarListForWalk,
    Pong,
    Refresh,
    SetFlag,
    SourceDeleted,
    TrackStar,
    UpdateRepository,
)

__all__ = ["Result", "Rules", "apply", "immediate"]


@dataclass(frozen=True)
class Result:
    status_code: int
    body: dict[str, Any]
    outcome: str  # stored with the delivery and logged
    due: tuple[int, ...] = ()  # repositories made due, to hand to the queue at once
    walk_stars: bool = False  # the starred list should be walked now (an unstar)
    lost: tuple[int, str] | None = None  # (id, full name) of a repository deleted on GitHub


@dataclass(frozen=True)
class Rules:
    """What the receiver needs from the settings."""

    filters: Filters = field(default_factory=Filters)
    star_list_key: str = "user"
    claim: timedelta | None = None
    """Set when due repositories go to the queue at once: they are claimed for this long,
    as the tick does, so the tick does not hand them out a second time."""

    def due_at(self, now: datetime) -> datetime:
        return now + self.claim if self.claim is not None else now


ACCEPTED = {"status": "accepted"}

_REPOSITORIES: Table = Repository.__table__  # type: ignore[assignment]
_MAKE_DUE = (
    update(_REPOSITORIES)
    .where(
        _REPOSITORIES.c.github_id == bindparam("b_github_id"),
        _REPOSITORIES.c.state == RepoState.ACTIVE.value,
    )
    .values(next_due_at=bindparam("b_due"), updated_at=bindparam("b_updated"))
    .returning(_REPOSITORIES.c.github_id)
)


def ignored(reason: str) -> Result:
    return Result(200, {"status": "ignored", "reason": reason}, f"ignored: {reason}")


def accepted(outcome: str, due: tuple[int, ...] = ()) -> Result:
    return Result(202, dict(ACCEPTED), outcome, due)


def immediate(action: Action) -> Result | None:
    """The result of an action that needs nothing from the database, else None."""
    match action:
        case Pong(zen=zen):
            body: dict[str, Any] = {"status": "pong"}
            if zen is not None:
                body["zen"] = zen
            return Result(200, body, "pong")
        case Ignore(reason=reason):
            return ignored(reason)
    return None


def apply(session: Session, action: Action, now: datetime, rules: Rules) -> Result:
    match action:
        case Pong() | Ignore():
            result = immediate(action)
            assert result is not None
            return result
        case TrackStar():
            return _track_star(session, action, now, rules)
        case MarkStarListForWalk(github_id=github_id):
            star_list, _created = star_lists.locked(session, rules.star_list_key)
            star_list.last_full_walk_at = None
            return Result(
                202, dict(ACCEPTED), f"full walk due (unstar of {github_id})", walk_stars=True
            )
        case Refresh(github_id=github_id):
            return _refresh(session, github_id, now, rules)
        case UpdateRepository() | SourceDeleted() | SetFlag():
            return _change_tracked(session, action)


def _refresh(session: Session, github_id: int, now: datetime, rules: Rules) -> Result:
    """One UPDATE in the usual case (pushes are the most frequent deliveries)."""
    made_due = session.execute(
        _MAKE_DUE, {"b_github_id": github_id, "b_due": rules.due_at(now), "b_updated": now}
    ).first()
    if made_due is not None:
        return accepted(f"refresh due {github_id}", (github_id,))
    state = session.scalar(select(Repository.state).where(Repository.github_id == github_id))
    if state is None:
        return ignored(f"repository {github_id} is not tracked")
    return ignored(f"repository {github_id} is {state}")


def _change_tracked(session: Session, action: UpdateRepository | SourceDeleted | SetFlag) -> Result:
    """Events about a repository: they only matter when it is tracked."""
    github_id = action.repository.id if isinstance(action, UpdateRepository) else action.github_id
    row = _tracked(session, github_id)
    if row is None:
        return ignored(f"repository {github_id} is not tracked")
    match action:
        case UpdateRepository(repository=source, change=change):
            apply_metadata(row, source, None)  # the stored ETag no longer matches
            return accepted(f"{change} {github_id}")
        case SourceDeleted():
            newly_lost = row.state != RepoState.SOURCE_GONE
            row.state, row.state_reason = RepoState.SOURCE_GONE, "deleted"
            row.error = "deleted on GitHub; the mirror in OneDev is kept as it was"
            lost = (github_id, row.full_name) if newly_lost else None
            return Result(202, dict(ACCEPTED), f"source gone {github_id}", lost=lost)
        case SetFlag(field=name, value=value, change=change):
            setattr(row, name, value)
            return accepted(f"{change} {github_id}")


def _tracked(session: Session, github_id: int) -> Repository | None:
    return session.get(Repository, github_id, with_for_update=True)


def _track_star(session: Session, action: TrackStar, now: datetime, rules: Rules) -> Result:
    """A star of the mirrored user: a new row due now, or a known row made due now.

    The state of a known row is left alone: whether it is starred, unstarred or excluded
    is the starred list's to decide, and a delayed delivery must not undo a newer poll.
    """
    source = action.repository
    row = _tracked(session, source.id)
    if row is not None:
        apply_metadata(row, source, None)
        if row.starred_at is None and row.origin == Origin.STAR:
            row.starred_at = action.starred_at or now
        row.next_due_at = rules.due_at(now)
        due = (source.id,) if row.state == RepoState.ACTIVE else ()
        return accepted(f"refresh due {source.id}", due)
    row = new_repository(
        session,
        source,
        origin=Origin.STAR,
        due_at=rules.due_at(now),
        starred_at=action.starred_at or now,  # watch events carry no time; the poll corrects it
    )
    reason = rules.filters.exclusion(source)
    if reason:
        row.state, row.state_reason = RepoState.EXCLUDED, reason
        return accepted(f"excluded {source.id}: {reason}")
    return accepted(f"tracked {source.id}", (source.id,))
