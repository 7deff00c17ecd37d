"""``epicstar keys create|list|revoke``: the API's keys, straight in the database (no server
needed; it is how the first key is made)."""

from __future__ import annotations

import json
import sys
from datetime import timedelta

from rich.console import Console
from rich.table import Table

from epicstar.auth.store import KeyNotFound, create_key, key_view, list_keys, revoke_key
from epicstar.cli.formatting import when
from epicstar.config import Settings
from epicstar.state.audit import CLI
from epicstar.state.database import Database, open_database
from epicstar.state.models import utcnow


class KeyCommandError(Exception):
    """A key command could not do what was asked; the message says why."""


def _database(settings: Settings) -> Database:
    return open_database(settings)


def run_create(
    settings: Settings,
    *,
    name: str,
    scopes: list[str],
    expires_in: timedelta | None,
    as_json: bool,
) -> None:
    database = _database(settings)
    try:
        with database.session() as session:
            try:
                row, new = create_key(
                    session, name=name, scopes=scopes, expires_in=expires_in, actor=CLI
                )
            except ValueError as error:
                raise KeyCommandError(str(error)) from None
            key_id, expires_at = row.id, row.expires_at
    finally:
        database.dispose()
    if as_json:
        document = {
            "id": key_id,
            "name": row.name,
            "prefix": new.prefix,
            "key": new.full,
            "scopes": row.scopes,
            "expires_at": expires_at.isoformat() if expires_at else None,
        }
        print(json.dumps(document, indent=2))
        return
    until = f"expires {when(expires_at)}" if expires_at else "never expires"
    print(f"Created API key {key_id} '{row.name}' ({', '.join(row.scopes)}; {until}).")
    print("Keep it now: it is shown only this once. Send it as `Authorization: Bearer <key>`.")
    print(new.full)


def run_list(settings: Settings, *, as_json: bool) -> None:
    database = _database(settings)
    now = utcnow()
    try:
        with database.session() as session:
            rows = list_keys(session)
            views = [key_view(row, now) for row in rows]
    finally:
        database.dispose()
    if as_json:
        print(json.dumps(views, indent=2))
        return
    console = Console() if sys.stdout.isatty() else Console(width=200)
    if not views:
        console.print("No API keys yet: `epicstar keys create --name NAME --scope read`.")
        return
    table = Table()
    columns = ("id", "name", "prefix", "scopes", "status", "expires", "last used", "uses")
    for column in columns:
        table.add_column(column, no_wrap=column != "name")
    for row, view in zip(rows, views, strict=True):
        table.add_row(
            str(view["id"]),
            view["name"],
            f"esk_{view['prefix']}_…",
            ",".join(view["scopes"]),
            view["status"],
            when(row.expires_at) if row.expires_at else "never",
            f"{when(row.last_used_at)} {row.last_used_ip or ''}".strip(),
            str(view["usage_count"]),
        )
    console.print(table)


def run_revoke(settings: Settings, id_or_prefix: str) -> None:
    database = _database(settings)
    try:
        with database.session() as session:
            try:
                row, revoked_now = revoke_key(session, id_or_prefix, actor=CLI)
            except KeyNotFound as error:
                raise KeyCommandError(str(error)) from None
            described = f"API key {row.id} '{row.name}' (esk_{row.prefix}_…)"
    finally:
        database.dispose()
    if revoked_now:
        print(f"Revoked {described}; it is refused from the next request on.")
    else:
        print(f"{described} was already revoked.")
