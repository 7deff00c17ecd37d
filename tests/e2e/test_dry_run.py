"""``epicstar sync --dry-run`` says what a sync would do and changes nothing anywhere."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.e2e.conftest import ONE_DATABASE, World


def snapshot(world: World) -> dict[str, Any]:
    database = world.db()
    try:
        with database.engine.connect() as connection:
            tables = {
                table: sorted(
                    repr(tuple(row))
                    for row in connection.exec_driver_sql(f"SELECT * FROM {table}")  # noqa: S608
                )
                for table in ("repositories", "sync_attempts", "star_lists")
            }
    finally:
        database.dispose()
    projects = world.onedev.projects()
    return {
        "tables": tables,
        "projects": projects,
        "refs": {project["path"]: world.onedev.refs(project["path"]) for project in projects},
        "cache": sorted(str(path) for path in Path(world.data_dir, "cache").rglob("refs/**/*")),
    }


def test_dry_run_changes_nothing(world: World) -> None:
    for name in ("stays", "changes", "leaves"):
        world.github.create_repo("octo", name)
    world.star("octo/stays", "octo/changes", "octo/leaves")
    world.overrides["EPICSTAR_UNSTAR_POLICY"] = "delete"
    assert world.cli("sync").returncode == 0

    world.github.create_repo("octo", "newcomer")
    world.star("octo/newcomer")
    world.github.unstar(world.login, "octo/leaves")
    world.github.commit("octo/changes", "main", {"n.txt": "n\n"}, "new commit")
    before = snapshot(world)
    world.onedev.clear_log()

    result = world.cli("sync", "--dry-run", "--full")

    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "octo/newcomer: would start tracking" in out
    assert "would create OneDev project github/octo/newcomer" in out
    assert "octo/leaves is no longer starred: its mirror would be deleted" in out
    assert "would update 1 refs of github/octo/changes from octo/changes" in out
    assert "octo/stays: up to date in github/octo/stays" in out
    assert "dry run: nothing was changed" in out
    assert snapshot(world) == before
    assert world.onedev.count(method="POST") == 0
    assert world.onedev.count(method="DELETE") == 0
    assert world.onedev.count(git_service="git-receive-pack") == 0

    real = world.cli("sync")
    assert real.returncode == 0, real.stdout + real.stderr
    assert snapshot(world) != before
    assert world.onedev.project("github/octo/leaves") is None
    assert world.onedev.project("github/octo/newcomer") is not None


@ONE_DATABASE  # what it checks lives in the CLI, git or HTTP, not the database
def test_a_full_walk_of_1000_stars_costs_10_requests(world: World) -> None:
    names = [f"r{number:04}" for number in range(1000)]
    world.github.create_repos("bulk", names)
    world.star(*(f"bulk/{name}" for name in names))
    world.overrides["EPICSTAR_EXCLUDE"] = "bulk/*"  # discovery only: no mirroring here
    world.github.clear_log()

    first = world.poll()
    assert (first.requests, first.stars_seen, first.full_walk) == (10, 1000, True)
    budget = world.github.rate_limit(world.github_token).remaining
    idle = world.poll()  # page 1 and page 10, both answered 304
    assert (idle.requests, idle.not_modified) == (2, True)
    assert world.github.rate_limit(world.github_token).remaining == budget
    full = world.poll(full=True)
    assert (full.requests, full.stars_seen) == (10, 1000)
    assert len(world.github.requests(path_prefix="/user/starred")) == 22


def assert_read_only(world: World) -> None:
    """Nothing was written to OneDev: no API write, no git push."""
    for method in ("POST", "PUT", "DELETE"):
        assert world.onedev.count(method=method) == 0, method
    assert world.onedev.count(git_service="git-receive-pack") == 0


def test_dry_run_places_projects_as_the_run_would(world: World) -> None:
    world.github.create_repo("octo", "x")
    world.star("octo/x")
    assert world.cli("sync").returncode == 0
    world.github.rename("octo/x", "octo/renamed")  # its mirror stays at github/octo/x
    clashing = world.github.create_repo("octo", "x")
    adopted = world.github.create_repo("octo", "adopted")
    world.onedev.add_project(
        "github/octo/adopted",
        with_content=True,
        description=f"Mirror (epicstar mirror, GitHub id {adopted.id})",
    )
    world.github.create_repo("octo", "foreign")
    world.onedev.add_project("github/octo/foreign", with_content=True)
    world.star("octo/x", "octo/adopted", "octo/foreign")
    world.onedev.clear_log()

    dry = world.cli("sync", "--dry-run")

    assert dry.returncode == 1, dry.stdout + dry.stderr  # octo/foreign would fail for good
    out = dry.stdout
    assert f"would create OneDev project github/octo/x-gh{clashing.id} and mirror octo/x" in out
    assert "would adopt OneDev project github/octo/adopted" in out
    assert "would create OneDev project github/octo/adopted" not in out
    refused = "octo/foreign: would fail (permanent_failure): OneDev project 'github/octo/foreign'"
    assert refused in out
    assert "octo/renamed: up to date in github/octo/x" in out
    assert_read_only(world)

    real = world.cli("sync")
    assert real.returncode == dry.returncode, real.stdout
    assert world.onedev.project(f"github/octo/x-gh{clashing.id}") is not None
    assert world.row(adopted.id).onedev_path == "github/octo/adopted"
    assert "1 permanent failure" in real.stdout


def test_dry_run_selects_and_exits_as_the_run_would(world: World) -> None:
    world.overrides["EPICSTAR_MAX_ATTEMPTS"] = "1"
    world.github.create_repo("octo", "fine")
    world.star("octo/fine")
    assert world.cli("sync").returncode == 0
    stuck = world.github.create_repo("octo", "stuck")
    world.star("octo/stuck")
    world.onedev.faults.inject("POST", r"^/~api/projects$", 400, body="refused")
    assert world.cli("sync").returncode == 1  # octo/stuck: permanent failure at once
    world.onedev.clear_log()

    plain = world.cli("sync", "--dry-run")
    assert plain.returncode == 1, plain.stdout  # the real run would leave octo/stuck out
    assert "octo/fine: up to date" in plain.stdout
    assert "octo/stuck" not in plain.stdout.replace("1 in permanent failure not retried", "")
    assert "1 in permanent failure not retried" in plain.stdout

    due = world.cli("sync", "--dry-run", "--due-only")
    assert due.returncode == 1
    assert "octo/fine" not in due.stdout  # mirrored a moment ago: not due

    retry = world.cli("sync", "--dry-run", "--retry-failed", "--due-only")
    assert retry.returncode == 0, retry.stdout
    assert "would create OneDev project github/octo/stuck and mirror octo/stuck" in retry.stdout
    assert "octo/fine" not in retry.stdout
    assert_read_only(world)
    assert world.row(stuck.id).sync_status == "permanent_failure"

    real = world.cli("sync", "--retry-failed", "--due-only")
    assert real.returncode == 0, real.stdout
    assert "1 repository: 1 mirrored" in real.stdout
    assert world.onedev.project("github/octo/stuck") is not None
