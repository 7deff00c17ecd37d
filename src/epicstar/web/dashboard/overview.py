"""``/``: everything at a glance: counts, star polls, GitHub's budget, what needs attention
and the latest attempts."""

from __future__ import annotations

from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from epicstar.state import summary
from epicstar.state.models import RepoState, SyncStatus
from epicstar.web.api.attempts import list_attempts
from epicstar.web.api.context import ApiContext, api_context
from epicstar.web.api.paging import Paging
from epicstar.web.api.repositories import views_of
from epicstar.web.api.summary import get_summary
from epicstar.web.authentication import Visitor
from epicstar.web.dashboard.access import viewer
from epicstar.web.dashboard.live import Seen
from epicstar.web.dashboard.rendering import page

router = APIRouter(include_in_schema=False)

ATTENTION_ROWS = 20
LATEST_ATTEMPTS = 10


@router.get("/")
async def overview(
    request: Request,
    visitor: Annotated[Visitor, Depends(viewer())],
    api: Annotated[ApiContext, Depends(api_context)],
    fingerprint: Seen,
) -> Response:
    counts = await get_summary(visitor.caller, api)
    attention, attention_total, latest = await run_in_threadpool(
        partial(_from_database, api, visitor)
    )
    return page(
        request,
        "overview.html",
        visitor,
        fingerprint=fingerprint,
        summary=counts,
        states=list(RepoState),
        statuses=list(SyncStatus),
        attention=attention,
        attention_total=attention_total,
        latest=latest,
    )


def _from_database(
    api: ApiContext, visitor: Visitor
) -> tuple[list[dict[str, Any]], int, list[dict[str, Any]]]:
    with api.database.reading() as session:
        rows, total = summary.needing_attention(session, limit=ATTENTION_ROWS)
        attention = views_of(session, rows)
    latest = list_attempts(visitor.caller, api, Paging(1, LATEST_ATTEMPTS))["items"]
    return attention, total, latest
