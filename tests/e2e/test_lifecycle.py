"""Renames, deletions, blocks, names OneDev does not allow, and projects in the way."""

from __future__ import annotations

from epicstar.destination import OneDevClient
from epicstar.state.models import AttemptOutcome, RepoState, SyncStatus
from tests.e2e.conftest import World
from tests.e2e.helpers import assert_exact_mirror


def test_rename_keeps_one_project(world: World) -> None:
    repo = world.github.create_repo("octo", "hello", description="hi")
    world.add("octo/hello")
    world.sync()
    project_id = world.row(repo.id).onedev_project_id
    count_before = len(world.onedev.projects())

    world.github.rename("octo/hello", "newowner/renamed")
    world.github.commit("newowner/renamed", "main", {"after.txt": "after\n"}, "after rename")
    summary = world.sync()

    assert summary.ok
    row = world.row(repo.id)
    assert row.full_name == "newowner/renamed"
    assert row.onedev_project_id == project_id
    assert row.onedev_path == "github/octo/hello"
    assert len(world.onedev.projects()) == count_before
    assert world.github.count(status=301) == 1
    assert_exact_mirror(world, "newowner/renamed", "github/octo/hello")
    project = world.onedev.project("github/octo/hello")
    assert project is not None
    assert "/newowner/renamed" in project["description"]

    # The old name reused by a new repository: it is not confused with ours.
    world.github.create_repo("octo", "hello", description="an impostor")
    assert world.sync().ok
    assert world.row(repo.id).full_name == "newowner/renamed"
    assert len(world.onedev.projects()) == count_before


def test_deleted_source_leaves_the_mirror_untouched(world: World) -> None:
    repo = world.github.create_repo("octo", "doomed")
    world.add("octo/doomed")
    world.sync()
    mirror_before = world.onedev.refs("github/octo/doomed")

    world.github.delete("octo/doomed")
    summary = world.sync()

    assert summary.ok, "a gone source is not a failure to mirror"
    assert summary.reports[0].outcome == AttemptOutcome.SOURCE_GONE
    assert world.onedev.refs("github/octo/doomed") == mirror_before
    row = world.row(repo.id)
    assert row.state == RepoState.SOURCE_GONE
    assert row.sync_status == SyncStatus.COMPLETED
    assert "kept" in (row.error or "")
    world.github.clear_log()
    world.sync()
    assert world.github.count(git=True) == 0, "a gone repository is not fetched any more"


def test_blocked_source_keeps_the_reason_and_the_mirror(world: World) -> None:
    repo = world.github.create_repo("octo", "takedown")
    world.add("octo/takedown")
    world.sync()
    mirror_before = world.onedev.refs("github/octo/takedown")

    world.github.block("octo/takedown", reason="dmca")
    summary = world.sync()

    assert summary.reports[0].outcome == AttemptOutcome.BLOCKED
    row = world.row(repo.id)
    assert row.state == RepoState.BLOCKED
    assert row.state_reason == "dmca"
    assert world.onedev.refs("github/octo/takedown") == mirror_before


def test_names_onedev_forbids_are_mapped(world: World) -> None:
    world.github.create_repo("octo", ".github")
    world.github.create_repo("octo", "projects")
    world.add("octo/.github")
    world.add("octo/projects")
    assert world.sync().ok
    assert_exact_mirror(world, "octo/.github", "github/octo/_.github")
    assert world.onedev.project("github/octo/_projects") is not None


def test_same_name_of_two_owners_gets_two_projects(world: World) -> None:
    world.github.create_repo("alice", "dotfiles")
    world.github.create_repo("bob", "dotfiles")
    world.add("alice/dotfiles")
    world.add("bob/dotfiles")
    assert world.sync().ok
    assert_exact_mirror(world, "alice/dotfiles", "github/alice/dotfiles")
    assert_exact_mirror(world, "bob/dotfiles", "github/bob/dotfiles")


def test_two_names_mapping_to_one_path_get_a_stable_suffix(world: World) -> None:
    first = world.github.create_repo("octo", "_.github")
    second = world.github.create_repo("octo", ".github")
    world.add("octo/_.github")
    world.add("octo/.github")
    assert world.sync().ok
    assert world.row(first.id).onedev_path == "github/octo/_.github"
    assert world.row(second.id).onedev_path == f"github/octo/_.github-gh{second.id}"
    assert_exact_mirror(world, "octo/.github", f"github/octo/_.github-gh{second.id}")
    assert_exact_mirror(world, "octo/_.github", "github/octo/_.github")


def test_foreign_project_with_content_is_never_pushed_into(world: World) -> None:
    repo = world.github.create_repo("octo", "taken")
    world.onedev.add_project("github/octo/taken", with_content=True)
    foreign = world.onedev.refs("github/octo/taken")
    world.add("octo/taken")

    summary = world.sync()

    assert not summary.ok
    assert summary.reports[0].outcome == AttemptOutcome.PERMANENT_FAILURE
    row = world.row(repo.id)
    assert row.sync_status == SyncStatus.PERMANENT_FAILURE
    assert "was not created by epicstar and is not empty" in (row.error or "")
    assert world.onedev.refs("github/octo/taken") == foreign

    # A later sync does not retry it unless asked, and still reports it.
    again = world.sync()
    assert again.reports == []
    assert again.skipped_permanent == 1
    assert not again.ok


def test_empty_foreign_project_is_adopted(world: World) -> None:
    world.github.create_repo("octo", "prepared")
    project_id = world.onedev.add_project("github/octo/prepared")
    world.add("octo/prepared")
    assert world.sync().ok
    assert_exact_mirror(world, "octo/prepared", "github/octo/prepared")
    assert world.onedev.project("github/octo/prepared")["id"] == project_id


def test_project_deleted_in_onedev_is_recreated_where_it_was(world: World) -> None:
    repo = world.github.create_repo("octo", "phoenix")
    world.add("octo/phoenix")
    world.sync()
    old_id = world.row(repo.id).onedev_project_id
    assert old_id is not None
    with OneDevClient(world.sandbox.onedev_url, world.onedev_token) as onedev:
        onedev.delete_project(old_id)

    assert world.sync().ok

    row = world.row(repo.id)
    assert row.onedev_project_id != old_id
    assert row.onedev_path == "github/octo/phoenix"
    assert_exact_mirror(world, "octo/phoenix", "github/octo/phoenix")


def test_lost_database_adopts_its_own_mirrors(world: World, tmp_path_factory) -> None:
    world.github.create_repo("octo", "again")
    world.add("octo/again")
    world.sync()
    world.data_dir = tmp_path_factory.mktemp("fresh-data")
    world.database_url = f"sqlite:///{world.data_dir / 'epicstar.db'}"
    world.github.commit("octo/again", "main", {"n.txt": "n\n"}, "new")
    world.add("octo/again")
    assert world.sync().ok, "the marker in the description identifies epicstar's own mirror"
    assert_exact_mirror(world, "octo/again", "github/octo/again")


def test_a_finished_pass_marks_the_row_changed_when_it_ends(world: World) -> None:
    """The dashboard's live updates notice a row by its ``updated_at``: the pass's end must
    move it past the moment the pass took its lease (marked in progress)."""
    repo = world.github.create_repo("octo", "watched")
    world.add("octo/watched")
    assert world.sync().ok
    first = world.row(repo.id).updated_at
    world.github.commit("octo/watched", "main", {"NEW.md": "new\n"}, "New")
    assert world.sync().ok
    row = world.row(repo.id)
    (_, attempt) = world.attempts(repo.id)
    assert attempt.finished_at is not None
    assert row.last_attempt_at is not None
    assert row.updated_at >= attempt.finished_at > row.last_attempt_at
    assert row.updated_at > first
