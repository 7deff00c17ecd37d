"""A private repository's mirror is never more visible in OneDev than on GitHub."""

from __future__ import annotations

import pytest

from epicstar.state.models import SyncStatus
from tests.e2e.conftest import ONE_DATABASE, World
from tests.e2e.helpers import assert_exact_mirror

pytestmark = ONE_DATABASE


def project_creations(world: World) -> list[str]:
    """Every ``POST /~api/projects`` (a creation; updates go to ``/~api/projects/{id}``)."""
    return [request.path for request in world.onedev.requests("POST", "/~api/projects")]


def project_paths(world: World) -> set[str]:
    return {str(project["path"]) for project in world.onedev.projects()}


@pytest.mark.parametrize(
    ("parent", "existing", "granting"),
    [
        ("github", "github", "github"),
        ("mirrors/github", "mirrors", "mirrors"),  # a level above, the rest not created yet
        ("github", "github/octo", "github/octo"),  # the owner-level parent
    ],
    ids=["parent", "grandparent", "owner-level"],
)
def test_private_source_under_a_granting_parent_gets_no_project(
    world: World, parent: str, existing: str, granting: str
) -> None:
    secret = world.github.create_repo("octo", "secret", private=True, description="Plans")
    world.onedev.add_project(existing)
    world.onedev.add_default_role(granting)  # every OneDev user may read below it
    world.overrides["EPICSTAR_ONEDEV_PARENT"] = parent
    before = project_paths(world)
    world.add("octo/secret")

    summary = world.sync()

    assert not summary.ok
    assert [report.outcome for report in summary.reports] == ["permanent_failure"]
    assert project_creations(world) == [], "not even a parent is created"
    assert project_paths(world) == before
    row = world.row(secret.id)
    assert row.sync_status == SyncStatus.PERMANENT_FAILURE
    assert (row.onedev_project_id, row.onedev_path) == (None, None)
    error = row.error or ""
    assert "octo/secret is private on GitHub" in error
    assert f"OneDev project '{granting}' gives default roles" in error
    assert world.onedev.count(git=True) == 0


def test_public_sources_beside_it_are_still_mirrored(world: World) -> None:
    world.github.create_repo("octo", "secret", private=True)
    world.github.create_repo("octo", "open")
    world.onedev.add_project("github")
    world.onedev.add_default_role("github")
    world.star("octo/secret", "octo/open")

    summary = world.sync(poll=True)

    outcomes = {report.full_name: report.outcome for report in summary.reports}
    assert outcomes == {"octo/secret": "permanent_failure", "octo/open": "mirrored"}
    assert "github/octo/secret" not in project_paths(world)
    assert_exact_mirror(world, "octo/open", "github/octo/open")


def test_an_adopted_project_with_its_own_default_role_is_not_pushed_into(world: World) -> None:
    secret = world.github.create_repo("octo", "secret", private=True, description="Plans")
    world.onedev.add_project("github/octo/secret", description="Empty, made by hand")
    world.onedev.add_default_role("github/octo/secret")
    world.add("octo/secret")

    summary = world.sync()

    assert [report.outcome for report in summary.reports] == ["permanent_failure"]
    assert project_creations(world) == []
    error = world.row(secret.id).error or ""
    assert "OneDev project 'github/octo/secret' gives default roles" in error
    project = world.onedev.project("github/octo/secret")
    assert project is not None
    assert project["description"] == "Empty, made by hand", "the private description stays out"
    assert world.onedev.refs("github/octo/secret") == {}


def test_missing_parents_are_created_clean_and_checked_on_every_pass(world: World) -> None:
    secret = world.github.create_repo("octo", "secret", private=True)
    world.overrides["EPICSTAR_ONEDEV_PARENT"] = "mirrors/github"
    world.add("octo/secret")

    assert world.sync().ok
    assert project_paths(world) == {
        "mirrors",
        "mirrors/github",
        "mirrors/github/octo",
        "mirrors/github/octo/secret",
    }
    assert world.onedev.default_roles("mirrors/github/octo/secret", inherited=True) == []
    assert_exact_mirror(world, "octo/secret", "mirrors/github/octo/secret")

    world.onedev.add_default_role("mirrors")  # granted later, by someone else
    world.github.commit("octo/secret", "main", {"later.txt": "later\n"}, "later")
    mirrored = world.onedev.refs("mirrors/github/octo/secret")
    summary = world.sync()

    assert [report.outcome for report in summary.reports] == ["permanent_failure"]
    assert "OneDev project 'mirrors' gives default roles" in (world.row(secret.id).error or "")
    assert world.onedev.refs("mirrors/github/octo/secret") == mirrored, "nothing new pushed"
