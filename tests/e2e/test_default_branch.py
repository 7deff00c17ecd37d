"""A default branch that changes upstream, whatever becomes of the old one, in one pass."""

from __future__ import annotations

import pytest

from epicstar.destination import OneDevClient
from epicstar.state.models import AttemptOutcome, SyncStatus
from tests.e2e.conftest import ONE_DATABASE, World
from tests.e2e.helpers import assert_exact_mirror

pytestmark = ONE_DATABASE

MIRROR = "github/octo/legacy"


def mirror_legacy(world: World) -> int:
    """``octo/legacy`` (default ``master``, a second branch and a tag) mirrored once."""
    repo = world.github.create_repo("octo", "legacy", default_branch="master")
    world.github.commit("octo/legacy", "dev", {"dev.txt": "dev\n"}, "dev work")
    world.github.tag("octo/legacy", "v1", "master", message="v1")
    world.add("octo/legacy")
    assert world.sync().ok
    assert world.onedev.default_branch(MIRROR) == "master"
    return int(repo.id)


def assert_mirrored_in_one_pass(world: World, github_id: int, default: str) -> None:
    summary = world.sync()

    [report] = summary.reports
    assert (report.outcome, report.error) == (AttemptOutcome.MIRRORED, None)
    assert summary.ok
    assert_exact_mirror(world, "octo/legacy", MIRROR)
    assert world.onedev.default_branch(MIRROR) == default
    row = world.row(github_id)
    assert (row.sync_status, row.retry_count, row.onedev_default_branch) == (
        SyncStatus.COMPLETED,
        0,
        default,
    )


def test_master_renamed_to_main_by_hand_is_mirrored_in_one_pass(world: World) -> None:
    github_id = mirror_legacy(world)
    world.github.commit("octo/legacy", "main", {"moved.txt": "to main\n"}, "main")
    world.github.set_default_branch("octo/legacy", "main")
    world.github.delete_branch("octo/legacy", "master")

    assert_mirrored_in_one_pass(world, github_id, "main")


def test_old_default_deleted_for_an_existing_branch(world: World) -> None:
    github_id = mirror_legacy(world)
    world.github.set_default_branch("octo/legacy", "dev")
    world.github.delete_branch("octo/legacy", "master")

    assert_mirrored_in_one_pass(world, github_id, "dev")


def test_only_branch_renamed(world: World) -> None:
    repo = world.github.create_repo("octo", "legacy", default_branch="master")
    world.add("octo/legacy")
    assert world.sync().ok
    world.github.rename_branch("octo/legacy", "master", "main")

    assert_mirrored_in_one_pass(world, int(repo.id), "main")
    assert world.onedev.refs(MIRROR).keys() == {"refs/heads/main"}


def test_default_renamed_while_the_database_was_lost(
    world: World, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """An adopted mirror: epicstar knows nothing of its HEAD, which points at a dead branch."""
    github_id = mirror_legacy(world)
    world.data_dir = tmp_path_factory.mktemp("fresh-data")
    world.database_url = f"sqlite:///{world.data_dir / 'epicstar.db'}"
    world.github.rename_branch("octo/legacy", "master", "main")
    world.add("octo/legacy")

    assert_mirrored_in_one_pass(world, github_id, "main")


def test_an_unchanged_mirror_after_the_rename_costs_no_onedev_git_call(world: World) -> None:
    mirror_legacy(world)
    world.github.rename_branch("octo/legacy", "master", "main")
    assert world.sync().ok
    world.onedev.clear_log()

    assert world.sync().reports[0].outcome == AttemptOutcome.UNCHANGED
    assert world.onedev.count(git=True) == 0


def test_head_moved_in_onedev_onto_a_branch_deleted_upstream(world: World) -> None:
    """What epicstar stored about OneDev's HEAD is stale: the pass still ends exact."""
    github_id = mirror_legacy(world)
    project = world.onedev.project(MIRROR)
    assert project is not None
    with OneDevClient(world.sandbox.onedev_url, world.onedev_token) as onedev:
        onedev.set_default_branch(project["id"], "dev")
    world.github.delete_branch("octo/legacy", "dev")

    assert_mirrored_in_one_pass(world, github_id, "master")
