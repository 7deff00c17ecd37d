"""A sandboxed GitHub and OneDev plus an epicstar data dir, for end-to-end tests."""

from __future__ import annotations

import contextlib
import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from epicstar.auth.store import create_key
from epicstar.config import Settings, load_settings
from epicstar.sandbox import Role, Sandbox
from epicstar.state.audit import CLI
from epicstar.state.database import Database, open_database
from epicstar.state.models import Repository, SyncAttempt
from epicstar.sync.context import open_context
from epicstar.sync.poll import PollReport, poll_stars
from epicstar.sync.runner import RunSummary, run_sync
from epicstar.sync.tracking import Added, add_repository

ONE_DATABASE = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
"""For behaviour that lives in HTTP, git or OneDev, not in the database (retries, refs,
placement, settings checked before the database is opened): a PostgreSQL run of it would test
nothing more, so it runs on SQLite only."""


@dataclass
class World:
    sandbox: Sandbox
    data_dir: Path
    database_url: str
    github_token: str
    onedev_token: str
    limited_onedev_token: str
    overrides: dict[str, str]

    @property
    def github(self) -> Any:
        return self.sandbox.github

    @property
    def onedev(self) -> Any:
        return self.sandbox.onedev

    def env(self) -> dict[str, str]:
        values = {
            "EPICSTAR_DATA_DIR": str(self.data_dir),
            "EPICSTAR_DATABASE_URL": self.database_url,
            "EPICSTAR_GITHUB_API_URL": self.sandbox.github_api_url,
            "EPICSTAR_GITHUB_TOKEN": self.github_token,
            "EPICSTAR_ONEDEV_URL": self.sandbox.onedev_url,
            "EPICSTAR_ONEDEV_TOKEN": self.onedev_token,
        }
        values.update(self.overrides)
        return values

    def settings(self) -> Settings:
        saved = dict(os.environ)
        try:
            os.environ.update(self.env())
            return load_settings()
        finally:
            os.environ.clear()
            os.environ.update(saved)

    def add(self, full_name: str) -> Added:
        settings = self.settings()
        with open_context(settings) as ctx:
            return add_repository(ctx.db, ctx.github, full_name)

    def sync(self, **options: Any) -> RunSummary:
        with open_context(self.settings()) as ctx:
            return run_sync(ctx, **options)

    def poll(self, **options: Any) -> PollReport:
        with open_context(self.settings()) as ctx:
            return poll_stars(ctx, **options)

    @property
    def login(self) -> str:
        return str(self.github.tokens[self.github_token].login)

    def star(self, *full_names: str) -> None:
        self.github.star_many(self.login, full_names)

    def db(self) -> Database:
        return open_database(self.settings())

    def row(self, github_id: int) -> Repository:
        database = self.db()
        try:
            with database.session() as session:
                row = session.get(Repository, github_id)
                assert row is not None
                return row
        finally:
            database.dispose()

    def attempts(self, github_id: int) -> list[SyncAttempt]:
        database = self.db()
        try:
            with database.session() as session:
                row = session.get(Repository, github_id)
                assert row is not None
                return sorted(row.attempts, key=lambda attempt: attempt.id)
        finally:
            database.dispose()

    def key(self, name: str, *scopes: str) -> str:
        """A new API key, made in the database as ``epicstar keys create`` makes it (without
        the start of a process: tests that only need a key do not test the command)."""
        database = self.db()
        try:
            with database.session() as session:
                _row, new = create_key(
                    session, name=name, scopes=scopes, expires_in=None, actor=CLI
                )
        finally:
            database.dispose()
        return new.full

    def cli(
        self, *args: str, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        full_env = {**os.environ, **self.env(), **(env or {})}
        return subprocess.run(
            [sys.executable, "-m", "epicstar", *args],
            env=full_env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )


@contextlib.contextmanager
def sandbox_world(folder: Path, database_url: str) -> Iterator[World]:
    """A sandboxed GitHub and OneDev in ``folder``, with tokens, and a data dir beside them."""
    github_token = f"ghp_{secrets.token_hex(16)}"
    onedev_token = f"od_{secrets.token_hex(16)}"
    limited_token = f"od_limited_{secrets.token_hex(8)}"
    with Sandbox(
        folder / "sandbox",
        github_tokens=[github_token],
        onedev_tokens={onedev_token: Role.ADMIN, limited_token: Role.NO_CREATE},
    ) as sandbox:
        yield World(
            sandbox=sandbox,
            data_dir=folder / "data",
            database_url=database_url,
            github_token=github_token,
            onedev_token=onedev_token,
            limited_onedev_token=limited_token,
            overrides={},
        )


@pytest.fixture
def world(tmp_path: Path, database_url: str) -> Iterator[World]:
    with sandbox_world(tmp_path, database_url) as world:
        yield world
