"""The agent's own records, in a SQLite file in its data directory, with the server's schema.

Its ``repositories`` table holds the stars as the agent read them (``state`` as the starred
list says: active, excluded, unstarred, source_gone, blocked) and what is owed to the server:
``sync_status`` is ``pending`` while a registration or an unstar report is still to be
delivered, ``completed`` once delivered, ``failed`` (with ``error``) when the last delivery
failed; ``last_synced_at`` says the server has heard of the repository from this agent.
``sync_method`` stays ``server``: in the agent's own table its own poller governs every star
(the server's answer is asked again each run, never kept). ``star_lists`` keeps the ETags that
make an unchanged starred list cost nothing.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from epicstar.agent.config import AgentSettings
from epicstar.config import ConfigError
from epicstar.state.database import Database
from epicstar.state.models import Origin, Repository, RepoState, SyncStatus


@dataclass(frozen=True)
class Star:
    """What the agent knows of one starred repository, read out of the session."""

    github_id: int
    full_name: str
    clone_url: str
    size_kb: int
    registration: dict[str, object]
    delivered_before: bool = False
    """The server has heard of it from this agent (a dry run may ask it for its refs)."""


def open_state(settings: AgentSettings) -> Database:
    database = Database(settings.state_database_url)
    database.upgrade()
    return database


@contextmanager
def single_run(settings: AgentSettings) -> Iterator[None]:
    """Only one agent sync at a time per data directory (cron may start the next one early)."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(settings.data_dir / "agent.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ConfigError(
                "another `epicstar agent sync` is running with "
                f"EPICSTAR_DATA_DIR={settings.data_dir}"
            ) from None
        yield
    finally:
        os.close(fd)


def registration(row: Repository, *, starred: bool = True) -> dict[str, object]:
    """The body of ``PUT /api/v1/agent/repositories/{id}`` for a row: metadata, no secret."""
    return {
        "full_name": row.full_name,
        "description": row.description,
        "default_branch": row.default_branch,
        "private": row.private,
        "archived": row.archived,
        "fork": row.fork,
        "size_kb": row.size_kb,
        "language": row.language,
        "html_url": row.html_url,
        "starred_at": row.starred_at.isoformat() if row.starred_at else None,
        "starred": starred,
    }


def starred(session: Session) -> list[Star]:
    """The stars to register and deliver: active ones, newest star first."""
    rows = session.scalars(
        select(Repository)
        .where(Repository.origin == Origin.STAR, Repository.state == RepoState.ACTIVE)
        .order_by(Repository.starred_at.desc(), Repository.github_id)
    )
    return [
        Star(
            row.github_id,
            row.full_name,
            row.clone_url or "",
            row.size_kb,
            registration(row),
            row.last_synced_at is not None,
        )
        for row in rows
    ]


def unstars_owed(session: Session) -> list[Star]:
    """Unstars the server has not been told of yet."""
    rows = session.scalars(
        select(Repository).where(
            Repository.state == RepoState.UNSTARRED,
            Repository.sync_status != SyncStatus.COMPLETED,
        )
    )
    return [
        Star(
            row.github_id,
            row.full_name,
            row.clone_url or "",
            row.size_kb,
            registration(row, starred=False),
        )
        for row in rows
    ]


def record(
    database: Database,
    github_id: int,
    *,
    now: datetime,
    error: str | None = None,
    refs: dict[str, str] | None = None,
) -> None:
    """Note how delivering one repository (or its unstar) went."""
    with database.session() as session:
        row = session.get(Repository, github_id)
        if row is None:
            return
        row.last_attempt_at = now
        if error is not None:
            row.sync_status, row.error = SyncStatus.FAILED, error
            return
        row.sync_status, row.error = SyncStatus.COMPLETED, None
        row.last_synced_at = now
        if refs is not None:
            row.mirrored_refs = refs
