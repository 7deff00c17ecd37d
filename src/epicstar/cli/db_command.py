"""``epicstar db backup`` and ``db restore``."""

from __future__ import annotations

from pathlib import Path

from epicstar.config import Settings
from epicstar.state.database import current_revision, open_database


def run_db_backup(settings: Settings, path: Path) -> None:
    from epicstar.state.backup import backup

    open_database(settings).dispose()  # a database that is not current is brought up first
    copied = backup(settings.effective_database_url, path)
    print(
        f"Backed up {copied.repositories} repositories (schema {copied.revision}, "
        f"{copied.size:,} bytes) to {copied.path}."
    )


def run_db_restore(settings: Settings, path: Path) -> None:
    from epicstar.state.backup import restore

    restored = restore(settings.effective_database_url, path)
    database = open_database(settings)  # an older copy's schema brought up to date
    try:
        revision = current_revision(database.engine)
    finally:
        database.dispose()
    kept = f"; the database it replaced is kept as {restored.kept}" if restored.kept else ""
    print(
        f"Restored {restored.repositories} repositories from {path} (schema "
        f"{restored.revision}, now {revision}){kept}."
    )
