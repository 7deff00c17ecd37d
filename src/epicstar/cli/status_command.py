"""``epicstar status`` and ``epicstar db upgrade``."""

from __future__ import annotations

import json

from rich.console import Console
from rich.table import Table

from epicstar.cli.formatting import when
from epicstar.config import Settings
from epicstar.state import repositories
from epicstar.state.database import current_revision, describe_url
from epicstar.sync.context import open_database


def run_status(settings: Settings, *, as_json: bool, states: list[str]) -> None:
    database = open_database(settings)
    try:
        with database.session() as session:
            rows = repositories.listing(session, states)
            records = [row.as_status() for row in rows]
            table_rows = [
                (
                    row.full_name,
                    row.onedev_path or "-",
                    row.state,
                    row.sync_status,
                    when(row.last_synced_at),
                    row.error or "",
                )
                for row in rows
            ]
    finally:
        database.dispose()
    if as_json:
        print(json.dumps(records, indent=2))
        return
    console = Console()
    if not table_rows:
        console.print("No repositories tracked yet: `epicstar add OWNER/NAME`.")
        return
    table = Table(show_lines=False)
    for column in ("repository", "OneDev path", "state", "sync", "last synced", "error"):
        table.add_column(column, overflow="fold")
    for values in table_rows:
        table.add_row(*values)
    console.print(table)


def run_db_upgrade(settings: Settings) -> None:
    database = open_database(settings)
    try:
        revision = current_revision(database.engine)
    finally:
        database.dispose()
    print(f"Database {describe_url(database.url)} is at revision {revision}.")
