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
from typing import Any

from sqlalchemy import Executable, Table, bindparam, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from epicstar.state.database import Database
from epicstar.state.models import WebhookDelivery
from epicstar.web.effects import Result

__all__ = ["DUPLICATE", "Delivery", "claim", "record"]

DUPLICATE = Result(200, {"status": "duplicate"}, "duplicate")
RECEIVED = "received"  # the outcome until the work is done, in the same transaction
_ATTEMPTS = 3  # a concurrent delivery may insert the same new row first: try again
_OUTCOME_LENGTH = 200

_TABLE: Table = WebhookDelivery.__table__  # type: ignore[assignment]
# Built once: statements are the per-delivery cost that matters.
_INSERT_ONCE: dict[str, Executable] = {
    name: dialect.insert(_TABLE)
    .on_conflict_do_nothing(index_elements=["delivery_id"])
    .returning(_TABLE.c.delivery_id)
    for name, dialect in (("postgresql", postgresql), ("sqlite", sqlite))
}
_SET_OUTCOME = (
    update(_TABLE)
    .where(_TABLE.c.delivery_id == bindparam("b_delivery_id"))
    .values(outcome=bindparam("b_outcome"))
)


@dataclass(frozen=True)
class Delivery:
    delivery_id: str
    event: str
    action: str | None
    received_at: datetime


def claim(session: Session, delivery: Delivery, outcome: str = RECEIVED) -> bool:
    """Insert the delivery's row; False when it was already there (a duplicate)."""
    values: dict[str, Any] = {
        "delivery_id": delivery.delivery_id,
        "event": delivery.event,
        "action": delivery.action,
        "received_at": delivery.received_at,
        "outcome": outcome[:_OUTCOME_LENGTH],
    }
    statement = _INSERT_ONCE.get(session.get_bind().dialect.name)
    if statement is not None:
        return session.execute(statement, values).first() is not None
    try:  # any other backend: a savepoint around a plain insert
        with session.begin_nested():
            session.add(WebhookDelivery(**values))
    except IntegrityError:
        return False
    return True


def record(
    database: Database, delivery: Delivery, work: Result | Callable[[Session], Result]
) -> Result:
    """Claim the delivery, do ``work`` and store its outcome, all in one transaction.

    ``work`` is a function of the session, or the result itself when nothing in the
    database decides it (then the delivery's row is all that is written). A duplicate
    returns :data:`DUPLICATE` without doing the work. Database errors propagate (nothing
    was recorded, so a redelivery will be processed).
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
    database: Database, delivery: Delivery, work: Result | Callable[[Session], Result]
) -> Result:
    with database.session() as session:
        if isinstance(work, Result):
            return work if claim(session, delivery, work.outcome) else DUPLICATE
        if not claim(session, delivery):
            return DUPLICATE
        result = work(session)
        session.execute(
            _SET_OUTCOME,
            {
                "b_delivery_id": delivery.delivery_id,
                "b_outcome": result.outcome[:_OUTCOME_LENGTH],
            },
        )
        return result
