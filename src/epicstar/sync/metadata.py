"""Copy what GitHub says about a repository onto its row."""

from __future__ import annotations

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
