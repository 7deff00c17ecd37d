"""``/api/v1/attempts`` and ``/api/v1/repositories/{github_id}/attempts``: the history of
mirror passes, newest first."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query
from pydantic import AfterValidator

from epicstar.auth.scopes import Scope
from epicstar.state import attempts
from epicstar.state.models import AttemptOutcome, Repository
from epicstar.web.api.context import ApiContext, api_context
from epicstar.web.api.paging import Paging, paging
from epicstar.web.api.params import GitHubId
from epicstar.web.authentication import Caller, require

router = APIRouter(tags=["attempts"])


def in_utc(moment: datetime) -> datetime:
    """``moment`` in UTC; one without a time zone is taken to be in UTC already."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except OverflowError:  # 9999-12-31T23:00-05:00 is in the year 10000
        raise ValueError("the time lies outside the years 1 to 9999 in UTC") from None


Since = Annotated[
    datetime | None,
    AfterValidator(lambda moment: in_utc(moment) if moment is not None else None),
    Query(
        description="only attempts started at or after this ISO 8601 date or time "
        "(UTC unless it names a time zone)",
        examples=["2024-06-01T12:00:00Z"],
    ),
]
Outcome = Annotated[AttemptOutcome | None, Query(description="only attempts that ended so")]


@router.get("/attempts", summary="List mirror attempts of every repository")
def list_attempts(
    _caller: Annotated[Caller, Depends(require(Scope.READ))],
    api: Annotated[ApiContext, Depends(api_context)],
    page: Annotated[Paging, Depends(paging)],
    outcome: Outcome = None,
    since: Since = None,
) -> dict[str, Any]:
    """Attempts newest first, each naming its repository (`github_id`, `full_name`). An
    attempt still running has no `finished_at`, `duration_seconds` or `outcome` yet."""
    with api.database.session() as session:
        rows, total = attempts.page_of(
            session, outcome=outcome, since=since, offset=page.offset, limit=page.per_page
        )
        return page.answer([attempts.attempt_view(*row) for row in rows], total)


@router.get(
    "/repositories/{github_id}/attempts",
    summary="List one repository's mirror attempts",
    responses={404: {"description": "no such repository is tracked"}},
)
def list_repository_attempts(
    _caller: Annotated[Caller, Depends(require(Scope.READ))],
    api: Annotated[ApiContext, Depends(api_context)],
    github_id: GitHubId,
    page: Annotated[Paging, Depends(paging)],
    outcome: Outcome = None,
    since: Since = None,
) -> dict[str, Any]:
    """The repository's attempts newest first, as `GET /attempts` shows them."""
    with api.database.session() as session:
        if session.get(Repository, github_id) is None:
            raise HTTPException(404, f"no repository with GitHub id {github_id} is tracked")
        rows, total = attempts.page_of(
            session,
            github_id=github_id,
            outcome=outcome,
            since=since,
            offset=page.offset,
            limit=page.per_page,
        )
        return page.answer([attempts.attempt_view(*row) for row in rows], total)
