"""Recorded webhook deliveries as the API and the dashboard show them, and the kept body
that a replay reads."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from epicstar.state.models import WebhookDelivery


@dataclass(frozen=True)
class DeliverySummary:
    delivery_id: str
    event: str
    action: str | None
    received_at: datetime
    outcome: str
    body_kept: bool


@dataclass(frozen=True)
class KeptDelivery:
    """What replaying a delivery needs: its event and its body as it arrived (and its
    ``action``, for the audit log)."""

    delivery_id: str
    event: str
    action: str | None
    body: bytes
    content_type: str | None


_SUMMARY = select(
    WebhookDelivery.delivery_id,
    WebhookDelivery.event,
    WebhookDelivery.action,
    WebhookDelivery.received_at,
    WebhookDelivery.outcome,
    WebhookDelivery.body.is_not(None),
)


def page_of(session: Session, *, offset: int, limit: int) -> tuple[list[DeliverySummary], int]:
    """One page of deliveries, newest first (bodies are not read), and how many there are."""
    rows = session.execute(
        _SUMMARY.order_by(WebhookDelivery.received_at.desc(), WebhookDelivery.delivery_id.desc())
        .offset(offset)
        .limit(limit)
    )
    total = session.scalar(select(func.count()).select_from(WebhookDelivery))
    return [DeliverySummary(*row) for row in rows], int(total or 0)


def kept(session: Session, delivery_id: str, kept_since: datetime) -> KeptDelivery | None:
    """The delivery if it was received since ``kept_since`` and its body is still there."""
    row = session.execute(
        select(
            WebhookDelivery.event,
            WebhookDelivery.action,
            WebhookDelivery.body,
            WebhookDelivery.content_type,
        ).where(
            WebhookDelivery.delivery_id == delivery_id,
            WebhookDelivery.body.is_not(None),
            WebhookDelivery.received_at >= kept_since,
        )
    ).first()
    if row is None or row.body is None:
        return None
    return KeptDelivery(delivery_id, row.event, row.action, row.body, row.content_type)


def delivery_view(delivery: DeliverySummary, kept_since: datetime) -> dict[str, Any]:
    """A delivery without its body; ``replayable`` while the body is kept."""
    return {
        "delivery_id": delivery.delivery_id,
        "event": delivery.event,
        "action": delivery.action,
        "received_at": delivery.received_at.isoformat(),
        "outcome": delivery.outcome,
        "replayable": delivery.body_kept and delivery.received_at >= kept_since,
    }
