"""``/activity``: every repository's mirror attempts, newest first, filtered by outcome and by
how recent they are, a page at a time, all in the URL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from epicstar.state.models import AttemptOutcome
from epicstar.web.api.attempts import list_attempts
from epicstar.web.api.context import ApiContext, api_context
from epicstar.web.api.paging import Paging
from epicstar.web.authentication import Visitor
from epicstar.web.dashboard.access import viewer
from epicstar.web.dashboard.listing import chosen, page_count, page_number
from epicstar.web.dashboard.live import Seen
from epicstar.web.dashboard.rendering import page

router = APIRouter(include_in_schema=False)

PER_PAGE = 50
SINCE: dict[str, tuple[str, timedelta]] = {
    "hour": ("last hour", timedelta(hours=1)),
    "day": ("last 24 hours", timedelta(days=1)),
    "week": ("last 7 days", timedelta(days=7)),
    "month": ("last 30 days", timedelta(days=30)),
}


@router.get("/activity")
def activity_page(
    request: Request,
    visitor: Annotated[Visitor, Depends(viewer())],
    api: Annotated[ApiContext, Depends(api_context)],
    fingerprint: Seen,
    *,
    outcome: str | None = None,
    since: str | None = None,
) -> Response:
    wanted_outcome = chosen(outcome, [value.value for value in AttemptOutcome])
    wanted_since = chosen(since, list(SINCE))
    listed = list_attempts(
        visitor.caller,
        api,
        Paging(page_number(request.query_params.get("page")), PER_PAGE),
        outcome=AttemptOutcome(wanted_outcome) if wanted_outcome else None,
        since=datetime.now(UTC) - SINCE[wanted_since][1] if wanted_since else None,
    )
    return page(
        request,
        "activity.html",
        visitor,
        fingerprint=fingerprint,
        listed=listed,
        pages=page_count(listed),
        outcome=wanted_outcome,
        outcomes=list(AttemptOutcome),
        since=wanted_since,
        since_choices=[(value, label) for value, (label, _length) in SINCE.items()],
    )
