"""Reading the user's starred list cheaply, and what it means for the repositories table.

A quick poll asks for page 1 with the stored ETag (a 304 costs nothing) and reads further
pages only while they hold nothing but new stars. It is sure of the list's head when the
known stars it read are the ones the table says are newest; otherwise, and on its own slower
schedule, a full walk reads every page. Only a full walk can tell an unstar, and a star
missing from it is first checked by id: a deleted (404) or blocked (451) repository also
drops out of starred lists, and its mirror must be kept, never treated as unstarred.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from epicstar.discovery import GitHubClient, SourceBlocked, SourceGone, Star, StarredPage
from epicstar.state.models import Origin, Repository, RepoState, StarListState, SyncStatus
from epicstar.sync.context import SyncContext
from epicstar.sync.filters import Filters
from epicstar.sync.metadata import apply_metadata
from epicstar.sync.tracking import activate

# States a starred repository can be in while it is still starred.
_STARRED_STATES = (RepoState.ACTIVE, RepoState.EXCLUDED)


@dataclass
class StarWalk:
    stars: list[Star] = field(default_factory=list)
    complete: bool = False  # every page was read: unstars can be decided
    not_modified: bool = False  # page 1 answered 304: no new star
    etag: str | None = None
    requests: int = 0


@dataclass(frozen=True)
class Change:
    """One thing a poll found, to print and (unless dry-run) to carry out."""

    kind: str  # track, exclude, include, rename, restar, back, unstar, gone, blocked
    github_id: int
    full_name: str
    detail: str = ""


def list_key(user: str | None) -> str:
    return f"users/{user.lower()}" if user else "user"


def walk_stars(
    github: GitHubClient,
    user: str | None,
    *,
    etag: str | None,
    newest_known: list[int],
    full: bool,
) -> StarWalk:
    """Read the starred list: page 1 conditionally, then as far as needed (all if ``full``)."""
    known = set(newest_known)
    walk = StarWalk()
    page = github.starred_page(user, etag=None if full else etag)
    walk.requests = 1
    if page.not_modified:
        walk.not_modified = True
        walk.etag = etag
        return walk
    walk.etag = page.etag
    walk.stars.extend(page.stars)
    while page.next_url and (full or _all_new(page, known)):
        page = github.starred_page(user, url=page.next_url)
        walk.requests += 1
        walk.stars.extend(page.stars)
    if page.next_url and not _head_is_certain(walk.stars, newest_known):
        while page.next_url:  # the quick poll cannot be sure: read the rest
            page = github.starred_page(user, url=page.next_url)
            walk.requests += 1
            walk.stars.extend(page.stars)
    walk.complete = page.next_url is None
    return walk


def _all_new(page: StarredPage, known: set[int]) -> bool:
    return all(star.repository.id not in known for star in page.stars)


def _head_is_certain(stars: list[Star], newest_known: list[int]) -> bool:
    """The known stars read are exactly the newest the table knows: nothing above was lost."""
    known = set(newest_known)
    seen = {star.repository.id for star in stars if star.repository.id in known}
    return seen == set(newest_known[: len(seen)])


def newest_known_stars(session: Session) -> list[int]:
    statement = (
        select(Repository.github_id)
        .where(Repository.origin == Origin.STAR, Repository.state.in_(_STARRED_STATES))
        .order_by(Repository.starred_at.desc(), Repository.github_id)
    )
    return list(session.scalars(statement))


def list_state(session: Session, user: str | None, *, lock: bool = False) -> StarListState:
    """The starred list's row; ``lock`` holds it until commit, so polls take turns."""
    key = list_key(user)
    state = session.get(StarListState, key, with_for_update=lock)
    if state is None:
        state = StarListState(key=key, stars=0)
        session.add(state)
    return state


def full_walk_due(state: StarListState, now: datetime, interval: int) -> bool:
    last = state.last_full_walk_at
    return last is None or now - last >= timedelta(seconds=interval)


def reconcile(
    ctx: SyncContext, session: Session, walk: StarWalk, filters: Filters, now: datetime
) -> list[Change]:
    """Bring the table in line with what the walk read; return what changed."""
    changes: list[Change] = []
    listed: set[int] = set()
    for star in walk.stars:
        listed.add(star.repository.id)
        changes.extend(_starred(ctx, session, star, filters, now))
    if walk.complete:
        changes.extend(_missing(ctx, session, listed, now))
    return changes


def _starred(
    ctx: SyncContext, session: Session, star: Star, filters: Filters, now: datetime
) -> Iterable[Change]:
    source = star.repository
    row = session.get(Repository, source.id)
    if row is None:
        row = Repository(
            github_id=source.id,
            full_name=source.full_name,
            origin=Origin.STAR,
            state=RepoState.ACTIVE,
            sync_status=SyncStatus.PENDING,
            retry_count=0,
            next_due_at=now,
        )
        session.add(row)
        apply_metadata(row, source, None)
        row.starred_at = star.starred_at
        reason = filters.exclusion(source)
        if reason:
            row.state, row.state_reason = RepoState.EXCLUDED, reason
            yield Change("exclude", source.id, source.full_name, reason)
        else:
            yield Change("track", source.id, source.full_name)
        return
    if row.full_name != source.full_name:
        yield Change("rename", source.id, source.full_name, f"was {row.full_name}")
    etag = row.metadata_etag
    apply_metadata(row, source, etag)
    row.starred_at = star.starred_at or row.starred_at
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
    elif not reason and row.state in (RepoState.SOURCE_GONE, RepoState.BLOCKED):
        back = _still_there(ctx.github, row)
        if back:
            activate(row, now)
            yield Change("back", row.github_id, row.full_name, "reachable on GitHub again")


def _missing(
    ctx: SyncContext, session: Session, listed: set[int], now: datetime
) -> Iterable[Change]:
    statement = select(Repository).where(
        Repository.origin == Origin.STAR,
        Repository.state.in_(_STARRED_STATES),
        Repository.github_id.not_in(listed) if listed else Repository.github_id.is_not(None),
    )
    for row in list(session.scalars(statement)):
        try:
            ctx.github.get_repository_by_id(row.github_id, etag=row.metadata_etag)
        except SourceGone as gone:
            row.state, row.state_reason = RepoState.SOURCE_GONE, "404"
            row.error = f"{gone}; the mirror in OneDev is kept as it was"
            yield Change("gone", row.github_id, row.full_name, "GitHub answers 404; mirror kept")
            continue
        except SourceBlocked as blocked:
            row.state, row.state_reason = RepoState.BLOCKED, blocked.reason
            row.error = f"{blocked}; the mirror in OneDev is kept as it was"
            yield Change("blocked", row.github_id, row.full_name, f"451 ({blocked.reason})")
            continue
        row.state, row.state_reason = RepoState.UNSTARRED, None
        row.unstarred_at = now
        row.next_due_at = None
        yield Change("unstar", row.github_id, row.full_name, ctx.settings.unstar_policy)


def _still_there(github: GitHubClient, row: Repository) -> bool:
    try:
        github.get_repository_by_id(row.github_id, etag=row.metadata_etag)
    except (SourceGone, SourceBlocked):
        return False
    return True
