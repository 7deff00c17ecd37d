"""Webhook bodies are kept for the retention; rows at least as long as GitHub redelivers."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import select

from epicstar.state.database import Database
from epicstar.state.models import WebhookDelivery, utcnow
from epicstar.state.retention import Pruned, body_retention, prune_webhook_deliveries

AGES = {"fresh": 1, "three-days": 3, "nine-days": 9, "forty-days": 40}


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = Database(database_url)
    database.upgrade()
    now = utcnow()
    with database.session() as session:
        for delivery_id, days in AGES.items():
            session.add(
                WebhookDelivery(
                    delivery_id=delivery_id,
                    event="push",
                    received_at=now - timedelta(days=days),
                    outcome="refresh due 1",
                    body=b'{"repository": {"id": 1}}',
                    content_type="application/json",
                )
            )
    yield database
    database.dispose()


def kept(db: Database) -> dict[str, bool]:
    """Each remaining delivery and whether its body is still there."""
    with db.session() as session:
        rows = session.execute(select(WebhookDelivery.delivery_id, WebhookDelivery.body))
        return {delivery_id: body is not None for delivery_id, body in rows}


def prune(db: Database, days: int) -> Pruned:
    with db.session() as session:
        return prune_webhook_deliveries(session, utcnow(), body_retention(days))


def test_the_default_eight_days_forget_older_deliveries_whole(db: Database) -> None:
    assert prune(db, 8) == Pruned(bodies=0, rows=2)
    assert kept(db) == {"fresh": True, "three-days": True}


def test_a_short_retention_clears_bodies_but_keeps_rows_for_redeliveries(db: Database) -> None:
    assert prune(db, 2) == Pruned(bodies=1, rows=2)
    assert kept(db) == {"fresh": True, "three-days": False}
    with db.session() as session:
        row = session.get(WebhookDelivery, "three-days")
        assert row is not None
        assert (row.content_type, row.outcome) == (None, "refresh due 1")
    assert prune(db, 2) == Pruned(bodies=0, rows=0)


def test_a_long_retention_keeps_rows_and_bodies_as_long(db: Database) -> None:
    assert prune(db, 30) == Pruned(bodies=0, rows=1)
    assert kept(db) == {"fresh": True, "three-days": True, "nine-days": True}
