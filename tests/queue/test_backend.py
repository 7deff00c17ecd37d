"""EPICSTAR_QUEUE_URL chooses Huey's storage; a bad URL names the variable."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from huey import RedisHuey, SqliteHuey
from huey.contrib.sql_huey import SqlStorage

from epicstar.config import ConfigError, load_settings
from epicstar.queue.backend import close_huey, make_huey


def settings_for(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, url: str | None):
    monkeypatch.setenv("EPICSTAR_DATA_DIR", str(tmp_path))
    if url is not None:
        monkeypatch.setenv("EPICSTAR_QUEUE_URL", url)
    return load_settings()


def test_default_is_sqlite_in_the_data_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    huey = make_huey(settings_for(monkeypatch, tmp_path, None))
    assert isinstance(huey, SqliteHuey)
    assert (tmp_path / "queue.db").exists()


def test_sqlite_url(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    huey = make_huey(settings_for(monkeypatch, tmp_path, f"sqlite:///{tmp_path}/q/jobs.db"))
    assert isinstance(huey, SqliteHuey)
    assert (tmp_path / "q" / "jobs.db").exists()


def _reachable(check) -> None:
    try:
        check()
    except Exception as error:
        if os.environ.get("CI"):
            pytest.fail(f"the queue server must be reachable in CI: {error}")
        pytest.skip(f"queue server not reachable here: {error}")


def test_redis_url(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, redis_queue_url: str):
    huey = make_huey(settings_for(monkeypatch, tmp_path, redis_queue_url))
    assert isinstance(huey, RedisHuey)
    _reachable(huey.storage.conn.ping)
    huey.flush()
    assert huey.pending_count() == 0
    close_huey(huey)


def test_postgresql_url(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, postgres_queue_url: str):
    assert postgres_queue_url.startswith("postgresql+psycopg://")
    huey = make_huey(settings_for(monkeypatch, tmp_path, postgres_queue_url))
    assert isinstance(huey.storage, SqlStorage)
    _reachable(huey.pending_count)
    close_huey(huey)


def test_unknown_scheme_names_the_variable(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    with pytest.raises(ConfigError, match="EPICSTAR_QUEUE_URL"):
        make_huey(settings_for(monkeypatch, tmp_path, "amqp://guest@127.0.0.1/"))
