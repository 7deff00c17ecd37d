"""Which Huey storage ``EPICSTAR_QUEUE_URL`` names.

Unset: SQLite in the data directory (one machine, no other service). ``redis://`` or
``rediss://``: Redis. ``postgresql://``: PostgreSQL (Huey's SQL storage, through peewee and
psycopg 3). ``sqlite:///path``: SQLite at that path. Workers on several machines need Redis or
PostgreSQL.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from huey import Huey, RedisHuey, SqliteHuey
from huey.contrib.sql_huey import SqlHuey, SqlStorage
from huey.storage import RedisStorage

from epicstar.config import ConfigError, Settings

QUEUE_NAME = "epicstar"


def make_huey(settings: Settings, *, immediate: bool = False) -> Huey:
    url = settings.queue_url
    options = {"results": False, "immediate": immediate, "utc": True}
    if not url:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        return SqliteHuey(QUEUE_NAME, filename=str(settings.data_dir / "queue.db"), **options)
    parts = urlsplit(url)
    scheme = parts.scheme.split("+", 1)[0]
    if scheme in ("redis", "rediss"):
        return RedisHuey(QUEUE_NAME, url=url, **options)
    if scheme in ("postgresql", "postgres"):
        plain = urlunsplit(parts._replace(scheme="postgresql"))
        return SqlHuey(QUEUE_NAME, database=plain, **options)
    if scheme == "sqlite" and parts.path:
        path = Path(parts.path[1:])  # sqlite:///relative, sqlite:////absolute
        path.parent.mkdir(parents=True, exist_ok=True)
        return SqliteHuey(QUEUE_NAME, filename=str(path), **options)
    raise ConfigError(
        "EPICSTAR_QUEUE_URL: expected redis://…, postgresql://… or sqlite:///path "
        f"(got a '{parts.scheme or 'plain'}' URL)"
    )


def close_huey(huey: Huey) -> None:
    """Close the storage's connections (Huey itself never does)."""
    storage = huey.storage
    if isinstance(storage, SqlStorage):
        storage.database.close()
    elif isinstance(storage, RedisStorage):
        storage.conn.connection_pool.disconnect()
