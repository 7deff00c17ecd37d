"""``/audit`` (admin only): who changed what, newest first, filtered by action."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from epicstar.auth.scopes import Scope
from epicstar.state.audit import ACTIONS
from epicstar.web.api.audit import audit_log
from epicstar.web.api.context import ApiContext, api_context
from epicstar.web.api.paging import Paging
from epicstar.web.authentication import Visitor
from epicstar.web.dashboard.access import viewer
from epicstar.web.dashboard.listing import chosen, page_count, page_number
from epicstar.web.dashboard.live import Seen
from epicstar.web.dashboard.rendering import page

router = APIRouter(include_in_schema=False)

PER_PAGE = 50


@router.get("/audit")
def audit_page(
    request: Request,
    visitor: Annotated[Visitor, Depends(viewer(Scope.ADMIN))],
    api: Annotated[ApiContext, Depends(api_context)],
    fingerprint: Seen,
    *,
    action: str | None = None,
) -> Response:
    wanted = chosen(action, list(ACTIONS))
    listed = audit_log(
        visitor.caller,
        api,
        Paging(page_number(request.query_params.get("page")), PER_PAGE),
        action=wanted,
    )
    return page(
        request,
        "audit.html",
        visitor,
        fingerprint=fingerprint,
        listed=listed,
        pages=page_count(listed),
        action=wanted,
        actions=ACTIONS,
    )
