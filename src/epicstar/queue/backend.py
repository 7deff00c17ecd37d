"""Which Huey storage ``EPICSTAR_QUEUE_URL`` names.

Unset: SQLite in the data directory (one machine, no other service). ``redis://`` or
``rediss://``: Redis. ``postgresql://``: PostgreSQL (Huey's SQL storage, through peewee and
psycopg 3). ``sqlite:///path``: SQLite at that path. Workers on several machines need Redis or
PostgreSQL.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import peewee
from huey import Huey, RedisHuey, SqliteHuey
from huey.contrib.sql_huey import SqlHuey, SqlStorage
from huey.storage import RedisStorage
from redis import RedisError

from epicstar.config import ConfigError, Settings

QUEUE_NAME = "epicstar"
SETTING = "EPICSTAR_QUEUE_URL"
_UNREACHABLE = (OSError, RedisError, peewee.PeeweeException, sqlite3.Error)


def open_queue(settings: Settings) -> Huey:
    """The queue, reached once to be sure it answers; a ConfigError naming the setting if not."""
    huey: Huey | None = None
    try:
        huey = make_huey(settings)
        huey.pending_count()
    except _UNREACHABLE as error:
        if huey is not None:
            close_huey(huey)
        reason = (str(error).strip().splitlines() or ["no answer"])[0]
        raise ConfigError(
            f"{SETTING}: cannot reach the queue {_describe(settings)}: {reason}"
        ) from None
    return huey


def _describe(settings: Settings) -> str:
    """The queue's URL without its password, or the default queue's file."""
    if not settings.queue_url:
        return str(settings.data_dir / "queue.db")
    parts = urlsplit(settings.queue_url)
    if parts.password is None:
        return settings.queue_url
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{parts.username or ''}:***@{host}"))


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
        f"{SETTING}: expected redis://…, postgresql://… or sqlite:///path "
        f"(got a '{parts.scheme or 'plain'}' URL)"
    )


def close_huey(huey: Huey) -> None:
    """Close the storage's connections (Huey itself never does)."""
    storage = huey.storage
    if isinstance(storage, SqlStorage):
        storage.database.close()
    elif isinstance(storage, RedisStorage):
        storage.conn.connection_pool.disconnect()
