"""``epicstar db backup`` / ``db restore`` on SQLite: consistent copies, nothing ever lost."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from epicstar.state.backup import BackupError, backup, restore
from epicstar.state.database import Database, newest_revision
from epicstar.state.models import Repository


def new_database(path: Path) -> tuple[str, Database]:
    url = f"sqlite:///{path}"
    database = Database(url)
    database.upgrade()
    return url, database


def add_repositories(database: Database, first: int, count: int) -> None:
    with database.session() as session:
        for github_id in range(first, first + count):
            session.add(Repository(github_id=github_id, full_name=f"octo/r{github_id}"))


def count(path: Path) -> int:
    with sqlite3.connect(path) as connection:
        return int(connection.execute("SELECT count(*) FROM repositories").fetchone()[0])


def test_a_backup_taken_while_passes_write_is_one_consistent_state(tmp_path: Path) -> None:
    url, database = new_database(tmp_path / "data" / "epicstar.db")
    add_repositories(database, 1, 100)
    stop = threading.Event()

    def write() -> None:  # a service's passes, writing all along
        github_id = 1000
        while not stop.is_set():
            add_repositories(database, github_id, 5)
            github_id += 5

    writer = threading.Thread(target=write)
    writer.start()
    try:
        copied = backup(url, tmp_path / "backups" / "copy.db")
    finally:
        stop.set()
        writer.join()
    database.dispose()

    assert copied.revision == newest_revision()
    assert copied.repositories >= 100
    assert copied.repositories % 5 == 0, "the copy caught a transaction half-written"
    with sqlite3.connect(copied.path) as connection:
        assert connection.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert connection.execute("PRAGMA journal_mode").fetchone() == ("delete",)
    assert count(copied.path) == copied.repositories
    assert [path.name for path in copied.path.parent.iterdir()] == ["copy.db"]


def test_a_restore_brings_the_copy_back_and_keeps_what_it_replaced(tmp_path: Path) -> None:
    live = tmp_path / "data" / "epicstar.db"
    url, database = new_database(live)
    add_repositories(database, 1, 10)
    copy = backup(url, tmp_path / "copy.db").path
    with database.session() as session:
        session.query(Repository).filter(Repository.github_id <= 4).delete()
    add_repositories(database, 50, 1)
    database.dispose()

    restored = restore(url, copy)

    assert restored.repositories == 10
    assert count(live) == 10
    assert restored.kept is not None
    assert count(restored.kept) == 7  # the replaced database, as it was: 6 kept and 1 added


def test_backups_never_overwrite_and_bad_copies_change_nothing(tmp_path: Path) -> None:
    live = tmp_path / "epicstar.db"
    url, database = new_database(live)
    add_repositories(database, 1, 3)
    database.dispose()
    existing = tmp_path / "existing.db"
    existing.write_text("precious")
    with pytest.raises(BackupError, match="exists: name a new file"):
        backup(url, existing)
    assert existing.read_text() == "precious"

    not_sqlite = tmp_path / "notes.txt"
    not_sqlite.write_text("not a database at all\n" * 100)
    foreign = tmp_path / "foreign.db"
    with sqlite3.connect(foreign) as connection:
        connection.execute("CREATE TABLE t (x)")
    newer = backup(url, tmp_path / "newer.db").path
    with sqlite3.connect(newer) as connection:
        connection.execute("UPDATE alembic_version SET version_num = '9999'")
    cases = {
        tmp_path / "absent.db": "no such file",
        not_sqlite: "is not an SQLite database",
        foreign: "is not an epicstar database",
        newer: "made by a newer epicstar",
    }
    for path, message in cases.items():
        with pytest.raises(BackupError, match=message):
            restore(url, path)
    assert count(live) == 3
    refused = [path.name for path in tmp_path.iterdir() if ".before-restore-" in path.name]
    assert refused == [], "a refused restore set nothing aside: it changed nothing"


def test_postgresql_is_pointed_to_its_own_tools_without_its_password(tmp_path: Path) -> None:
    url = "postgresql://epicstar:pg-secret@db.example:5432/epicstar"
    with pytest.raises(BackupError) as raised:
        backup(url, tmp_path / "copy")
    message = str(raised.value)
    assert "pg_dump --format=custom --file PATH 'postgresql://epicstar:***@db.example" in message
    assert "pg_restore" in message
    assert "pg-secret" not in message
    assert not (tmp_path / "copy").exists()
