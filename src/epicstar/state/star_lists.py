"""The starred lists' rows as the API sees them: when a list was polled, and asking for a poll."""

from __future__ import annotations

import functools
import importlib
from datetime import datetime
from typing import cast

from sqlalchemy import Executable, Table, bindparam, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from epicstar.state.models import StarListState

_TABLE: Table = StarListState.__table__  # type: ignore[assignment]


@functools.cache
def _create_once(dialect_name: str) -> Executable | None:
    """``INSERT … ON CONFLICT DO NOTHING RETURNING key`` in the dialect in use (only its own
    module is loaded); None for a backend without it."""
    if dialect_name not in ("postgresql", "sqlite"):
        return None
    dialect = importlib.import_module(f"sqlalchemy.dialects.{dialect_name}")
    insert = dialect.insert(_TABLE).values(key=bindparam("b_key"), stars=0)
    statement = insert.on_conflict_do_nothing(index_elements=["key"]).returning(_TABLE.c.key)
    return cast(Executable, statement)


def locked(session: Session, list_key: str) -> tuple[StarListState, bool]:
    """The list's row, locked until commit, and whether this call created it.

    The row is created with ``ON CONFLICT DO NOTHING`` first, so two first polls (or a
    poll and an unstar's webhook) never both insert it: the second waits for the first.
    """
    statement = _create_once(session.get_bind().dialect.name)
    if statement is not None:
        created = session.execute(statement, {"b_key": list_key}).first() is not None
    else:  # any other backend: a savepoint around a plain insert
        try:
            with session.begin_nested():
                session.add(StarListState(key=list_key, stars=0))
            created = True
        except IntegrityError:
            created = False
    row = session.get(StarListState, list_key, with_for_update=True, populate_existing=True)
    assert row is not None  # it exists now, and rows are never deleted
    return row, created


def last_poll(session: Session, list_key: str) -> datetime | None:
    """When the starred list ``list_key`` was last polled; None if never."""
    return session.scalar(select(StarListState.last_poll_at).where(StarListState.key == list_key))


def make_poll_due(session: Session, list_key: str, *, full: bool) -> None:
    """The next tick polls the list (walking all of it if ``full``)."""
    star_list = session.get(StarListState, list_key, with_for_update=True)
    if star_list is None:
        return  # never polled: the next tick polls it, all of it
    star_list.last_poll_at = None
    if full:
        star_list.last_full_walk_at = None
