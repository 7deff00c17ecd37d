"""``epicstar db backup`` and ``db restore``: a consistent copy of the SQLite database, taken
while the service runs, and that copy put back; PostgreSQL has its own tools, which are named.

SQLite's online backup copies the database page by page under its own locks, so the copy is
one consistent state even while a pass writes (WAL mode: readers and the one writer go on).
A restore keeps the database it replaces beside it, so nothing is lost by restoring the wrong
file, and brings an older copy's schema up to date.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.engine import make_url

from epicstar.state.database import SETTING, DatabaseError, describe_url, newest_revision

PG_DUMP = "pg_dump --format=custom --file {path} '{url}'"
PG_RESTORE = "pg_restore --clean --if-exists --no-owner --dbname '{url}' {path}"


class BackupError(DatabaseError):
    """A backup or restore that cannot be done as asked; nothing was changed."""


@dataclass(frozen=True)
class Copied:
    path: Path
    revision: str | None
    repositories: int
    size: int
    kept: Path | None = None
    """On a restore: where the database that was replaced now is."""


def sqlite_file(url: str) -> Path:
    """The SQLite file ``url`` names; PostgreSQL gets its own tools' commands instead."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        shown = describe_url(url).replace("postgresql+psycopg://", "postgresql://")
        raise BackupError(
            f"{SETTING} is a PostgreSQL database: back it up with "
            f"`{PG_DUMP.format(path='PATH', url=shown)}` and restore it with "
            f"`{PG_RESTORE.format(path='PATH', url=shown)}` (docs/deploy.md)"
        )
    if not parsed.database or parsed.database == ":memory:":
        raise BackupError(f"{SETTING} names an in-memory database: there is nothing to copy")
    return Path(parsed.database)


def backup(url: str, target: Path) -> Copied:
    """Copy the database ``url`` names to ``target``, a new file."""
    source = sqlite_file(url)
    if not source.is_file():
        raise BackupError(f"{SETTING}: {source} does not exist yet: there is nothing to copy")
    if target.exists():
        raise BackupError(f"{target} exists: name a new file, the backup never overwrites one")
    _copy(source, target)
    return _described(target)


def restore(url: str, backup_path: Path) -> Copied:
    """Put the copy at ``backup_path`` in place of the database ``url`` names, keeping the
    replaced one beside it; the caller brings the schema up to date."""
    live = sqlite_file(url)
    if not backup_path.is_file():
        raise BackupError(f"{backup_path}: no such file")
    found = _described(backup_path)
    newest = newest_revision()
    if found.revision is None:
        raise BackupError(f"{backup_path} is not an epicstar database (no schema revision)")
    if found.revision > newest:
        raise BackupError(
            f"{backup_path} was made by a newer epicstar (schema {found.revision}, this one "
            f"knows up to {newest}): upgrade epicstar first"
        )
    kept = None
    if live.exists():
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        kept = live.with_name(f"{live.name}.before-restore-{stamp}")
        _copy(live, kept)
    live.parent.mkdir(parents=True, exist_ok=True)
    with (
        contextlib.closing(_connect(backup_path, read_only=True)) as copy,
        contextlib.closing(_connect(live)) as database,
    ):
        copy.backup(database)
    return Copied(live, found.revision, found.repositories, live.stat().st_size, kept)


def _copy(source: Path, target: Path) -> None:
    """A consistent copy of ``source`` at ``target``, appearing there only once complete."""
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, partial = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    os.close(handle)
    try:
        # Not read-only: a read-only connection cannot open a WAL database whose -shm file
        # is gone (the service stopped); this one writes nothing to it.
        with (
            contextlib.closing(_connect(source)) as database,
            contextlib.closing(sqlite3.connect(partial)) as copy,
        ):
            database.backup(copy)
            copy.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
        os.replace(partial, target)
    except BaseException:
        Path(partial).unlink(missing_ok=True)
        raise


def _described(path: Path) -> Copied:
    try:
        with contextlib.closing(_connect(path, read_only=True)) as database:
            if database.execute("PRAGMA quick_check").fetchone() != ("ok",):
                raise BackupError(f"{path} is damaged (SQLite's quick_check failed)")
            tables = {row[0] for row in database.execute("SELECT name FROM sqlite_master")}
            revision = None
            if "alembic_version" in tables:
                row = database.execute("SELECT version_num FROM alembic_version").fetchone()
                revision = str(row[0]) if row else None
            repositories = 0
            if "repositories" in tables:
                repositories = database.execute("SELECT count(*) FROM repositories").fetchone()[0]
    except sqlite3.DatabaseError as error:
        raise BackupError(f"{path} is not an SQLite database: {error}") from None
    return Copied(path, revision, int(repositories), path.stat().st_size)


def _connect(path: Path, *, read_only: bool = False) -> sqlite3.Connection:
    if read_only:
        return sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=30)
    return sqlite3.connect(path, timeout=30)
