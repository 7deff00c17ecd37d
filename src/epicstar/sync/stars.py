"""What the starred list means for the repositories table.

A star read from the list is tracked, excluded by the filters, re-activated or renamed. Only
a complete walk can tell an unstar, and a star missing from it is first checked by id: a
deleted (404) or blocked (451) repository also drops out of starred lists, and its mirror
must be kept, never treated as unstarred. GitHub is asked (:func:`look_up`) before the
table is written (:func:`reconcile`), so no transaction waits on GitHub.

A repository in ``agent`` mode is the agent's: its stars and unstars are reported by the agent
(:mod:`epicstar.web.api.agent`), through :func:`apply_star` and :func:`mark_unstarred` as here,
and the server never asks GitHub about it. Seen in the server's own list (:func:`reconcile`),
it only gets the list's metadata and star time: the list never tracks, excludes, includes or
re-stars it, as a walk missing it never unstars it. The server's list may be another user's,
or read before the agent's latest report; a re-star from it would undo an unstar the agent has
reported once and will not report again.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from epicstar.discovery import GitHubClient, SourceBlocked, SourceGone, Star
from epicstar.state.models import Origin, Repository, RepoState, StarListState, SyncMethod
from epicstar.state.repositories import LOST_STATES
from epicstar.sync.filters import Filters
from epicstar.sync.metadata import apply_metadata, new_repository
from epicstar.sync.star_walk import ListMarks, StarWalk
from epicstar.sync.tracking import activate

# States a starred repository can be in while it is still starred.
_STARRED_STATES = (RepoState.ACTIVE, RepoState.EXCLUDED)

Lookups = Mapping[int, SourceGone | SourceBlocked | None]
"""What GitHub answered for repositories looked up by id: None when it has them."""


@dataclass(frozen=True)
class Change:
    """One thing a poll found, to print and (unless dry-run) to carry out."""

    kind: str  # track, exclude, include, rename, restar, back, unstar, gone, blocked
    github_id: int
    full_name: str
    detail: str = ""


def list_key(user: str | None) -> str:
    return f"users/{user.lower()}" if user else "user"


def newest_known_stars(session: Session) -> list[int]:
    statement = (
        select(Repository.github_id)
        .where(
            Repository.origin == Origin.STAR,
            Repository.state.in_(_STARRED_STATES),
            Repository.sync_method != SyncMethod.AGENT,
        )
        .order_by(Repository.starred_at.desc(), Repository.github_id)
    )
    return list(session.scalars(statement))


def marks_of(state: StarListState) -> ListMarks:
    return ListMarks(
        first_page_etag=state.first_page_etag,
        last_page_url=state.last_page_url,
        last_page_etag=state.last_page_etag,
        stars=state.stars,
        newest_star_id=state.newest_star_id,
    )


def keep_marks(state: StarListState, marks: ListMarks) -> None:
    state.first_page_etag = marks.first_page_etag
    state.last_page_url = marks.last_page_url
    state.last_page_etag = marks.last_page_etag
    state.stars = marks.stars
    state.newest_star_id = marks.newest_star_id


def list_state(session: Session, user: str | None) -> StarListState:
    """The starred list's row, new (not yet stored) if it was never polled."""
    key = list_key(user)
    state = session.get(StarListState, key)
    if state is None:
        state = StarListState(key=key, stars=0)
        session.add(state)
    return state


def full_walk_due(last: datetime | None, now: datetime, interval: int) -> bool:
    return last is None or now - last >= timedelta(seconds=interval)


def to_look_up(
    session: Session, walk: StarWalk, filters: Filters, known: Iterable[int]
) -> dict[int, str | None]:
    """Repositories only GitHub can place, with their metadata ETags.

    Listed again while marked gone or blocked: are they back? Known as starred when the
    poll began (``known``) and missing from a complete walk: unstarred, deleted or blocked?
    """
    listed = {star.repository.id: star.repository for star in walk.stars}
    lost = select(Repository.github_id, Repository.metadata_etag).where(
        Repository.origin == Origin.STAR,
        Repository.state.in_(LOST_STATES),
        Repository.sync_method != SyncMethod.AGENT,
    )
    wanted = {
        github_id: etag
        for github_id, etag in session.execute(lost)
        if github_id in listed and not filters.exclusion(listed[github_id])
    }
    missing = [github_id for github_id in known if github_id not in listed]
    if walk.complete and missing:
        still_starred = select(Repository.github_id, Repository.metadata_etag).where(
            Repository.github_id.in_(missing),
            Repository.origin == Origin.STAR,
            Repository.state.in_(_STARRED_STATES),
            Repository.sync_method != SyncMethod.AGENT,
        )
        wanted.update({github_id: etag for github_id, etag in session.execute(still_starred)})
    return wanted


def look_up(
    github: GitHubClient, wanted: Mapping[int, str | None]
) -> dict[int, SourceGone | SourceBlocked | None]:
    """Ask GitHub for each repository by id (a 304 to its ETag costs nothing)."""
    found: dict[int, SourceGone | SourceBlocked | None] = {}
    for github_id, etag in wanted.items():
        try:
            github.get_repository_by_id(github_id, etag=etag)
        except (SourceGone, SourceBlocked) as lost:
            found[github_id] = lost
        else:
            found[github_id] = None
    return found


def reconcile(
    session: Session,
    walk: StarWalk,
    lookups: Lookups,
    filters: Filters,
    now: datetime,
    *,
    unstar_policy: str,
) -> list[Change]:
    """Bring the table in line with what the walk read and GitHub answered; say what changed.

    A repository whose fate needed a look-up that was not made (its row changed while GitHub
    was asked) is left for the next poll.
    """
    changes: list[Change] = []
    for star in walk.stars:
        row = session.get(Repository, star.repository.id)
        if row is not None and row.sync_method == SyncMethod.AGENT:
            changes.extend(_refresh(row, star))  # the agent's: its state is the agent's word
        else:
            changes.extend(apply_star(session, star, filters, now, lookups))
    if walk.complete:
        listed = {star.repository.id for star in walk.stars}
        missing = [github_id for github_id in lookups if github_id not in listed]
        changes.extend(_missing(session, missing, lookups, now, unstar_policy))
    return changes


def apply_star(
    session: Session, star: Star, filters: Filters, now: datetime, lookups: Lookups
) -> Iterable[Change]:
    """What a star read now means for its row: tracked (new rows are due at ``now``),
    excluded, included, renamed, re-starred, or back (when ``lookups`` says it is reachable)."""
    source = star.repository
    row = session.get(Repository, source.id)
    if row is None:
        row = new_repository(
            session, source, origin=Origin.STAR, due_at=now, starred_at=star.starred_at
        )
        reason = filters.exclusion(source)
        if reason:
            row.state, row.state_reason = RepoState.EXCLUDED, reason
            yield Change("exclude", source.id, source.full_name, reason)
        else:
            yield Change("track", source.id, source.full_name)
        return
    yield from _refresh(row, star)
    if row.origin != Origin.STAR:
        return  # added by hand: stars do not govern it
    reason = filters.exclusion(source)
    if reason and row.state != RepoState.EXCLUDED:
        row.state, row.state_reason = RepoState.EXCLUDED, reason
        yield Change("exclude", row.github_id, row.full_name, reason)
    elif not reason and row.state == RepoState.EXCLUDED:
        activate(row, now)
        yield Change("include", row.github_id, row.full_name)
    elif not reason and row.state == RepoState.UNSTARRED:
        activate(row, now)
        row.unstarred_at = None
        yield Change("restar", row.github_id, row.full_name)
    elif not reason and row.state in LOST_STATES and _reachable(lookups, row.github_id):
        activate(row, now)
        yield Change("back", row.github_id, row.full_name, "reachable on GitHub again")


def _refresh(row: Repository, star: Star) -> Iterable[Change]:
    """What GitHub says of a known repository, and when it was starred; a rename is said."""
    source = star.repository
    if row.full_name != source.full_name:
        yield Change("rename", source.id, source.full_name, f"was {row.full_name}")
    apply_metadata(row, source, row.metadata_etag)
    row.starred_at = star.starred_at or row.starred_at


def _missing(
    session: Session, missing: list[int], lookups: Lookups, now: datetime, unstar_policy: str
) -> Iterable[Change]:
    for github_id in missing:
        row = session.get(Repository, github_id)
        if row is None or row.origin != Origin.STAR or row.state not in _STARRED_STATES:
            continue
        match lookups[github_id]:
            case SourceGone() as gone:
                row.state, row.state_reason = RepoState.SOURCE_GONE, "404"
                row.error = f"{gone}; the mirror in OneDev is kept as it was"
                yield Change("gone", github_id, row.full_name, "GitHub answers 404; mirror kept")
            case SourceBlocked() as blocked:
                row.state, row.state_reason = RepoState.BLOCKED, blocked.reason
                row.error = f"{blocked}; the mirror in OneDev is kept as it was"
                yield Change("blocked", github_id, row.full_name, f"451 ({blocked.reason})")
            case None:
                mark_unstarred(row, now)
                yield Change("unstar", github_id, row.full_name, unstar_policy)


def mark_unstarred(row: Repository, now: datetime) -> bool:
    """A starred repository is no longer starred; False for one stars do not govern (added by
    hand, or not starred now). The OneDev side follows: :func:`~epicstar.sync.unstarred.settle`."""
    if row.origin != Origin.STAR or row.state not in _STARRED_STATES:
        return False
    row.state, row.state_reason = RepoState.UNSTARRED, None
    row.unstarred_at = now
    row.next_due_at = None
    return True


def _reachable(lookups: Lookups, github_id: int) -> bool:
    return github_id in lookups and lookups[github_id] is None
