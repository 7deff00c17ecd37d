"""Engines, sessions and schema migrations for SQLite (default) and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    Column,
    Engine,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    create_engine,
    event,
    inspect,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

if TYPE_CHECKING:
    from epicstar.config import Settings

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
SETTING = "EPICSTAR_DATABASE_URL"
SUPPORTED = ("sqlite", "postgresql")


class DatabaseError(Exception):
    """The database URL is malformed or the database cannot be reached."""


SQLITE_MMAP_BYTES = 1 << 30


def _enable_sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    # Pages read straight from the OS's file cache, which every connection shares, instead of
    # copied into each connection's own 2 MB cache: a scan of 10,000 repositories (the
    # dashboard's counts) takes half the time. Address space, not memory.
    cursor.execute(f"PRAGMA mmap_size={SQLITE_MMAP_BYTES}")
    cursor.close()


def normalise_url(url: str) -> str:
    """Use psycopg 3 for plain ``postgresql://`` URLs; refuse databases epicstar does not run on."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise DatabaseError(f"{SETTING} is not a valid database URL") from None
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() not in SUPPORTED:
        raise DatabaseError(
            f"{SETTING}: epicstar runs on sqlite:///path or postgresql://… "
            f"(got a '{parsed.get_backend_name()}' URL)"
        )
    return parsed.render_as_string(hide_password=False)


def create_db_engine(url: str, *, connections: int = 5) -> Engine:
    """``connections``: how many threads may hold a session at once (the pool keeps that many,
    and lets 10 more open when they all are busy)."""
    url = normalise_url(url)
    pool = {"pool_size": max(5, connections), "max_overflow": 10}
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:":
            folder = Path(database).parent
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as error:
                reason = error.strerror or str(error)
                raise DatabaseError(f"{SETTING}: cannot create {folder}: {reason}") from None
        in_memory = not database or database == ":memory:"  # one connection per thread
        engine = create_engine(url, connect_args={"timeout": 30}, **({} if in_memory else pool))
        event.listen(engine, "connect", _enable_sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True, **pool)


def describe_url(url: str) -> str:
    """The URL without its password, for messages."""
    return make_url(normalise_url(url)).render_as_string(hide_password=True)


def newest_revision() -> str:
    """The revision of the newest migration: each one's file is named after its revision
    (``0009_commit_feed_and_sync_method.py`` holds revision ``0009``), and each follows the
    one before."""
    names = (path.name for path in (MIGRATIONS_DIR / "versions").glob("[0-9]*_*.py"))
    return max(name.partition("_")[0] for name in names)


def upgrade(engine: Engine) -> None:
    """Bring the schema to the newest migration (a no-op when it already is)."""
    try:
        revision = current_revision(engine)
    except OperationalError as error:
        reason = str(error.orig).strip().splitlines()[0] if error.orig else "unreachable"
        raise DatabaseError(
            f"{SETTING}: cannot open the database {describe_url(str(engine.url))}: {reason}"
        ) from None
    newest = newest_revision()
    if revision == newest:
        return
    if revision is None and not inspect(engine).get_table_names():
        create_newest_schema(engine, newest)
        return
    from epicstar.state.migrating import migrate

    migrate(engine)


def create_newest_schema(engine: Engine, newest: str) -> None:
    """A new, empty database gets the models' tables at once, stamped with the newest
    revision: what the migrations would build one by one (a test compares the two), without
    loading Alembic or replaying the history. Another process that did the same meanwhile
    wins; its schema is used."""
    from epicstar.state.models import Base

    version = Table(
        "alembic_version",
        MetaData(),
        Column("version_num", String(32), nullable=False),
        PrimaryKeyConstraint("version_num", name="alembic_version_pkc"),
    )
    try:
        with engine.begin() as connection:
            Base.metadata.create_all(connection)
            version.create(connection)
            connection.execute(version.insert().values(version_num=newest))
    except DBAPIError:
        if current_revision(engine) != newest:
            raise


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        if not inspect(connection).has_table("alembic_version"):
            return None
        row = connection.exec_driver_sql("SELECT version_num FROM alembic_version").first()
        return str(row[0]) if row else None


class Database:
    """One engine and its session factory."""

    def __init__(self, url: str, *, connections: int = 5) -> None:
        self.url = url
        self.engine = create_db_engine(url, connections=connections)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    def upgrade(self) -> None:
        upgrade(self.engine)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session that commits when the block succeeds and rolls back otherwise."""
        session = self._sessions()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    @contextmanager
    def reading(self) -> Iterator[Session]:
        """A session for reads alone: each statement stands on its own, with no transaction
        to begin, commit or roll back (on PostgreSQL, round trips saved)."""
        with (
            self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection,
            Session(connection, expire_on_commit=False) as session,
        ):
            yield session

    def dispose(self) -> None:
        self.engine.dispose()


def open_database(settings: Settings) -> Database:
    """The database the settings name, created or migrated to the newest schema."""
    Path(settings.data_dir).mkdir(parents=True, exist_ok=True)
    # Each pass running at once may hold two sessions: its own and its lease keeper's.
    busy = max(settings.jobs, settings.workers)
    database = Database(settings.effective_database_url, connections=2 * busy + 1)
    database.upgrade()
    return database
