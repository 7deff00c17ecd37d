"""The starred lists' rows as the API sees them: when a list was polled, and asking for a poll."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from epicstar.state.models import StarListState


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
