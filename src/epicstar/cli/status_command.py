"""``epicstar status`` and ``epicstar db upgrade``."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence

from rich.console import Console
from rich.table import Table

from epicstar.cli.formatting import when
from epicstar.config import Settings
from epicstar.state import mirror_parts, repositories, rewrites
from epicstar.state.database import current_revision, describe_url, open_database
from epicstar.state.models import Repository, SyncMethod, SyncStatus


def run_status(settings: Settings, *, as_json: bool, states: list[str]) -> None:
    database = open_database(settings)
    try:
        with database.session() as session:
            rows = repositories.listing(session, states)
            rewritten = rewrites.counts(session)
            if as_json:
                views = [
                    {**row.as_status(), "rewrites": rewritten.get(row.github_id, 0)} for row in rows
                ]
                print(json.dumps(views, indent=2))
                return
            print_table(rows, rewritten)
    finally:
        database.dispose()


def print_table(rows: Sequence[Repository], rewritten: dict[int, int] | None = None) -> None:
    console = Console() if sys.stdout.isatty() else Console(width=200)
    if not rows:
        console.print("No repositories tracked yet: `epicstar add OWNER/NAME`.")
        return
    table = Table()
    for column in ("repository", "OneDev path", "state", "sync", "last synced", "rewrites"):
        table.add_column(column, no_wrap=True)
    table.add_column("error or warning", overflow="fold", ratio=1)
    for row in rows:
        table.add_row(
            row.full_name,
            row.onedev_path or "-",
            row.state,
            sync_column(row),
            when(row.last_synced_at),
            str((rewritten or {}).get(row.github_id, "-")),
            row.error or mirror_parts.warning(row) or "",
        )
    console.print(table)


def sync_column(row: Repository) -> str:
    """The sync status, and for an agent's repository that it is the agent's (and, before its
    first push, that the agent is waited for)."""
    if row.sync_method != SyncMethod.AGENT:
        return row.sync_status
    if row.sync_status == SyncStatus.PENDING and row.mirrored_refs is None:
        return "pending: waits for the agent's first push"
    return f"{row.sync_status} (agent)"


def run_db_upgrade(settings: Settings) -> None:
    database = open_database(settings)
    try:
        revision = current_revision(database.engine)
    finally:
        database.dispose()
    print(f"Database {describe_url(database.url)} is at revision {revision}.")
