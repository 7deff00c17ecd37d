"""A repository's first mirror and the re-syncs after it, through the sandbox."""

from __future__ import annotations

from epicstar.state.models import AttemptOutcome, RepoState, SyncStatus
from tests.e2e.conftest import World
from tests.e2e.helpers import assert_exact_mirror, heads_and_tags


def make_repo(world: World) -> int:
    repo = world.github.create_repo(
        "octo", "hello", description="Says hello", default_branch="develop"
    )
    first = world.github.commit("octo/hello", "develop", {"README.md": "hello\n"}, "readme")
    world.github.commit("octo/hello", "feature/x", {"x.txt": "x\n"}, "x", parent=first)
    world.github.tag("octo/hello", "v1.0", first, annotated=True, message="release 1.0")
    world.github.tag("octo/hello", "light", first, annotated=False)
    return int(repo.id)


def test_first_mirror_is_exact(world: World) -> None:
    github_id = make_repo(world)
    world.add("octo/hello")
    summary = world.sync()

    assert summary.ok
    [report] = summary.reports
    assert report.outcome == AttemptOutcome.MIRRORED
    assert report.project_created
    assert report.onedev_path == "github/octo/hello"
    assert_exact_mirror(world, "octo/hello", "github/octo/hello")
    assert world.onedev.default_branch("github/octo/hello") == "develop"

    project = world.onedev.project("github/octo/hello")
    assert project is not None
    assert project["description"].startswith("Says hello\n\nMirror of ")
    assert f"GitHub id {github_id}" in project["description"]
    assert project["codeManagement"] is True
    parent = world.onedev.project("github/octo")
    assert parent is not None
    assert parent["codeManagement"] is False

    row = world.row(github_id)
    assert row.state == RepoState.ACTIVE
    assert row.sync_status == SyncStatus.COMPLETED
    assert row.onedev_project_id == project["id"]
    assert row.last_synced_at is not None
    assert row.next_due_at is not None
    assert row.mirrored_refs == heads_and_tags(world.github.refs("octo/hello"))
    [attempt] = world.attempts(github_id)
    assert attempt.outcome == AttemptOutcome.MIRRORED
    assert attempt.refs_changed == 4
    assert attempt.new_commits is not None
    assert attempt.new_commits >= 2
    assert attempt.bytes_fetched > 0
    assert attempt.finished_at is not None


def test_unchanged_resync_is_one_conditional_request_and_one_ls_remote(world: World) -> None:
    make_repo(world)
    world.add("octo/hello")
    world.sync()
    projects_before = world.onedev.projects()
    budget_before = world.github.rate_limit(world.github_token).remaining
    world.github.clear_log()
    world.onedev.clear_log()

    summary = world.sync()

    assert summary.ok
    assert [report.outcome for report in summary.reports] == [AttemptOutcome.UNCHANGED]
    api = world.github.requests(git=False, path_prefix="/repos/")
    assert [(request.method, request.status) for request in api] == [("GET", 304)]
    assert world.github.rate_limit(world.github_token).remaining == budget_before
    git = world.github.requests(git=True)
    assert len(git) == 2, "one ls-remote: the advertisement and the ls-refs command"
    assert world.onedev.count(git=True) == 0, "nothing is pushed"
    assert world.onedev.count(method="POST") == 0, "nothing is created or updated"
    assert world.onedev.projects() == projects_before


def test_every_kind_of_upstream_change_propagates(world: World) -> None:
    github_id = make_repo(world)
    world.add("octo/hello")
    world.sync()
    onedev_pr_refs = world.onedev.add_onedev_refs("github/octo/hello")

    refs = world.github.refs("octo/hello")
    world.github.commit("octo/hello", "develop", {"new.txt": "new\n"}, "a new commit")
    rewritten = world.github.commit(
        "octo/hello", "rewrite", {"y.txt": "y\n"}, "rewritten", parent=refs["refs/heads/develop"]
    )
    world.github.reset_branch("octo/hello", "feature/x", rewritten)  # a force-push
    world.github.delete_branch("octo/hello", "rewrite")
    world.github.tag("octo/hello", "v2.0", "develop", annotated=True, message="release 2.0")
    world.github.delete_tag("octo/hello", "light")

    summary = world.sync()

    assert summary.ok
    assert summary.reports[0].outcome == AttemptOutcome.MIRRORED
    assert_exact_mirror(world, "octo/hello", "github/octo/hello")
    mirror = world.onedev.refs("github/octo/hello")
    assert "refs/tags/light" not in mirror
    assert "refs/heads/rewrite" not in mirror
    assert mirror["refs/heads/feature/x"] == rewritten
    for name, sha in onedev_pr_refs.items():
        assert mirror[name] == sha, "OneDev's own pull-request refs are never touched"
    latest = world.attempts(github_id)[-1]
    assert latest.refs_changed == 4  # develop moved, feature/x forced, v2.0 new, light deleted
    assert latest.new_commits == 2


def test_empty_repository_gets_a_project_and_nothing_else(world: World) -> None:
    repo = world.github.create_repo("octo", "empty", empty=True)
    world.add("octo/empty")
    summary = world.sync()
    assert summary.ok
    assert world.onedev.project("github/octo/empty") is not None
    assert world.onedev.refs("github/octo/empty") == {}
    assert world.onedev.default_branch("github/octo/empty") is None
    assert world.row(repo.id).mirrored_refs == {}
    world.onedev.clear_log()
    again = world.sync()
    assert again.reports[0].outcome == AttemptOutcome.UNCHANGED
    assert world.onedev.count(git=True) == 0

    world.github.commit("octo/empty", "main", {"first.txt": "1\n"}, "first commit")
    assert world.sync().reports[0].outcome == AttemptOutcome.MIRRORED
    assert world.onedev.default_branch("github/octo/empty") == "main"


def test_private_repository_is_mirrored_with_the_token(world: World) -> None:
    world.github.create_repo("octo", "secret", private=True)
    world.add("octo/secret")
    summary = world.sync()
    assert summary.ok
    mirror = world.onedev.refs("github/octo/secret")
    assert mirror == {
        k: v for k, v in world.github.refs("octo/secret").items() if k.startswith("refs/heads/")
    }


def test_default_branch_change_follows(world: World) -> None:
    make_repo(world)
    world.add("octo/hello")
    world.sync()
    world.github.set_default_branch("octo/hello", "feature/x")
    world.github.commit("octo/hello", "feature/x", {"z.txt": "z\n"}, "z")
    world.sync()
    assert world.onedev.default_branch("github/octo/hello") == "feature/x"


def test_description_follows_github(world: World) -> None:
    github_id = make_repo(world)
    world.add("octo/hello")
    world.sync()
    world.github.set_description("octo/hello", "Says hello, louder")
    world.sync()
    project = world.onedev.project("github/octo/hello")
    assert project is not None
    assert project["description"].startswith("Says hello, louder\n\n")
    assert project["parentId"] == world.onedev.project("github/octo")["id"]
    assert world.row(github_id).onedev_description == project["description"]
