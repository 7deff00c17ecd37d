"""``epicstar method OWNER/NAME agent|server`` (or ``--all``): who fetches a repository from
GitHub, the server's workers or an agent where the token lives. Each switch is audited."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from epicstar.config import Settings
from epicstar.state.audit import CLI, record_change, repository_target
from epicstar.state.database import open_database
from epicstar.state.models import Repository, SyncMethod, utcnow
from epicstar.sync.tracking import parse_full_name, switch_method

METHODS = tuple(method.value for method in SyncMethod)


class MethodCommandError(Exception):
    """The command was given something it cannot act on; the message says what."""


@dataclass(frozen=True)
class Request:
    method: SyncMethod
    names: tuple[str, ...]  # empty: every tracked repository


def parse_request(words: list[str], *, every: bool) -> Request:
    """``[OWNER/NAME ...] agent|server``, or ``--all agent|server``."""
    if not words or words[-1].lower() not in METHODS:
        raise MethodCommandError(
            "name the method last: epicstar method OWNER/NAME agent|server "
            "(or epicstar method --all agent|server)"
        )
    method, names = SyncMethod(words[-1].lower()), tuple(words[:-1])
    if every and names:
        raise MethodCommandError("give either --all or repository names, not both")
    if not every and not names:
        raise MethodCommandError("name a repository (OWNER/NAME), or give --all")
    return Request(method, tuple(parse_full_name(name) for name in names))


def run_method(settings: Settings, request: Request, *, dry_run: bool) -> None:
    database = open_database(settings)
    try:
        with database.session() as session:
            rows = _chosen(session, request.names)
            lines = [_switch(session, row, request.method, dry_run=dry_run) for row in rows]
            if dry_run:
                session.rollback()
    finally:
        database.dispose()
    for line in lines:
        print(line)
    if not lines:
        print("No repositories tracked yet: nothing to switch.")


def _chosen(session: Session, names: tuple[str, ...]) -> list[Repository]:
    if not names:
        statement = select(Repository).order_by(func.lower(Repository.full_name))
        return list(session.scalars(statement.with_for_update()))
    rows: list[Repository] = []
    for name in names:
        found = list(
            session.scalars(
                select(Repository)
                .where(func.lower(Repository.full_name) == name.lower())
                .with_for_update()
            )
        )
        if not found:
            raise MethodCommandError(
                f"{name} is not tracked (see `epicstar status`; `epicstar add {name}` tracks it)"
            )
        rows.extend(row for row in found if row not in rows)
    return rows


def _switch(session: Session, row: Repository, method: SyncMethod, *, dry_run: bool) -> str:
    name = f"{row.full_name} (GitHub id {row.github_id})"
    if row.sync_method == method:
        return f"{name}: already {method}"
    if dry_run:
        return f"{name}: would switch from {row.sync_method} to {method}"
    previous = switch_method(row, method, utcnow())
    record_change(
        session,
        CLI,
        "repository.sync_method_changed",
        repository_target(row.github_id, row.full_name),
        {"old": previous, "new": method.value},
    )
    then = {
        SyncMethod.AGENT: "its agent fetches it from GitHub and pushes it to this server",
        SyncMethod.SERVER: "due now: the server's workers fetch it from GitHub",
    }[method]
    return f"{name}: switched from {previous} to {method}; {then}"
