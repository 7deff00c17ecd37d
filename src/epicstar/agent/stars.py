"""Polling the starred list as the server does (the same ETag discipline, the same
reconciliation), into the agent's own table: GitHub is read first, then the table written."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from epicstar.agent.config import AgentSettings
from epicstar.discovery import GitHubClient
from epicstar.state.database import Database
from epicstar.state.models import Repository, StarListState, SyncStatus
from epicstar.sync.filters import Filters
from epicstar.sync.star_walk import ListMarks, StarWalk, walk_stars
from epicstar.sync.stars import (
    Change,
    Lookups,
    full_walk_due,
    keep_marks,
    list_key,
    list_state,
    look_up,
    marks_of,
    newest_known_stars,
    reconcile,
    to_look_up,
)

__all__ = ["Change", "StarReading", "read_stars", "record_stars"]


@dataclass(frozen=True)
class StarReading:
    """What GitHub said, before anything is written."""

    walk: StarWalk
    lookups: Lookups
    filters: Filters
    now: datetime


def read_stars(
    database: Database, github: GitHubClient, settings: AgentSettings, *, now: datetime, full: bool
) -> StarReading:
    """Walk the list as far as its changes call for; look up the stars it misses."""
    user = settings.github_user
    filters = Filters.from_settings(settings)
    with database.session() as session:
        state = session.get(StarListState, list_key(user))
        marks = marks_of(state) if state is not None else ListMarks()
        walked_at = state.last_full_walk_at if state is not None else None
        known = newest_known_stars(session)
    full = full or full_walk_due(walked_at, now, settings.full_walk_interval)
    walk = walk_stars(github, user, marks=marks, newest_known=known, full=full)
    with database.session() as session:
        wanted = to_look_up(session, walk, filters, known)
    return StarReading(walk, look_up(github, wanted), filters, now)


def record_stars(session: Session, reading: StarReading, settings: AgentSettings) -> list[Change]:
    """Bring the table in line with the reading; an unstar or a re-star is owed to the server."""
    state = list_state(session, settings.github_user)
    changes = reconcile(
        session, reading.walk, reading.lookups, reading.filters, reading.now, unstar_policy=""
    )
    keep_marks(state, reading.walk.marks)
    state.last_poll_at = reading.now
    if reading.walk.complete:
        state.last_full_walk_at = reading.now
    for change in changes:
        if change.kind in ("unstar", "restar"):
            row = session.get(Repository, change.github_id)
            if row is not None:
                row.sync_status = SyncStatus.PENDING
    return changes
