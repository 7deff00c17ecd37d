"""``/deliveries``: the GitHub webhook deliveries received, newest first, with a Replay button
for those whose body is still kept (the action itself is in :mod:`.actions`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from epicstar.web.api.context import ApiContext, api_context
from epicstar.web.api.paging import Paging
from epicstar.web.api.webhooks import list_deliveries, webhook_receiver
from epicstar.web.authentication import Visitor
from epicstar.web.dashboard.access import viewer
from epicstar.web.dashboard.listing import page_count, page_number
from epicstar.web.dashboard.live import Seen
from epicstar.web.dashboard.rendering import page
from epicstar.web.webhooks import WebhookReceiver

router = APIRouter(include_in_schema=False)

PER_PAGE = 50


@router.get("/deliveries")
def deliveries_page(
    request: Request,
    visitor: Annotated[Visitor, Depends(viewer())],
    api: Annotated[ApiContext, Depends(api_context)],
    receiver: Annotated[WebhookReceiver, Depends(webhook_receiver)],
    fingerprint: Seen,
) -> Response:
    listed = list_deliveries(
        visitor.caller,
        api,
        receiver,
        Paging(page_number(request.query_params.get("page")), PER_PAGE),
    )
    return page(
        request,
        "deliveries.html",
        visitor,
        fingerprint=fingerprint,
        listed=listed,
        pages=page_count(listed),
        retention_days=receiver.retention.days,
    )
