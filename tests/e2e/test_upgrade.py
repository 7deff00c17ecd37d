"""A database of the first released schema, holding what real syncs recorded, upgraded to the
newest schema: every row and every value it held is still there, and epicstar goes on with it.

The rows come from syncs through the sandbox (stars, a repository added by hand, a source that
went away, their attempts), made on the newest schema and copied column by column into a
database built by migration 0001, since today's code cannot write the old schema itself.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import Engine, MetaData, Table, select

from epicstar.state.database import Database, current_revision, newest_revision
from epicstar.state.migrating import alembic_config
from tests.conftest import postgres_schema_url
from tests.e2e.conftest import World

Rows = dict[str, list[dict[str, Any]]]

pytestmark = pytest.mark.filterwarnings(
    # SQLite's reflection cannot read the index on lower(full_name); no column depends on it.
    "ignore:Skipped unsupported reflection of expression-based"
)


@contextmanager
def first_schema_database(world: World, folder: Path) -> Iterator[Database]:
    """An empty database of the first released schema (revision 0001), beside the world's."""
    urls = (
        iter([f"sqlite:///{folder / 'first-schema.db'}"])
        if world.database_url.startswith("sqlite")
        else postgres_schema_url()
    )
    database = Database(next(urls))
    command.upgrade(alembic_config(database.engine), "0001")
    try:
        yield database
    finally:
        database.dispose()
        for _ in urls:  # drops the PostgreSQL schema
            pass


def reflected(engine: Engine) -> dict[str, Table]:
    metadata = MetaData()
    metadata.reflect(engine)
    return {name: table for name, table in metadata.tables.items() if name != "alembic_version"}


def read(engine: Engine, tables: dict[str, Table], columns: dict[str, list[str]]) -> Rows:
    """Every row of ``tables``, only ``columns`` of each, in primary-key order."""
    rows: Rows = {}
    with engine.connect() as connection:
        for name, names in columns.items():
            table = tables[name]
            keys = [column for column in table.primary_key.columns]
            statement = select(*(table.c[column] for column in names)).order_by(*keys)
            rows[name] = [dict(row._mapping) for row in connection.execute(statement)]
    return rows


def fill_through_the_sandbox(world: World) -> None:
    for name in ("alpha", "beta", "gone"):
        world.github.create_repo("octo", name, description=f"the {name} repository")
    world.github.create_repo("other", "by-hand", private=True)
    world.star("octo/alpha", "octo/beta", "octo/gone")
    assert world.cli("add", "other/by-hand").returncode == 0
    assert world.sync(poll=True).ok
    world.github.commit("octo/alpha", "main", {"new.txt": "new\n"}, "a new commit")
    world.github.delete("octo/gone")
    second = world.sync(poll=True, full_walk=True)
    assert second.poll is not None
    assert [change.kind for change in second.poll.changes] == ["gone"]


def test_a_first_schema_database_upgraded_to_the_newest_keeps_every_row(
    world: World, tmp_path: Path
) -> None:
    fill_through_the_sandbox(world)
    newest = Database(world.database_url)
    with first_schema_database(world, tmp_path) as old:
        old_tables = reflected(old.engine)
        assert set(old_tables) == {"repositories", "sync_attempts"}
        columns = {name: [c.name for c in table.columns] for name, table in old_tables.items()}
        held = read(newest.engine, reflected(newest.engine), columns)
        newest.dispose()
        with old.engine.begin() as connection:
            for name in ("repositories", "sync_attempts"):  # the attempts refer to their rows
                connection.execute(old_tables[name].insert(), held[name])
            if old.engine.dialect.name == "postgresql":  # as the old epicstar's inserts left it
                connection.exec_driver_sql(
                    "SELECT setval(pg_get_serial_sequence('sync_attempts', 'id'), "
                    "(SELECT max(id) FROM sync_attempts))"
                )
        assert len(held["repositories"]) == 4
        assert len(held["sync_attempts"]) == 7  # 4 passes, then 3 (the gone one has none)

        old.upgrade()

        assert current_revision(old.engine) == newest_revision()
        assert read(old.engine, reflected(old.engine), columns) == held

        upgraded = dataclasses.replace(
            world, database_url=str(old.engine.url.render_as_string(hide_password=False))
        )
        world.github.commit("octo/beta", "main", {"later.txt": "later\n"}, "after the upgrade")
        after = upgraded.sync(poll=True)
        assert after.ok
        outcomes = {report.full_name: report.outcome for report in after.reports}
        assert outcomes == {
            "octo/alpha": "unchanged",
            "octo/beta": "mirrored",
            "other/by-hand": "unchanged",
        }
