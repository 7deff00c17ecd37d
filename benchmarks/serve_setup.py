"""Where a benchmarked ``epicstar serve`` runs: hermetic git, a new database (its rows and a
key written straight into it), the sandbox's GitHub and OneDev stand-ins, and the
``EPICSTAR_*`` settings that point serve at them."""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.orm import Session

from benchmarks.gitplain import hermetic_git
from epicstar.auth.store import create_key
from epicstar.sandbox import Role, Sandbox
from epicstar.state.audit import CLI
from epicstar.state.database import Database


@contextlib.contextmanager
def database(admin_url: str | None, data_dir: Path) -> Iterator[tuple[str, str]]:
    """(EPICSTAR_DATABASE_URL, backend): SQLite in the data dir, or a new PostgreSQL
    database on the given server, dropped afterwards."""
    if admin_url is None:
        yield f"sqlite:///{data_dir / 'epicstar.db'}", "sqlite"
        return
    import psycopg
    from psycopg import sql
    from sqlalchemy.engine import make_url

    admin = make_url(admin_url).set(drivername="postgresql")
    conninfo = admin.render_as_string(hide_password=False)
    name = f"epicstar_bench_{secrets.token_hex(6)}"
    with psycopg.connect(conninfo, autocommit=True) as connection:
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield admin.set(database=name).render_as_string(hide_password=False), "postgresql"
    finally:
        with psycopg.connect(conninfo, autocommit=True) as connection:
            connection.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


@dataclass(frozen=True)
class ServeSetup:
    sandbox: Sandbox
    github_token: str  # the sandbox's GitHub user's, which serve uses
    database_url: str
    backend: str  # "sqlite" or "postgresql"
    env: dict[str, str]  # for serve: its data dir, database, GitHub and OneDev


@contextlib.contextmanager
def serve_setup(scratch: Path, admin_url: str | None) -> Iterator[ServeSetup]:
    """All of it in ``scratch``; the database on ``admin_url``'s server (see :func:`database`)."""
    github_token, onedev_token = f"ghp_{secrets.token_hex(16)}", f"od_{secrets.token_hex(16)}"
    data_dir = scratch / "data"
    with contextlib.ExitStack() as stack:
        stack.enter_context(hermetic_git(scratch / "home"))
        database_url, backend = stack.enter_context(database(admin_url, data_dir))
        sandbox = stack.enter_context(
            Sandbox(
                scratch / "sandbox",
                github_tokens=[github_token],
                onedev_tokens={onedev_token: Role.ADMIN},
            )
        )
        env = {
            "EPICSTAR_DATA_DIR": str(data_dir),
            "EPICSTAR_DATABASE_URL": database_url,
            "EPICSTAR_GITHUB_API_URL": sandbox.github_api_url,
            "EPICSTAR_GITHUB_TOKEN": github_token,
            "EPICSTAR_ONEDEV_URL": sandbox.onedev_url,
            "EPICSTAR_ONEDEV_TOKEN": onedev_token,
        }
        yield ServeSetup(sandbox, github_token, database_url, backend, env)


def prepare_database(
    database_url: str, fill: Callable[[Session], None], *, scopes: Sequence[str]
) -> str:
    """The schema, the rows ``fill`` adds (in one transaction) and one key with ``scopes``,
    made as ``epicstar keys create`` makes it: the key. On PostgreSQL the tables are then
    vacuumed and analysed, as autovacuum would have done long before in a database that grew
    to that size, so that neither its statistics nor its visibility map are measured."""
    db = Database(database_url)
    try:
        db.upgrade()
        with db.session() as session:
            fill(session)
        with db.session() as session:
            _row, new = create_key(
                session, name="benchmark", scopes=list(scopes), expires_in=None, actor=CLI
            )
        if db.engine.dialect.name == "postgresql":
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text("VACUUM ANALYZE"))
        return new.full
    finally:
        db.dispose()
