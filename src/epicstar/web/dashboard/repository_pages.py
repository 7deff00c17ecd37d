"""``/repositories`` (search, filters, sorting, pages, all in the URL) and
``/repositories/{github_id}`` (one repository, what GitHub overwrote in it, and its attempt
history)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request
from starlette.responses import Response

from epicstar.state import repositories
from epicstar.state.models import AttemptOutcome, RepoState, SyncStatus
from epicstar.web.api.attempts import list_repository_attempts
from epicstar.web.api.context import ApiContext, api_context
from epicstar.web.api.paging import Paging
from epicstar.web.api.repositories import get_repository, list_repositories
from epicstar.web.api.rewrites import list_repository_rewrites
from epicstar.web.authentication import Visitor
from epicstar.web.dashboard.access import Refusal, viewer
from epicstar.web.dashboard.listing import chosen, github_id_of, page_count, page_number
from epicstar.web.dashboard.live import Seen
from epicstar.web.dashboard.rendering import page

router = APIRouter(include_in_schema=False)

PER_PAGE_CHOICES = (25, 50, 100)
ATTEMPTS_PER_PAGE = 25
REWRITES_SHOWN = 50
"""The newest rewrites a repository's page lists; it counts the rest (the API pages them)."""
MAX_SEARCH = 200


@router.get("/repositories")
def repositories_page(
    request: Request,
    visitor: Annotated[Visitor, Depends(viewer())],
    api: Annotated[ApiContext, Depends(api_context)],
    fingerprint: Seen,
    *,
    q: str | None = None,
    state: str | None = None,
    status: str | None = None,
    sort: str | None = None,
    per_page: str | None = None,
) -> Response:
    params = request.query_params  # "page" is read from here: it would shadow page()
    search = (q or "").replace("\x00", "").strip()[:MAX_SEARCH]
    wanted_state = chosen(state, [value.value for value in RepoState])
    wanted_status = chosen(status, [value.value for value in SyncStatus])
    order = chosen(sort, list(repositories.SORTS)) or "name"
    size = int(per_page) if per_page in {str(n) for n in PER_PAGE_CHOICES} else 50
    paging = Paging(page_number(params.get("page")), size)
    listed = list_repositories(
        visitor.caller,
        api,
        paging,
        state=RepoState(wanted_state) if wanted_state else None,
        sync_status=SyncStatus(wanted_status) if wanted_status else None,
        q=search or None,
        sort=order,
    )
    return page(
        request,
        "repositories.html",
        visitor,
        fingerprint=fingerprint,
        listed=listed,
        pages=page_count(listed),
        search=search,
        state=wanted_state,
        status=wanted_status,
        sort=order,
        per_page=size,
        per_page_choices=PER_PAGE_CHOICES,
        states=list(RepoState),
        statuses=list(SyncStatus),
        onedev_url=api.settings.onedev_url,
    )


@router.get("/repositories/{github_id}")
def repository_page(
    request: Request,
    visitor: Annotated[Visitor, Depends(viewer())],
    api: Annotated[ApiContext, Depends(api_context)],
    fingerprint: Seen,
    github_id: str,
    *,
    outcome: str | None = None,
) -> Response:
    number = github_id_of(github_id)
    wanted_outcome = chosen(outcome, [value.value for value in AttemptOutcome])
    try:
        repository = get_repository(visitor.caller, api, number)
        history = list_repository_attempts(
            visitor.caller,
            api,
            number,
            Paging(page_number(request.query_params.get("page")), ATTEMPTS_PER_PAGE),
            outcome=AttemptOutcome(wanted_outcome) if wanted_outcome else None,
        )
        rewritten = list_repository_rewrites(visitor.caller, api, number, Paging(1, REWRITES_SHOWN))
    except HTTPException as error:
        raise Refusal.of(error) from None
    return page(
        request,
        "repository.html",
        visitor,
        fingerprint=fingerprint,
        repository=repository,
        history=history,
        pages=page_count(history),
        rewrites=rewritten,
        outcome=wanted_outcome,
        outcomes=list(AttemptOutcome),
        onedev_url=api.settings.onedev_url,
    )
