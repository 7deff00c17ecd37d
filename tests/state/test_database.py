"""The state database on SQLite and PostgreSQL: migrations, leases, timestamps."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.exc import StatementError

from epicstar.state import repositories
from epicstar.state.database import Database, DatabaseError, current_revision, newest_revision
from epicstar.state.migrating import alembic_config, migrate
from epicstar.state.models import Repository, SyncAttempt, SyncStatus
from tests.conftest import postgres_schema_url


@pytest.fixture
def migrated(database_url: str, tmp_path: Path) -> Iterator[Database]:
    """A database built by replaying every migration, beside the test's own (``db``), which
    a new database gets from the models at once."""
    urls = (
        iter([f"sqlite:///{tmp_path / 'migrated.db'}"])
        if database_url.startswith("sqlite")
        else postgres_schema_url()
    )
    database = Database(next(urls))
    migrate(database.engine)
    yield database
    database.dispose()
    for _ in urls:  # drops the PostgreSQL schema
        pass


def schema_of(database: Database) -> dict[str, object]:
    """Every table's columns, keys, constraints and indexes, as the database describes them."""
    inspector = inspect(database.engine)
    described: dict[str, object] = {}
    for table in sorted(inspector.get_table_names()):
        columns = [
            (c["name"], str(c["type"]), c["nullable"], str(c.get("default")))
            for c in inspector.get_columns(table)
        ]
        indexes = sorted(
            (
                str(index["name"]),
                tuple(str(name) for name in index["column_names"]),
                tuple(index.get("expressions") or ()),
                bool(index["unique"]),
            )
            for index in inspector.get_indexes(table)
        )
        described[table] = {
            "columns": sorted(columns),
            "primary key": inspector.get_pk_constraint(table)["constrained_columns"],
            "foreign keys": sorted(
                (str(fk["constrained_columns"]), fk["referred_table"], str(fk["options"]))
                for fk in inspector.get_foreign_keys(table)
            ),
            "unique": sorted(
                str(unique["column_names"]) for unique in inspector.get_unique_constraints(table)
            ),
            "indexes": indexes,
        }
    if database.engine.dialect.name == "sqlite":  # its reflection skips expression indexes
        with database.engine.connect() as connection:
            rows = connection.exec_driver_sql(
                "SELECT name, tbl_name FROM sqlite_master WHERE type = 'index' ORDER BY name"
            )
            described["sqlite indexes"] = [tuple(row) for row in rows]
    return described


def test_upgrade_creates_the_schema_once(db: Database) -> None:
    db.upgrade()  # a second upgrade is a no-op
    assert current_revision(db.engine) == "0011"
    tables = set(inspect(db.engine).get_table_names())
    expected = {
        "repositories",
        "sync_attempts",
        "star_lists",
        "webhook_deliveries",
        "api_keys",
        "audit_log",
    }
    assert expected | {"alembic_version"} <= tables


def upgrade_loads_alembic(url: str) -> bool:
    """Whether opening ``url`` (and upgrading it as needed) in a new process loads Alembic."""
    probe = (
        "import sys; from epicstar.state.database import Database; "
        f"database = Database({url!r}); database.upgrade(); database.dispose(); "
        "print('alembic' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True
    )
    return result.stdout.strip() == "True"


def test_a_current_schema_is_opened_without_loading_alembic(db: Database) -> None:
    assert not upgrade_loads_alembic(db.url)


def test_the_newest_migration_file_names_alembics_head(db: Database) -> None:
    scripts = ScriptDirectory.from_config(alembic_config(db.engine))
    assert scripts.get_heads() == [newest_revision()]
    for script in scripts.walk_revisions():
        assert Path(script.path).name.startswith(f"{script.revision}_")


def test_timestamps_come_back_in_utc(db: Database) -> None:
    moment = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    with db.session() as session:
        session.add(Repository(github_id=1, full_name="a/b", last_synced_at=moment))
    with db.session() as session:
        row = session.get(Repository, 1)
        assert row is not None
        assert row.last_synced_at == moment
        assert row.last_synced_at.tzinfo is not None
    with db.session() as session:
        session.add(Repository(github_id=2, full_name="c/d", last_synced_at=datetime(2026, 1, 1)))
        with pytest.raises(StatementError, match="naive datetime"):
            session.flush()
        session.rollback()


def test_github_ids_beyond_32_bits(db: Database) -> None:
    big = 2**40 + 5
    with db.session() as session:
        session.add(Repository(github_id=big, full_name="big/id"))
        session.add(SyncAttempt(repository_id=big, trigger="test"))
    with db.session() as session:
        row = session.get(Repository, big)
        assert row is not None
        assert len(row.attempts) == 1


def test_lease_is_exclusive_until_it_expires(db: Database) -> None:
    now = datetime.now(UTC)
    with db.session() as session:
        session.add(Repository(github_id=7, full_name="o/r"))
    with db.session() as session:
        assert repositories.take_lease(session, 7, "w1", now=now, duration=timedelta(minutes=5))
    with db.session() as session:
        assert not repositories.take_lease(session, 7, "w2", now=now, duration=timedelta(minutes=5))
        row = session.get(Repository, 7)
        assert row is not None
        assert row.sync_status == SyncStatus.IN_PROGRESS
    later = now + timedelta(minutes=6)
    with db.session() as session:
        assert repositories.take_lease(session, 7, "w2", now=later, duration=timedelta(minutes=5))
    with db.session() as session:
        row = session.get(Repository, 7)
        assert row is not None
        assert row.lease_owner == "w2"


def test_unreachable_database_is_one_clear_error() -> None:
    database = Database("postgresql://nobody@127.0.0.1:1/none")
    with pytest.raises(DatabaseError, match=r"cannot open the database .*127\.0\.0\.1:1"):
        database.upgrade()
    with pytest.raises(DatabaseError, match="not a valid database URL"):
        Database("not a url")


def test_sqlite_runs_in_wal_mode(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path / 'nested' / 'epicstar.db'}")
    database.upgrade()
    with database.engine.connect() as connection:
        mode = connection.exec_driver_sql("PRAGMA journal_mode").scalar()
        foreign_keys = connection.exec_driver_sql("PRAGMA foreign_keys").scalar()
    database.dispose()
    assert (mode, foreign_keys) == ("wal", 1)


def test_upgrading_an_older_schema_keeps_its_rows(database_url: str) -> None:
    database = Database(database_url)
    try:
        command.upgrade(alembic_config(database.engine), "0001")
        with database.engine.begin() as connection:
            connection.exec_driver_sql(
                "INSERT INTO repositories (github_id, full_name, origin, private, archived,"
                " disabled, fork, size_kb, state, sync_status, retry_count, created_at,"
                " updated_at) VALUES (42, 'old/row', 'manual', false, false, false, false, 0,"
                " 'active', 'completed', 0, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
            )
        database.upgrade()
        with database.session() as session:
            row = session.get(Repository, 42)
            assert row is not None
            assert (row.full_name, row.starred_at, row.language) == ("old/row", None, None)
    finally:
        database.dispose()


def test_repositories_added_by_hand_and_lost_before_the_upgrade_become_due(
    database_url: str,
) -> None:
    database = Database(database_url)
    try:
        command.upgrade(alembic_config(database.engine), "0004")
        with database.engine.begin() as connection:
            for github_id, origin, state in [
                (1, "manual", "source_gone"),
                (2, "manual", "blocked"),
                (3, "star", "source_gone"),  # comes back through the starred list
                (4, "manual", "unstarred"),
            ]:
                connection.execute(
                    text(
                        "INSERT INTO repositories (github_id, full_name, origin, private,"
                        " archived, disabled, fork, size_kb, state, sync_status, retry_count,"
                        " created_at, updated_at) VALUES (:id, :name, :origin, false, false,"
                        " false, false, 0, :state, 'completed', 0, CURRENT_TIMESTAMP,"
                        " CURRENT_TIMESTAMP)"
                    ),
                    {"id": github_id, "name": f"o/r{github_id}", "origin": origin, "state": state},
                )
        database.upgrade()
        now = datetime.now(UTC)
        with database.session() as session:
            due = {
                row.github_id: row.next_due_at
                for row in session.query(Repository).order_by(Repository.github_id)
            }
        for lost in (1, 2):
            when = due[lost]
            assert when is not None
            assert when <= now + timedelta(seconds=5)
        assert (due[3], due[4]) == (None, None)
    finally:
        database.dispose()


# SQLite's reflection cannot read an index on an expression (lower(full_name)): PostgreSQL's
# variant of this test compares it.
@pytest.mark.filterwarnings("ignore:Skipped unsupported reflection of expression-based")
@pytest.mark.filterwarnings("ignore:autogenerate skipping metadata-specified expression-based")
def test_the_migrations_build_exactly_the_models_schema(migrated: Database) -> None:
    """A column or index added to a model without a migration (or the reverse) shows here."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from epicstar.state.models import Base

    with migrated.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, Base.metadata)
    assert differences == []


@pytest.mark.filterwarnings("ignore:Skipped unsupported reflection of expression-based")
def test_a_new_database_gets_at_once_the_schema_the_migrations_build(
    db: Database, migrated: Database
) -> None:
    assert current_revision(db.engine) == current_revision(migrated.engine) == newest_revision()
    assert schema_of(db) == schema_of(migrated)


def test_a_new_database_is_created_without_loading_alembic(database_url: str) -> None:
    assert not upgrade_loads_alembic(database_url)
    database = Database(database_url)
    try:
        assert current_revision(database.engine) == newest_revision()
        with database.session() as session:
            session.add(Repository(github_id=7, full_name="a/b"))
        with database.session() as session:
            assert repositories.listing(session)[0].full_name == "a/b"
    finally:
        database.dispose()


def test_the_pool_holds_two_sessions_for_each_pass_at_once(tmp_path: Path) -> None:
    """A pass and its lease keeper each hold a session: with 40 passes at once (``--jobs``
    or ``--workers``) none waits for a connection."""
    from epicstar.config import load_settings
    from epicstar.state.database import open_database

    for busy in ({"jobs": 40, "workers": 2}, {"jobs": 1, "workers": 40}):
        database = open_database(load_settings(data_dir=tmp_path, **busy))
        try:
            assert database.engine.pool.size() == 81  # type: ignore[attr-defined]
        finally:
            database.dispose()
