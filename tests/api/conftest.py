"""One real ``epicstar serve`` per test module and database, against the sandbox, and a
client that calls its API with keys made as a user makes them."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from epicstar.auth.store import create_key
from epicstar.state.audit import CLI
from epicstar.state.database import Database
from epicstar.state.models import Origin, Repository, RepoState, SyncStatus, utcnow
from tests.conftest import isolate_git, postgres_schema_url
from tests.e2e.conftest import World, sandbox_world
from tests.e2e.served import Served

API = "/api/v1"
GENEROUS_RATE = "100000/minute"  # budgets are tested on their own, with a small limit


@contextlib.contextmanager
def _database_url(kind: str, folder: Path) -> Iterator[str]:
    if kind == "sqlite":
        yield f"sqlite:///{folder / 'epicstar.db'}"
    else:
        yield from postgres_schema_url()


@contextlib.contextmanager
def api_world(kind: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """A sandbox world on a ``kind`` database that outlives one test (git isolated as in
    every test)."""
    folder = tmp_path_factory.mktemp("api")
    with pytest.MonkeyPatch.context() as monkeypatch:
        isolate_git(monkeypatch, tmp_path_factory.mktemp("home"))
        with _database_url(kind, folder) as url, sandbox_world(folder, url) as world:
            yield world


class Api:
    """Calls ``served``'s API; makes keys straight in its database, as `epicstar keys` does."""

    def __init__(self, world: World, served: Served) -> None:
        self.world = world
        self.served = served
        self.database = Database(world.database_url)

    def key(self, *scopes: str, name: str = "test key", expires_in: timedelta | None = None) -> str:
        with self.database.session() as session:
            _row, new = create_key(
                session, name=name, scopes=scopes, expires_in=expires_in, actor=CLI
            )
        return new.full

    def request(
        self, method: str, path: str, key: str | None = None, **options: Any
    ) -> httpx.Response:
        headers = dict(options.pop("headers", {}))
        if key is not None:
            headers["Authorization"] = f"Bearer {key}"
        return self.served.client.request(method, API + path, headers=headers, **options)

    def get(self, path: str, key: str | None = None, **options: Any) -> httpx.Response:
        return self.request("GET", path, key, **options)

    def post(self, path: str, key: str | None = None, **options: Any) -> httpx.Response:
        return self.request("POST", path, key, **options)

    def delete(self, path: str, key: str | None = None, **options: Any) -> httpx.Response:
        return self.request("DELETE", path, key, **options)

    def track(self, github_id: int, full_name: str, **fields: Any) -> None:
        """A repository row as the engine leaves it after a pass, not due for years."""
        values: dict[str, Any] = {
            "github_id": github_id,
            "full_name": full_name,
            "origin": Origin.MANUAL,  # the starred list (empty) has no say over it
            "state": RepoState.ACTIVE,
            "sync_status": SyncStatus.COMPLETED,
            "onedev_path": f"github/{full_name}",
            "last_synced_at": utcnow(),
            "next_due_at": utcnow() + timedelta(days=3650),
        }
        values.update(fields)
        with self.database.session() as session:
            session.add(Repository(**values))


@contextlib.contextmanager
def serving(world: World, env: dict[str, str]) -> Iterator[Api]:
    """``epicstar serve`` on ``world`` with ``env``, and a client of its API."""
    served = Served(world, env)
    api = Api(world, served)
    try:
        yield api
    finally:
        served.stop()
        api.database.dispose()


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def api(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    """A served API shared by the tests of one module (each uses its own keys and rows)."""
    with (
        api_world(request.param, tmp_path_factory) as world,
        serving(world, {"EPICSTAR_API_RATE_LIMIT": GENEROUS_RATE}) as client,
    ):
        yield client
