"""How long recorded webhook deliveries, and the bodies kept to replay them, are kept.

A delivery's body is kept for ``EPICSTAR_WEBHOOK_RETENTION_DAYS`` (replay needs it), and its
row at least :data:`REDELIVERY_WINDOW`: GitHub redelivers for 3 days (GitHub Enterprise
Server: 7), and a redelivery must still be recognised as a duplicate however short the
retention. A row outlives its body only to answer redeliveries; a longer retention keeps
both for as long.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, update
from sqlalchemy.orm import Session

from epicstar.state.models import WebhookDelivery

REDELIVERY_WINDOW = timedelta(days=8)


@dataclass(frozen=True)
class Pruned:
    bodies: int  # bodies cleared, their rows kept
    rows: int  # rows removed


def body_retention(days: int) -> timedelta:
    return timedelta(days=days)


def kept_since(now: datetime, retention: timedelta) -> datetime:
    """Deliveries received from this time on can be replayed (if their body is there)."""
    return now - retention


def prune_webhook_deliveries(session: Session, now: datetime, retention: timedelta) -> Pruned:
    """Clear bodies older than ``retention``; forget rows too old to be redelivered as well."""
    rows = session.execute(
        delete(WebhookDelivery)
        .where(WebhookDelivery.received_at < now - max(retention, REDELIVERY_WINDOW))
        .execution_options(synchronize_session=False)
    )
    bodies = session.execute(
        update(WebhookDelivery)
        .where(
            WebhookDelivery.received_at < kept_since(now, retention),
            WebhookDelivery.body.is_not(None),
        )
        .values(body=None, content_type=None)
        .execution_options(synchronize_session=False)
    )
    return Pruned(_count(bodies), _count(rows))


def _count(result: object) -> int:
    return int(getattr(result, "rowcount", 0) or 0)
