"""Shared fixtures: a database on each backend, isolated git configuration."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from epicstar.state.database import Database

POSTGRES_ADMIN_URL = os.environ.get(
    "EPICSTAR_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def isolate_git(monkeypatch: pytest.MonkeyPatch, home: Path) -> None:
    """Never read the developer's git configuration or EPICSTAR_ settings; never prompt."""
    config = home / ".gitconfig"
    config.write_text("[user]\n\tname = epicstar tests\n\temail = tests@epicstar.invalid\n")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(config))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GIT_TERMINAL_PROMPT", "0")
    for name in list(os.environ):
        if name.startswith("EPICSTAR_"):
            monkeypatch.delenv(name)


@pytest.fixture(autouse=True)
def _isolated_git(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    isolate_git(monkeypatch, tmp_path_factory.mktemp("home"))


def postgres_schema_url() -> Iterator[str]:
    """A fresh schema in the test PostgreSQL, dropped afterwards (fails under CI without it)."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.exc import OperationalError

    admin = create_engine(POSTGRES_ADMIN_URL)
    schema = f"t_{uuid.uuid4().hex[:12]}"
    try:
        with admin.begin() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    except OperationalError as error:
        admin.dispose()
        message = f"PostgreSQL at {POSTGRES_ADMIN_URL} is not reachable: {error.orig}"
        if os.environ.get("CI"):
            pytest.fail(f"{message} (CI must run the PostgreSQL variant)")
        pytest.skip(f"{message}; the PostgreSQL variant of this test is skipped")
    try:
        yield f"{POSTGRES_ADMIN_URL}?options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Every test using this runs once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'epicstar.db'}"
    else:
        yield from postgres_schema_url()


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    """A migrated database on each backend."""
    database = Database(database_url)
    database.upgrade()
    yield database
    database.dispose()
