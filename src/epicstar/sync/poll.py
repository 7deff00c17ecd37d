"""One poll of the starred list: read it, reconcile the table, carry out the unstar policy."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime

import structlog
from sqlalchemy import update
from sqlalchemy.orm import Session

from epicstar.state import star_lists
from epicstar.state.models import StarListState
from epicstar.sync.context import SyncContext
from epicstar.sync.filters import Filters
from epicstar.sync.star_walk import PAGE_SIZE, ListMarks, StarWalk, pages_of, walk_stars
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
from epicstar.sync.unstarred import settle

log = structlog.get_logger("epicstar.stars")


@dataclass
class PollReport:
    source: str  # whose stars
    changes: list[Change] = field(default_factory=list)
    requests: int = 0
    not_modified: bool = False
    full_walk: bool = False
    stars_seen: int = 0
    dry_run: bool = False
    described: frozenset[int] = frozenset()
    """The repositories whose metadata the list was read whole for, instead of asking for
    each (:func:`walking_is_cheaper`): their passes take it from the table. Empty otherwise:
    a pass asks, with the ETag of the last answer, and a 304 costs nothing."""


def stars_source(ctx: SyncContext) -> str | None:
    """Whose starred list to read, or None when neither a token nor a user is configured."""
    if ctx.settings.github_user:
        return ctx.settings.github_user
    if ctx.settings.github_token is not None:
        return "the token's user"
    return None


@dataclass(frozen=True)
class _Reading:
    """What a poll learned from GitHub, before it writes anything."""

    walk: StarWalk
    lookups: Lookups
    filters: Filters
    now: datetime
    existed: bool  # the list's row existed when the poll began
    walked_at: datetime | None  # its last complete walk then


def poll_stars(ctx: SyncContext, *, full: bool = False, metadata_wanted: int = 0) -> PollReport:
    """Read the list, ask GitHub what became of missing stars, then write the table.

    ``metadata_wanted``: how many starred repositories the passes that follow would ask
    GitHub about one by one; when reading the whole list takes fewer requests, it is read
    whole, and those passes ask nothing.

    GitHub is only asked between transactions: a poll waiting on it (a rate limit can last
    up to ``EPICSTAR_GITHUB_MAX_WAIT``) holds no lock a webhook would wait for.
    """
    report = PollReport(source=stars_source(ctx) or "")
    reading = _read(ctx, report, full=full, metadata_wanted=metadata_wanted)
    walk, now = reading.walk, reading.now
    with ctx.db.session() as session:
        state, created = star_lists.locked(session, list_key(ctx.settings.github_user))
        same_row = reading.existed or created  # else a webhook or a poll made it meanwhile
        report.changes = _reconcile(ctx, session, reading)
        keep_marks(state, walk.marks)
        state.last_poll_at = now
        if walk.complete and same_row:
            _walked(session, state.key, reading.walked_at, now)
    _carry_out(ctx, report)
    for change in report.changes:
        if change.kind in ("gone", "blocked"):
            lost = "source_gone" if change.kind == "gone" else "blocked"
            ctx.events.source_lost(change.github_id, change.full_name, lost, change.detail)
    log.info(
        "stars.polled",
        requests=report.requests,
        not_modified=report.not_modified,
        full_walk=report.full_walk,
        changes=len(report.changes),
    )
    return report


@contextmanager
def dry_poll(ctx: SyncContext, *, full: bool = False) -> Iterator[tuple[PollReport, Session]]:
    """A poll that changes nothing: in the block, the session shows the table as the poll
    would leave it; all of it is rolled back afterwards."""
    report = PollReport(source=stars_source(ctx) or "", dry_run=True)
    reading = _read(ctx, report, full=full)
    with ctx.db.session() as session:
        try:
            list_state(session, ctx.settings.github_user)
            report.changes = _reconcile(ctx, session, reading)
            yield report, session
        finally:
            session.rollback()


def _read(
    ctx: SyncContext, report: PollReport, *, full: bool, metadata_wanted: int = 0
) -> _Reading:
    """Walk the starred list as far as needed and look up the stars it misses, each database
    read in a transaction of its own."""
    user = ctx.settings.github_user
    filters = Filters.from_settings(ctx.settings)
    now = ctx.clock()
    with ctx.db.session() as session:
        state = session.get(StarListState, list_key(user))
        existed = state is not None
        marks = marks_of(state) if state is not None else ListMarks()
        walked_at = state.last_full_walk_at if state is not None else None
        known = newest_known_stars(session)
    instead_of_asking = walking_is_cheaper(metadata_wanted, marks)
    full = (
        full or instead_of_asking or full_walk_due(walked_at, now, ctx.settings.full_walk_interval)
    )
    walk = walk_stars(ctx.github, user, marks=marks, newest_known=known, full=full)
    with ctx.db.session() as session:
        wanted = to_look_up(session, walk, filters, known)
    lookups = look_up(ctx.github, wanted)
    report.requests = walk.requests
    report.not_modified = walk.not_modified
    report.full_walk = walk.complete
    report.stars_seen = len(walk.stars)
    if instead_of_asking and walk.complete:
        report.described = frozenset(star.repository.id for star in walk.stars)
    return _Reading(walk, lookups, filters, now, existed, walked_at)


def walking_is_cheaper(metadata_wanted: int, marks: ListMarks) -> bool:
    """Whether reading the whole list beats asking for each repository's metadata.

    The list's pages cost one counted request per hundred stars; a repository asked for
    alone usually answers 304, which is free but takes a round trip, one at a time. Up to a
    page's worth of repositories is asked for alone (an idle sync then costs nothing); more,
    and the list is read whole: a thousand stars in ten requests, not a thousand.
    """
    return metadata_wanted > max(PAGE_SIZE, pages_of(marks))


def _reconcile(ctx: SyncContext, session: Session, reading: _Reading) -> list[Change]:
    return reconcile(
        session,
        reading.walk,
        reading.lookups,
        reading.filters,
        reading.now,
        unstar_policy=ctx.settings.unstar_policy,
    )


def _walked(session: Session, key: str, walked_at: datetime | None, now: datetime) -> None:
    """Record a complete walk, unless a webhook asked for one while this walk was read."""
    session.execute(
        update(StarListState)
        .where(
            StarListState.key == key,
            StarListState.last_full_walk_at.is_not_distinct_from(walked_at),
        )
        .values(last_full_walk_at=now)
        .execution_options(synchronize_session=False)
    )


def _carry_out(ctx: SyncContext, report: PollReport) -> None:
    """OneDev side of unstars and re-stars, one repository at a time, after the table."""
    for index, change in enumerate(report.changes):
        if change.kind not in ("unstar", "restar"):
            continue
        done = settle(ctx, change.kind, change.github_id)
        if done is not None:
            report.changes[index] = Change(change.kind, change.github_id, change.full_name, done)
