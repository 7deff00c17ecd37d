"""Start and stop tracking a repository by hand (``epicstar add``, the API)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from epicstar.discovery import GitHubClient
from epicstar.discovery import Repository as SourceRepository
from epicstar.state import repositories
from epicstar.state.database import Database
from epicstar.state.models import Origin, Repository, RepoState, SyncMethod, SyncStatus, utcnow
from epicstar.sync.metadata import apply_metadata, new_repository

_FULL_NAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9._-]{1,100}")
_URL = re.compile(r"(?:https?://[^/]+/|git@[^:]+:)(?P<name>[^/]+/[^/]+?)(?:\.git)?/?")


class BadRepositoryName(ValueError):
    pass


def parse_full_name(text: str) -> str:
    """``owner/name`` from ``owner/name`` or a GitHub URL; a clear error otherwise."""
    candidate = text.strip()
    url = _URL.fullmatch(candidate)
    if url:
        candidate = url.group("name")
    if not _FULL_NAME.fullmatch(candidate) or candidate.endswith("/.") or "/.." in candidate:
        raise BadRepositoryName(
            f"'{text}' is not a GitHub repository name: expected OWNER/NAME, e.g. fastapi/fastapi"
        )
    return candidate


@dataclass(frozen=True)
class Added:
    github_id: int
    full_name: str
    created: bool
    reactivated_from: str | None = None  # the state it was in, when it was not active
    reason: str | None = None  # why it was in that state, when known
    previous_origin: str | None = None  # how it was tracked before, when it was known

    @property
    def changed(self) -> bool:
        """Whether tracking changed: a new row, a row made active, or stars no longer decide."""
        was_manual = self.previous_origin == Origin.MANUAL
        return self.created or self.reactivated_from is not None or not was_manual


def add_repository(db: Database, github: GitHubClient, text: str) -> Added:
    """Track ``text`` by hand: a new row, or a known one made active and due whatever its state.

    An explicit add wins over the filters and the starred list, now and later: a repository
    added by hand is not governed by stars or filters.
    """
    source = look_up(github, text)
    with db.session() as session:
        return track(session, source, due_at=utcnow())


def look_up(github: GitHubClient, text: str) -> SourceRepository:
    """What GitHub says of ``text`` (a name or URL); raises what the client raises."""
    full_name = parse_full_name(text)
    source = github.get_repository(full_name).repository
    if source is None:  # only a conditional request can answer "not modified"
        raise LookupError(f"GitHub returned no repository for {full_name}")
    return source


def track(session: Session, source: SourceRepository, *, due_at: datetime) -> Added:
    """:func:`add_repository`'s change, in the caller's transaction: the row is locked first,
    so two adds of one repository take turns."""
    row = repositories.locked(session, source.id)
    if row is None:
        new_repository(session, source, origin=Origin.MANUAL, due_at=due_at)
        return Added(source.id, source.full_name, created=True)
    origin, row.origin = row.origin, Origin.MANUAL
    apply_metadata(row, source, None)
    if row.state == RepoState.ACTIVE:
        return Added(source.id, source.full_name, created=False, previous_origin=origin)
    was, reason = row.state, row.state_reason
    activate(row, due_at)
    row.unstarred_at = None
    return Added(
        source.id,
        source.full_name,
        False,
        reactivated_from=was,
        reason=reason,
        previous_origin=origin,
    )


def remove(row: Repository, reason: str) -> None:
    """Stop mirroring ``row`` by hand: excluded for ``reason``, and (tracked as added by hand)
    out of reach of the starred list and the filters until it is added again. Its OneDev
    project and cache are kept."""
    row.state, row.state_reason = RepoState.EXCLUDED, reason
    row.origin = Origin.MANUAL
    row.next_due_at = None


def activate(row: Repository, now: datetime) -> None:
    """Make ``row`` active and due at ``now``; a permanent failure gets a fresh start."""
    row.state, row.state_reason = RepoState.ACTIVE, None
    row.error = None
    row.next_due_at = now
    if row.sync_status == SyncStatus.PERMANENT_FAILURE:
        row.sync_status, row.retry_count = SyncStatus.PENDING, 0


def switch_method(row: Repository, method: SyncMethod, now: datetime) -> str | None:
    """Make ``method`` fetch ``row`` from GitHub; the method it had, or None if it had this one.

    Back with the server, an active repository is due at ``now``, and its metadata is asked
    for afresh (what the agent reported carries no ETag of the server's).
    """
    if row.sync_method == method:
        return None
    previous, row.sync_method = row.sync_method, method
    if method == SyncMethod.SERVER:
        row.metadata_etag = None
        if row.state == RepoState.ACTIVE:
            row.next_due_at = now
    return previous
