"""``epicstar add`` of a repository epicstar already knows, and what becomes of one added by hand
whose source disappears from GitHub."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from epicstar.state.models import AttemptOutcome, Origin, RepoState
from tests.e2e.conftest import World
from tests.e2e.helpers import assert_exact_mirror


def assert_added_back(world: World, github_id: int) -> None:
    row = world.row(github_id)
    assert (row.state, row.origin, row.state_reason, row.error) == (
        RepoState.ACTIVE,
        Origin.MANUAL,
        None,
        None,
    )
    assert row.next_due_at is not None
    assert row.next_due_at <= datetime.now(UTC), "due at once"


@pytest.mark.parametrize("policy", ["keep", "move", "delete"])
def test_add_brings_back_an_unstarred_repository(world: World, policy: str) -> None:
    repo = world.github.create_repo("octo", "dropped")
    world.overrides["EPICSTAR_UNSTAR_POLICY"] = policy
    world.star("octo/dropped")
    assert world.sync(poll=True).ok
    world.github.unstar(world.login, "octo/dropped")
    world.sync(poll=True, full_walk=True)
    assert world.row(repo.id).state == RepoState.UNSTARRED
    world.github.commit("octo/dropped", "main", {"new.txt": "new\n"}, "after the unstar")

    added = world.cli("add", "octo/dropped")

    assert added.returncode == 0, added.stderr
    assert "Reactivated octo/dropped" in added.stdout
    assert "no longer starred" in added.stdout
    assert "already tracked" not in added.stdout
    assert_added_back(world, repo.id)
    summary = world.sync(poll=True, full_walk=True)
    assert summary.ok
    assert [report.outcome for report in summary.reports] == [AttemptOutcome.MIRRORED]
    assert world.row(repo.id).state == RepoState.ACTIVE, "the starred list no longer decides"
    assert world.row(repo.id).onedev_path == "github/octo/dropped", "where mirrors live"
    assert_exact_mirror(world, "octo/dropped", "github/octo/dropped")


def test_add_overrides_the_filter_that_excluded_a_repository(world: World) -> None:
    """Filters are rules for the starred list as a whole; naming one repository is a more
    precise wish, so it wins, and keeps winning while the filter stays."""
    repo = world.github.create_repo("octo", "noisy")
    world.overrides["EPICSTAR_EXCLUDE"] = "octo/noisy"
    world.star("octo/noisy")
    world.sync(poll=True)
    assert world.row(repo.id).state == RepoState.EXCLUDED
    assert world.onedev.project("github/octo/noisy") is None

    added = world.cli("add", "octo/noisy")

    assert added.returncode == 0, added.stderr
    assert "Reactivated octo/noisy" in added.stdout
    assert "matched by EPICSTAR_EXCLUDE pattern 'octo/noisy'" in added.stdout
    assert_added_back(world, repo.id)
    assert world.sync(poll=True, full_walk=True).ok
    assert world.row(repo.id).state == RepoState.ACTIVE
    assert_exact_mirror(world, "octo/noisy", "github/octo/noisy")


def test_add_brings_back_a_source_gone_repository_once_github_serves_it(world: World) -> None:
    repo = world.github.create_repo("octo", "phoenix")
    world.star("octo/phoenix")
    assert world.sync(poll=True).ok
    world.github.delete("octo/phoenix")
    world.sync(poll=True, full_walk=True)
    assert world.row(repo.id).state == RepoState.SOURCE_GONE

    still_gone = world.cli("add", "octo/phoenix")
    assert still_gone.returncode == 2
    assert "not found (404" in still_gone.stderr
    assert world.row(repo.id).state == RepoState.SOURCE_GONE

    world.github.restore("octo/phoenix")
    world.github.commit("octo/phoenix", "main", {"again.txt": "again\n"}, "restored")
    added = world.cli("add", "octo/phoenix")

    assert added.returncode == 0, added.stderr
    assert "Reactivated octo/phoenix" in added.stdout
    assert "gone from GitHub and is back" in added.stdout
    assert_added_back(world, repo.id)
    summary = world.sync()
    assert [report.outcome for report in summary.reports] == [AttemptOutcome.MIRRORED]
    assert_exact_mirror(world, "octo/phoenix", "github/octo/phoenix")


def test_add_of_an_active_repository_says_it_was_already_tracked(world: World) -> None:
    repo = world.github.create_repo("octo", "steady")
    world.star("octo/steady")
    assert world.sync(poll=True).ok

    again = world.cli("add", "octo/steady")

    assert "octo/steady (GitHub id" in again.stdout
    assert "was already tracked" in again.stdout
    assert (world.row(repo.id).state, world.row(repo.id).origin) == (
        RepoState.ACTIVE,
        Origin.MANUAL,
    )
