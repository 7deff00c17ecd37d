"""Each delivery is recorded once, together with what it changed, in one transaction.

The transaction starts by inserting the delivery's row with ``ON CONFLICT DO NOTHING``:
when the id is already there (GitHub redelivers with the same ``X-GitHub-Delivery``), the
delivery is a duplicate and nothing else happens. Inserting first also makes the transaction
a writer from its first statement, so SQLite serialises concurrent deliveries instead of
failing them, and PostgreSQL makes a concurrent insert of the same id wait, then skip.

The row keeps the raw body and its media type, so the delivery can be replayed
(:func:`record_again`): its transaction starts by marking the kept row, which likewise makes
it a writer at once and makes a concurrent replay (or pruning) of the same row wait.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeAlias

from sqlalchemy import Executable, Table, bindparam, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from epicstar.state.database import Database
from epicstar.state.models import WebhookDelivery
from epicstar.web.effects import Result

__all__ = ["DUPLICATE", "Delivery", "claim", "record", "record_again"]

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
_REOPEN = (
    update(_TABLE)
    .where(
        _TABLE.c.delivery_id == bindparam("b_delivery_id"),
        _TABLE.c.body.is_not(None),
        _TABLE.c.received_at >= bindparam("b_kept_since"),
    )
    .values(outcome=RECEIVED)
    .returning(_TABLE.c.delivery_id)
)

Work: TypeAlias = Result | Callable[[Session], Result]
"""What a delivery does: a function of the delivery's transaction, or the result itself when
nothing in the database decides it."""


@dataclass(frozen=True)
class Delivery:
    delivery_id: str
    event: str
    action: str | None
    received_at: datetime
    body: bytes | None = None
    content_type: str | None = None  # the media type, all that decoding the body needs


def claim(session: Session, delivery: Delivery, outcome: str = RECEIVED) -> bool:
    """Insert the delivery's row; False when it was already there (a duplicate)."""
    values: dict[str, Any] = {
        "delivery_id": delivery.delivery_id,
        "event": delivery.event,
        "action": delivery.action,
        "received_at": delivery.received_at,
        "outcome": outcome[:_OUTCOME_LENGTH],
        "body": delivery.body,
        "content_type": delivery.content_type,
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


def record(database: Database, delivery: Delivery, work: Work) -> Result:
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


def _record_once(database: Database, delivery: Delivery, work: Work) -> Result:
    with database.session() as session:
        if isinstance(work, Result):
            return work if claim(session, delivery, work.outcome) else DUPLICATE
        if not claim(session, delivery):
            return DUPLICATE
        result = work(session)
        _set_outcome(session, delivery.delivery_id, result)
        return result


def record_again(
    database: Database,
    delivery_id: str,
    *,
    kept_since: datetime,
    work: Work,
    also: Callable[[Session, Result], None],
) -> Result | None:
    """Do a kept delivery's ``work`` once more and store its new outcome, then ``also`` (the
    audit entry), in one transaction; no duplicate check stops it.

    None when the delivery is unknown, or was received before ``kept_since`` or its body is
    gone: then nothing is done.
    """
    with database.session() as session:
        reopened = session.execute(
            _REOPEN, {"b_delivery_id": delivery_id, "b_kept_since": kept_since}
        ).first()
        if reopened is None:
            return None
        result = work if isinstance(work, Result) else work(session)
        _set_outcome(session, delivery_id, result)
        also(session, result)
        return result


def _set_outcome(session: Session, delivery_id: str, result: Result) -> None:
    session.execute(
        _SET_OUTCOME,
        {"b_delivery_id": delivery_id, "b_outcome": result.outcome[:_OUTCOME_LENGTH]},
    )
