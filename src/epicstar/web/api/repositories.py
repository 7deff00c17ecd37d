"""``/api/v1/repositories``: what is tracked and how its mirrors are."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from epicstar.auth import Scope
from epicstar.state import repositories
from epicstar.state.models import Repository, RepoState, SyncStatus
from epicstar.web.api.context import ApiContext, api_context
from epicstar.web.api.paging import Paging, paging
from epicstar.web.authentication import Caller, require

router = APIRouter(tags=["repositories"])


def repository_view(row: Repository) -> dict[str, Any]:
    """``epicstar status --json``'s fields, and what GitHub says of the repository."""
    return {
        **row.as_status(),
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
    state: Annotated[RepoState | None, Query(description="only this state")] = None,
    sync_status: Annotated[SyncStatus | None, Query(description="only this status")] = None,
    q: Annotated[
        str | None, Query(max_length=200, description="a part of owner/name (any case)")
    ] = None,
) -> dict[str, Any]:
    with api.database.session() as session:
        rows, total = repositories.page_of(
            session,
            state=state,
            sync_status=sync_status,
            name_part=q,
            offset=page.offset,
            limit=page.per_page,
        )
        return page.answer([repository_view(row) for row in rows], total)
