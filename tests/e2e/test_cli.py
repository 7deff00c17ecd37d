"""The ``epicstar`` command as a user runs it."""

from __future__ import annotations

import json
from typing import Any

from tests.e2e.conftest import ONE_DATABASE, World

STATUS_FIELDS = {
    "github_id",
    "full_name",
    "onedev_path",
    "state",
    "sync_status",
    "last_synced_at",
    "error",
}


def test_add_sync_status_round_trip(world: World) -> None:
    repo = world.github.create_repo("octo", "cli")
    assert world.cli("add", "octo/cli").returncode == 0
    again = world.cli("add", "https://github.com/octo/cli.git")
    assert again.returncode == 0
    assert "already tracked" in again.stdout

    pending = json.loads(world.cli("status", "--json").stdout)
    assert [(item["full_name"], item["sync_status"]) for item in pending] == [
        ("octo/cli", "pending")
    ]

    synced = world.cli("sync")
    assert synced.returncode == 0, synced.stdout + synced.stderr
    assert "1 repository: 1 mirrored, 0 up to date" in synced.stdout

    [item] = json.loads(world.cli("status", "--json").stdout)
    assert set(item) >= STATUS_FIELDS
    assert item["github_id"] == repo.id
    assert item["onedev_path"] == "github/octo/cli"
    assert (item["state"], item["sync_status"], item["error"]) == ("active", "completed", None)
    assert item["last_synced_at"] is not None

    table = world.cli("status")
    assert "octo/cli" in table.stdout
    assert "github/octo/cli" in table.stdout
    filtered = json.loads(world.cli("status", "--json", "--state", "source_gone").stdout)
    assert filtered == []


def test_sync_exit_code_is_non_zero_while_anything_is_not_up_to_date(world: World) -> None:
    world.github.create_repo("octo", "ok")
    world.github.create_repo("octo", "blocked-by-project")
    world.onedev.add_project("github/octo/blocked-by-project", with_content=True)
    world.cli("add", "octo/ok")
    world.cli("add", "octo/blocked-by-project")

    result = world.cli("sync")
    assert result.returncode == 1
    assert "1 permanent failure" in result.stdout
    second = world.cli("sync")
    assert second.returncode == 1
    assert "1 in permanent failure not retried" in second.stdout


@ONE_DATABASE  # what it checks lives in the CLI, git or HTTP, not the database
def test_bad_input_is_one_line_without_traceback(world: World) -> None:
    cases = [
        (("add", "not a name"), {}, "expected OWNER/NAME"),
        (("add", "octo/missing"), {}, "not found (404"),
        (("sync",), {"EPICSTAR_ONEDEV_URL": ""}, "EPICSTAR_ONEDEV_URL is not set"),
        (("sync",), {"EPICSTAR_ONEDEV_TOKEN": ""}, "EPICSTAR_ONEDEV_TOKEN is not set"),
        (("sync",), {"EPICSTAR_ONEDEV_URL": "ftp://x"}, "EPICSTAR_ONEDEV_URL: must be an http"),
        (("status",), {"EPICSTAR_PORT": "x"}, "EPICSTAR_PORT"),
        (("status",), {"EPICSTAR_DATABASE_URL": "postgresql://u@127.0.0.1:1/x"}, "cannot open"),
    ]
    for args, env, expected in cases:
        result = world.cli(*args, env=env)
        assert result.returncode == 2, (args, result.stderr)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, (args, result.stderr)
        assert lines[0].startswith("epicstar: error: ")
        assert expected in lines[0], (args, lines[0])


@ONE_DATABASE  # what it checks lives in the CLI, git or HTTP, not the database
def test_sync_json_reports_the_run_and_the_dry_run_predicts_it(world: World) -> None:
    kept = world.github.create_repo("octo", "kept")
    world.star("octo/kept")
    assert world.cli("sync").returncode == 0
    newcomer = world.github.create_repo("octo", "newcomer")
    taken = world.github.create_repo("octo", "taken")
    world.onedev.add_project("github/octo/taken", with_content=True)
    world.star("octo/newcomer", "octo/taken")
    world.github.commit("octo/kept", "main", {"n.txt": "n\n"}, "new commit")

    dry = world.cli("sync", "--dry-run", "--json")
    real = world.cli("sync", "--json")

    plan, done = json.loads(dry.stdout), json.loads(real.stdout)  # stdout: the document only
    assert (plan["dry_run"], done["dry_run"]) == (True, False)

    def outcomes(document: dict[str, Any]) -> set[tuple[Any, ...]]:
        return {
            (item["github_id"], item["full_name"], item["onedev_path"], item["outcome"])
            for item in document["repositories"]
        }

    assert (
        outcomes(plan)
        == outcomes(done)
        == {
            (kept.id, "octo/kept", "github/octo/kept", "mirrored"),
            (newcomer.id, "octo/newcomer", "github/octo/newcomer", "mirrored"),
            (taken.id, "octo/taken", None, "permanent_failure"),
        }
    )
    assert dry.returncode == real.returncode == 1
    assert plan["summary"]["exit_code"] == done["summary"]["exit_code"] == 1
    assert done["summary"]["outcomes"]["mirrored"] == 2
    assert done["summary"]["outcomes"]["permanent_failure"] == 1
    assert sorted(change["kind"] for change in done["poll"]["changes"]) == ["track", "track"]
    planned = {item["github_id"]: item for item in plan["repositories"]}
    mirrored = {item["github_id"]: item for item in done["repositories"]}
    assert planned[kept.id]["refs_changed"] == mirrored[kept.id]["refs_changed"] == 1
    assert mirrored[kept.id]["new_commits"] == 1
    assert mirrored[kept.id]["bytes"] > 0
    assert planned[newcomer.id]["project_created"] is mirrored[newcomer.id]["project_created"]
    assert mirrored[newcomer.id]["project_created"] is True
    assert "not created by epicstar" in mirrored[taken.id]["error"]
    assert "octo/newcomer" in real.stderr  # progress goes to stderr

    again = json.loads(world.cli("sync", "--json").stdout)
    assert {item["outcome"] for item in again["repositories"]} == {"unchanged"}
    assert again["summary"]["skipped_permanent"] == 1


@ONE_DATABASE  # SQLite's copy; PostgreSQL is pointed to pg_dump (tests/state/test_backup.py)
def test_a_backup_restored_as_a_user_runs_it(world: World, tmp_path: Any) -> None:
    world.github.create_repo("octo", "kept")
    assert world.cli("add", "octo/kept").returncode == 0
    assert world.cli("sync").returncode == 0
    copy = tmp_path / "backups" / "before.db"

    made = world.cli("db", "backup", str(copy))
    assert made.returncode == 0, made.stderr
    assert "Backed up 1 repositories (schema " in made.stdout
    refused = world.cli("db", "backup", str(copy))
    assert (refused.returncode, refused.stderr.count("\n")) == (2, 1)
    assert "exists: name a new file" in refused.stderr

    world.github.create_repo("octo", "later")
    assert world.cli("add", "octo/later").returncode == 0
    restored = world.cli("db", "restore", str(copy))
    assert restored.returncode == 0, restored.stderr
    assert "Restored 1 repositories from" in restored.stdout
    assert "the database it replaced is kept as" in restored.stdout

    status = json.loads(world.cli("status", "--json").stdout)
    assert [(item["full_name"], item["sync_status"]) for item in status] == [
        ("octo/kept", "completed")
    ]
    again = world.cli("sync")
    assert again.returncode == 0, again.stdout + again.stderr
    assert "1 repository: 0 mirrored, 1 up to date" in again.stdout
