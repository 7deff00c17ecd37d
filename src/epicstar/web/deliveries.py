"""Each delivery is recorded once, together with what it changed, in one transaction.

The transaction starts by inserting the delivery's row with ``ON CONFLICT DO NOTHING``:
when the id is already there (GitHub redelivers with the same ``X-GitHub-Delivery``), the
delivery is a duplicate and nothing else happens. Inserting first also makes the transaction
a writer from its first statement, so SQLite serialises concurrent deliveries instead of
failing them, and PostgreSQL makes a concurrent insert of the same id wait, then skip.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from epicstar.state.database import Database
from epicstar.state.models import WebhookDelivery
from epicstar.web.effects import Result

__all__ = ["DUPLICATE", "Delivery", "claim", "record"]

DUPLICATE = Result(200, {"status": "duplicate"}, "duplicate")
_ATTEMPTS = 3  # a concurrent delivery may insert the same new row first: try again
_OUTCOME_LENGTH = 200


@dataclass(frozen=True)
class Delivery:
    delivery_id: str
    event: str
    action: str | None
    received_at: datetime


def claim(session: Session, delivery: Delivery, outcome: str = "received") -> bool:
    """Insert the delivery's row; False when it was already there (a duplicate)."""
    values = {
        "delivery_id": delivery.delivery_id,
        "event": delivery.event,
        "action": delivery.action,
        "received_at": delivery.received_at,
        "outcome": outcome,
    }
    dialect = session.get_bind().dialect.name
    if dialect in ("postgresql", "sqlite"):
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        statement = (
            insert(WebhookDelivery)
            .values(values)
            .on_conflict_do_nothing(index_elements=["delivery_id"])
            .returning(WebhookDelivery.delivery_id)
        )
        return session.execute(statement).first() is not None
    try:  # any other backend: a savepoint around a plain insert
        with session.begin_nested():
            session.add(WebhookDelivery(**values))
    except IntegrityError:
        return False
    return True


def record(database: Database, delivery: Delivery, work: Callable[[Session], Result]) -> Result:
    """Claim the delivery, do ``work`` and store its outcome, all in one transaction.

    A duplicate returns :data:`DUPLICATE` without calling ``work``. Database errors
    propagate (nothing was recorded, so a redelivery will be processed).
    """
    attempt = 1
    while True:
        try:
            return _record_once(database, delivery, work)
        except IntegrityError:
            if attempt >= _ATTEMPTS:
                raise
            attempt += 1


def _record_once(
    database: Database, delivery: Delivery, work: Callable[[Session], Result]
) -> Result:
    with database.session() as session:
        if not claim(session, delivery):
            return DUPLICATE
        result = work(session)
        session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.delivery_id == delivery.delivery_id)
            .values(outcome=result.outcome[:_OUTCOME_LENGTH])
            .execution_options(synchronize_session=False)
        )
        return result
