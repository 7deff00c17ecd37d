"""Shared fixtures: a database on each backend, queues of their own, isolated git configuration.

Tests run in parallel (pytest-xdist) and beside other test runs on the same machine, so nothing
here is shared: each PostgreSQL user gets a schema of its own, each Redis queue a database of
its own for as long as the test runs."""

from __future__ import annotations

import os
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import NoReturn

import pytest
import redis

from epicstar.state.database import Database

POSTGRES_ADMIN_URL = os.environ.get(
    "EPICSTAR_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
REDIS_SERVER_URL = "redis://127.0.0.1:6379"
# epicstar's queue has one fixed name, so a test running it on Redis needs a database of its
# own: it leases one of these (database 0 is left to queues that are given unique names).
REDIS_QUEUE_DATABASES = range(1, 16)
REDIS_LEASE_SECONDS = 900  # outlives any test (timeout 300 s); a crashed run's lease lapses
REDIS_LEASE_WAIT = 300.0
MAX_WORKERS = 8


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """``-n auto`` (the default, in pyproject.toml): two workers per core, as a test spends about
    half its time waiting on servers and child processes; at most 8, well within PostgreSQL's
    connections and the Redis databases set aside for queues."""
    return min(2 * (os.cpu_count() or 1), MAX_WORKERS)


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


@pytest.fixture(scope="session")
def git_lfs() -> None:
    """The real git-lfs client, for tests that check the sandbox against it."""
    found = subprocess.run(["git", "lfs", "version"], capture_output=True, check=False)
    if found.returncode != 0:
        unavailable("git-lfs is not installed (apt-get install git-lfs)")


def unavailable(message: str) -> NoReturn:
    """Skip a test whose server or tool is missing here; fail it under CI, which must run it."""
    if os.environ.get("CI"):
        pytest.fail(f"{message} (CI must run this variant)")
    pytest.skip(f"{message}; this variant is skipped")


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
        unavailable(f"PostgreSQL at {POSTGRES_ADMIN_URL} is not reachable: {error.orig}")
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


@pytest.fixture
def postgres_queue_url() -> Iterator[str]:
    """A PostgreSQL URL for a queue of the test's own: its tables in a new schema."""
    yield from postgres_schema_url()


@pytest.fixture
def redis_queue_url() -> Iterator[str]:
    """A Redis database that no other test uses meanwhile, in this run or another one."""
    admin = redis.Redis.from_url(f"{REDIS_SERVER_URL}/0", socket_timeout=5)
    token = uuid.uuid4().hex
    deadline = time.monotonic() + REDIS_LEASE_WAIT
    try:
        while (leased := _lease_redis_database(admin, token)) is None:
            assert time.monotonic() < deadline, "no Redis database came free for the queue"
            time.sleep(0.1)
    except redis.RedisError as error:
        admin.close()
        unavailable(f"Redis at {REDIS_SERVER_URL} is not reachable: {error}")
    try:
        yield f"{REDIS_SERVER_URL}/{leased}"
    finally:
        if admin.get(_lease_key(leased)) == token.encode():
            admin.delete(_lease_key(leased))
        admin.close()


def _lease_redis_database(admin: redis.Redis, token: str) -> int | None:
    for number in REDIS_QUEUE_DATABASES:
        if admin.set(_lease_key(number), token, nx=True, ex=REDIS_LEASE_SECONDS):
            return number
    return None


def _lease_key(number: int) -> str:
    return f"epicstar-tests:queue-database:{number}"
