"""``/api/v1/repositories``: what is tracked and how its mirrors are."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query
from sqlalchemy.orm import Session

from epicstar.auth.scopes import Scope
from epicstar.state import attempts, repositories, rewrites
from epicstar.state.models import Repository, RepoState, SyncStatus
from epicstar.web.api.context import ApiContext, api_context
from epicstar.web.api.paging import Paging, paging
from epicstar.web.api.params import NOT_FOUND, GitHubId
from epicstar.web.authentication import Caller, require

router = APIRouter(tags=["repositories"])

RECENT_ATTEMPTS = 10
"""How many attempts ``GET /repositories/{github_id}`` shows (the attempts route pages)."""


def tracked(session: Session, github_id: int) -> Repository:
    """The repository, or a 404 for an id epicstar does not track."""
    row = session.get(Repository, github_id)
    if row is None:
        raise not_tracked(github_id)
    return row


def not_tracked(github_id: int) -> HTTPException:
    return HTTPException(404, f"no tracked repository has the GitHub id {github_id}")


def repository_view(row: Repository, *, rewrites: int) -> dict[str, Any]:
    """``epicstar status --json``'s fields, what GitHub says of the repository, and how many
    of its branches and tags GitHub overwrote or deleted (``rewrites``)."""
    return {
        **row.as_status(),
        "rewrites": rewrites,
        "html_url": row.html_url,
        "description": row.description,
        "default_branch": row.default_branch,
        "private": row.private,
        "archived": row.archived,
        "fork": row.fork,
        "language": row.language,
        "size_kb": row.size_kb,
    }


@router.get("/repositories", summary="List tracked repositories")
def list_repositories(
    _caller: Annotated[Caller, Depends(require(Scope.READ))],
    api: Annotated[ApiContext, Depends(api_context)],
    page: Annotated[Paging, Depends(paging)],
    *,
    state: Annotated[RepoState | None, Query(description="only this state")] = None,
    sync_status: Annotated[SyncStatus | None, Query(description="only this status")] = None,
    q: Annotated[
        str | None, Query(max_length=200, description="a part of owner/name (any case)")
    ] = None,
    sort: Annotated[
        str,
        Query(
            pattern=f"^-?({'|'.join(repositories.ORDERS)})$",
            description="name (the default), state, sync_status or last_synced_at; "
            "a leading - reverses it (never-synced repositories come last either way)",
        ),
    ] = "name",
) -> dict[str, Any]:
    with api.database.reading() as session:
        rows, total = repositories.page_of(
            session,
            state=state,
            sync_status=sync_status,
            name_part=q,
            sort=sort,
            offset=page.offset,
            limit=page.per_page,
        )
        return page.answer(views_of(session, rows), total)


@router.get(
    "/repositories/{github_id}",
    summary="One repository, with its last attempts",
    responses=NOT_FOUND,
)
def get_repository(
    _caller: Annotated[Caller, Depends(require(Scope.READ))],
    api: Annotated[ApiContext, Depends(api_context)],
    github_id: GitHubId,
) -> dict[str, Any]:
    """The repository as the list shows it, and its last attempts, newest first."""
    with api.database.session() as session:
        return repository_detail(session, tracked(session, github_id))


def repository_detail(session: Session, row: Repository) -> dict[str, Any]:
    """The repository as the list shows it, and its last attempts, newest first."""
    recent, _total = attempts.page_of(session, github_id=row.github_id, limit=RECENT_ATTEMPTS)
    views = [attempts.attempt_view(attempt, name) for attempt, name in recent]
    return {**viewed(session, row), "attempts": views}


def views_of(session: Session, rows: Sequence[Repository]) -> list[dict[str, Any]]:
    """Repositories as the list shows them; their rewrites counted in one query."""
    found = rewrites.counts(session, [row.github_id for row in rows]) if rows else {}
    return [repository_view(row, rewrites=found.get(row.github_id, 0)) for row in rows]


def viewed(session: Session, row: Repository) -> dict[str, Any]:
    """One repository as the list shows it."""
    return views_of(session, [row])[0]
