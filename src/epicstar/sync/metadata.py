"""Copy what GitHub says about a repository onto its row (a new one, or one tracked already)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from epicstar.discovery import GitHubClient
from epicstar.discovery import Repository as SourceRepository
from epicstar.state.models import Repository, RepoState, SyncStatus


def new_repository(
    session: Session,
    source: SourceRepository,
    *,
    origin: str,
    due_at: datetime,
    starred_at: datetime | None = None,
) -> Repository:
    """A newly tracked repository, active, pending, due at ``due_at``, added to ``session``."""
    row = Repository(
        github_id=source.id,
        full_name=source.full_name,
        origin=origin,
        state=RepoState.ACTIVE,
        sync_status=SyncStatus.PENDING,
        retry_count=0,
        next_due_at=due_at,
        starred_at=starred_at,
    )
    session.add(row)
    apply_metadata(row, source, None)
    return row


def apply_metadata(row: Repository, source: SourceRepository, etag: str | None) -> None:
    if source.id != row.github_id:
        raise ValueError(f"metadata of repository {source.id} given for {row.github_id}")
    row.full_name = source.full_name
    row.clone_url = source.clone_url
    row.html_url = source.html_url
    row.description = source.description
    row.default_branch = source.default_branch
    row.private = source.private
    row.archived = source.archived
    row.disabled = source.disabled
    row.fork = source.fork
    row.size_kb = source.size_kb
    row.language = source.language
    if source.has_wiki is not None:
        row.has_wiki = source.has_wiki
    row.metadata_etag = etag


def refresh_metadata(github: GitHubClient, row: Repository) -> str | None:
    """Ask GitHub again (conditionally); the row's previous name if it was renamed.

    Raises :class:`~epicstar.discovery.SourceGone` or ``SourceBlocked`` as GitHub answers.
    """
    response = github.get_repository(row.full_name, etag=row.metadata_etag)
    if response.repository is not None and response.repository.id != row.github_id:
        # The name now belongs to another repository; ours is only known by its id now.
        response = github.get_repository_by_id(row.github_id, etag=row.metadata_etag)
    if response.repository is None:
        return None
    previous_name = row.full_name
    apply_metadata(row, response.repository, response.etag)
    return previous_name if row.full_name != previous_name else None
