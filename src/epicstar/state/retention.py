"""How long recorded webhook deliveries are kept."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.orm import Session

from epicstar.state.models import WebhookDelivery

DELIVERY_RETENTION = timedelta(days=8)
"""GitHub redelivers for 3 days (GitHub Enterprise Server: 7); a redelivery within that must
still be recognised as one."""


def prune_webhook_deliveries(session: Session, now: datetime) -> int:
    """Forget deliveries too old to be redelivered; how many were removed."""
    result = session.execute(
        delete(WebhookDelivery)
        .where(WebhookDelivery.received_at < now - DELIVERY_RETENTION)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)
