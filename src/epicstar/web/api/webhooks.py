"""``/api/v1/webhooks/deliveries``: the GitHub deliveries received, and replaying one."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Request

from epicstar.auth.scopes import Scope
from epicstar.state import webhook_deliveries
from epicstar.state.models import utcnow
from epicstar.state.retention import kept_since
from epicstar.web.api.context import ApiContext, api_context
from epicstar.web.api.paging import Paging, paging
from epicstar.web.authentication import Caller, require
from epicstar.web.webhooks import WebhookReceiver

router = APIRouter(tags=["webhooks"])

DeliveryId = Annotated[
    str,
    Path(
        min_length=1,
        max_length=100,
        pattern=r"^[\x21-\x7e]+$",
        description="the delivery's X-GitHub-Delivery",
    ),
]


def webhook_receiver(request: Request) -> WebhookReceiver:
    receiver: WebhookReceiver = request.app.state.webhooks
    return receiver


@router.get("/webhooks/deliveries", summary="List webhook deliveries, newest first")
def list_deliveries(
    _caller: Annotated[Caller, Depends(require(Scope.READ))],
    api: Annotated[ApiContext, Depends(api_context)],
    receiver: Annotated[WebhookReceiver, Depends(webhook_receiver)],
    page: Annotated[Paging, Depends(paging)],
) -> dict[str, Any]:
    """Each delivery's event, action, arrival and outcome (never its body); ``replayable``
    while its body is kept (``EPICSTAR_WEBHOOK_RETENTION_DAYS``)."""
    since = kept_since(utcnow(), receiver.retention)
    with api.database.session() as session:
        rows, total = webhook_deliveries.page_of(session, offset=page.offset, limit=page.per_page)
    return page.answer([webhook_deliveries.delivery_view(row, since) for row in rows], total)


@router.post(
    "/webhooks/deliveries/{delivery_id}/replay",
    status_code=202,
    summary="Process a kept webhook delivery again",
    responses={404: {"description": "unknown delivery, or its body is no longer kept"}},
)
def replay_delivery(
    caller: Annotated[Caller, Depends(require(Scope.WRITE))],
    receiver: Annotated[WebhookReceiver, Depends(webhook_receiver)],
    delivery_id: DeliveryId,
) -> dict[str, Any]:
    """The stored body goes through what a delivery goes through on arrival (decoded,
    interpreted, recorded, handed to the workers), without the signature check (done on
    arrival) and without the duplicate check. The delivery's outcome becomes the new one;
    the replay is audited as ``webhook.replayed``."""
    replayed = receiver.replay(delivery_id, caller.actor)
    if replayed is None:
        days = receiver.retention.days
        raise HTTPException(
            404,
            f"no delivery '{delivery_id}' is kept for replay "
            f"(unknown, or received more than {days} days ago)",
        )
    result = replayed.result
    return {
        "delivery_id": replayed.delivery_id,
        "event": replayed.event,
        "action": replayed.action,
        "status": result.body.get("status", "rejected"),
        "outcome": result.outcome,
    }
