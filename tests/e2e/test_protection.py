"""OneDev's branch and tag protection refuses a push: the user reads why, and nothing retries."""

from __future__ import annotations

from epicstar.state.models import AttemptOutcome, SyncStatus
from tests.e2e.conftest import ONE_DATABASE, World

pytestmark = ONE_DATABASE

MIRROR = "github/octo/guarded"


def mirror_guarded(world: World) -> int:
    repo = world.github.create_repo("octo", "guarded")
    world.github.commit("octo/guarded", "feature", {"f.txt": "f\n"}, "feature")
    world.github.tag("octo/guarded", "v1", "main", message="v1")
    world.add("octo/guarded")
    assert world.sync().ok
    return int(repo.id)


def assert_refused_for_good(world: World, github_id: int, *quotes: str) -> None:
    before = world.onedev.refs(MIRROR)

    summary = world.sync()

    assert not summary.ok
    assert summary.reports[0].outcome == AttemptOutcome.PERMANENT_FAILURE
    row = world.row(github_id)
    assert (row.sync_status, row.retry_count, row.next_due_at) == (
        SyncStatus.PERMANENT_FAILURE,
        1,
        None,
    )
    error = row.error or ""
    for quote in quotes:
        assert quote in error
    assert "protection rule of the project or a parent" in error
    assert "epicstar sync --retry-failed" in error
    assert "refs/heads/main" not in error, "refs refused only with the push are not blamed"
    assert world.onedev.refs(MIRROR) == before, "OneDev fails the whole push"
    assert world.sync().reports == [], "nothing retries a refusal"


def test_a_parents_branch_protection_refuses_a_force_push(world: World) -> None:
    github_id = mirror_guarded(world)
    world.onedev.protect_branches("github", "feature", prevent_creation=False)
    refs = world.github.refs("octo/guarded")
    world.github.reset_branch("octo/guarded", "feature", refs["refs/heads/main"])
    world.github.commit("octo/guarded", "main", {"m.txt": "m\n"}, "main moves on")

    assert_refused_for_good(
        world,
        github_id,
        "OneDev refused refs/heads/feature (Cannot force-push to this branch according to "
        "branch protection setting)",
    )


def test_a_projects_tag_protection_refuses_a_deletion_and_a_creation(world: World) -> None:
    github_id = mirror_guarded(world)
    world.onedev.protect_tags(MIRROR, "v*")
    world.github.delete_tag("octo/guarded", "v1")
    world.github.tag("octo/guarded", "v2", "main", message="v2")
    world.github.commit("octo/guarded", "main", {"m.txt": "m\n"}, "main moves on")

    assert_refused_for_good(
        world,
        github_id,
        "refs/tags/v1 (Cannot delete this tag according to tag protection setting)",
        "refs/tags/v2 (Cannot create this tag according to tag protection setting)",
    )
