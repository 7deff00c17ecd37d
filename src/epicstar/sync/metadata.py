"""Copy what GitHub says about a repository onto its row."""

from __future__ import annotations

from epicstar.discovery import GitHubClient
from epicstar.discovery import Repository as SourceRepository
from epicstar.state.models import Repository


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
