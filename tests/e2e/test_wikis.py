"""GitHub wikis, mirrored to the child project ``wiki`` of their repository's project."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime, timedelta

import pytest

from epicstar.state.models import AttemptOutcome, WikiState
from epicstar.sync.context import open_context
from epicstar.sync.runner import RunSummary, run_sync
from tests.e2e.conftest import ONE_DATABASE, World

pytestmark = ONE_DATABASE

CODE = "github/octo/hello"
WIKI = "github/octo/hello/wiki"
WIKI_GIT = "/octo/hello.wiki.git/"
CODE_GIT = "/octo/hello.git/"


def make_repo(world: World, *, private: bool = False) -> int:
    repo = world.github.create_repo("octo", "hello", private=private)
    world.add("octo/hello")
    return int(repo.id)


def wiki_requests(world: World) -> int:
    """The git requests that asked GitHub about the wiki (an ls-remote that finds no
    repository makes one; one that finds it, two)."""
    return int(world.github.count(path_prefix=WIKI_GIT))


def wiki_ls_remotes(world: World) -> int:
    return int(world.github.count("GET", WIKI_GIT + "info/refs"))


def sync_later(world: World, hours: float) -> RunSummary:
    with open_context(world.settings()) as ctx:
        ctx.clock = lambda: datetime.now(UTC) + timedelta(hours=hours)
        return run_sync(ctx)


def test_an_absent_wiki_creates_nothing_and_is_looked_for_once_a_day(world: World) -> None:
    github_id = make_repo(world)

    summary = world.sync()

    assert summary.ok
    assert summary.reports[0].wiki_refs_changed is None
    assert wiki_ls_remotes(world) == 1
    assert world.onedev.project(CODE) is not None
    assert world.onedev.project(WIKI) is None
    row = world.row(github_id)
    assert row.wiki_state == WikiState.ABSENT
    assert row.wiki_checked_at is not None
    assert row.wiki_project_id is None
    assert world.attempts(github_id)[-1].wiki_refs_changed is None

    world.github.clear_log()
    assert world.sync().ok
    assert sync_later(world, hours=23).ok
    assert wiki_requests(world) == 0, "not looked for again within a day"

    assert sync_later(world, hours=25).ok
    assert wiki_ls_remotes(world) == 1, "looked for again after a day"
    assert world.onedev.project(WIKI) is None


def test_a_wiki_turned_off_on_github_is_never_asked_for(world: World) -> None:
    github_id = make_repo(world)
    world.github.set_has_wiki("octo/hello", False)

    assert world.sync().ok
    assert sync_later(world, hours=25).ok

    assert wiki_requests(world) == 0
    assert world.onedev.project(WIKI) is None
    assert world.row(github_id).wiki_state == WikiState.ABSENT


def test_wikis_off_asks_github_nothing_about_wikis(world: World) -> None:
    github_id = make_repo(world)
    world.overrides["EPICSTAR_WIKIS"] = "off"

    summary = world.sync()

    assert summary.ok
    assert summary.reports[0].outcome == AttemptOutcome.MIRRORED
    assert wiki_requests(world) == 0
    assert world.onedev.project(WIKI) is None
    assert world.row(github_id).wiki_state is None


def mirror_with_wiki(world: World, *, private: bool = False) -> int:
    github_id = make_repo(world, private=private)
    world.github.create_wiki("octo/hello", {"Home.md": "Welcome\n", "Usage.md": "Run it\n"})
    assert world.sync().ok
    return github_id


def test_a_wiki_is_mirrored_to_the_child_project_wiki(world: World) -> None:
    github_id = make_repo(world)
    world.github.create_wiki("octo/hello", {"Home.md": "Welcome\n"})

    summary = world.sync()

    assert summary.ok
    [report] = summary.reports
    assert (report.outcome, report.wiki_refs_changed) == (AttemptOutcome.MIRRORED, 1)
    assert world.onedev.refs(WIKI) == world.github.wiki_refs("octo/hello")
    assert world.onedev.default_branch(WIKI) == "master"
    code, wiki = world.onedev.project(CODE), world.onedev.project(WIKI)
    assert code is not None
    assert wiki is not None
    assert wiki["parentId"] == code["id"], "the wiki inherits its repository's access"
    assert world.onedev.refs(CODE).keys() == {"refs/heads/main"}, "the code stays the code"
    row = world.row(github_id)
    assert (row.wiki_state, row.wiki_project_id, row.wiki_path) == (
        WikiState.MIRRORED,
        wiki["id"],
        WIKI,
    )
    assert row.wiki_refs == world.github.wiki_refs("octo/hello")
    assert row.wiki_onedev_default_branch == "master"
    assert row.wiki_synced_at is not None
    assert world.attempts(github_id)[-1].wiki_refs_changed == 1


def test_a_wiki_edit_is_mirrored_while_the_code_is_unchanged(world: World) -> None:
    github_id = mirror_with_wiki(world)
    world.github.edit_wiki("octo/hello", "Usage.md", "Run it twice\n")
    world.github.clear_log()

    summary = world.sync()

    assert summary.ok
    [report] = summary.reports
    assert (report.outcome, report.refs_changed, report.wiki_refs_changed) == (
        AttemptOutcome.MIRRORED,
        0,
        1,
    )
    assert world.onedev.refs(WIKI) == world.github.wiki_refs("octo/hello")
    assert world.github.count(path_prefix=CODE_GIT) == 2, "the code: one ls-remote"
    assert wiki_ls_remotes(world) == 2, "the wiki: one ls-remote, then a fetch"
    assert world.attempts(github_id)[-1].wiki_refs_changed == 1

    world.github.clear_log()
    world.onedev.clear_log()
    again = world.sync()

    assert (again.reports[0].outcome, again.reports[0].wiki_refs_changed) == (
        AttemptOutcome.UNCHANGED,
        0,
    )
    assert world.github.count(path_prefix=CODE_GIT) == 2
    assert wiki_requests(world) == 2, "one more ls-remote (advertisement and ls-refs)"
    assert world.onedev.count(git=True) == 0, "nothing is pushed"


def test_a_wiki_that_disappears_keeps_its_mirror(world: World) -> None:
    github_id = mirror_with_wiki(world)
    mirrored = world.onedev.refs(WIKI)
    world.github.delete_wiki("octo/hello")

    summary = world.sync()

    assert summary.ok
    assert summary.reports[0].outcome == AttemptOutcome.UNCHANGED
    assert world.onedev.refs(WIKI) == mirrored
    row = world.row(github_id)
    assert row.wiki_state == WikiState.GONE
    assert row.wiki_refs == mirrored

    world.github.clear_log()
    assert world.sync().ok
    assert wiki_requests(world) == 0, "a gone wiki is looked for once a day"


def test_a_wiki_turned_off_after_its_mirror_keeps_the_mirror_and_is_not_asked_for(
    world: World,
) -> None:
    github_id = mirror_with_wiki(world)
    mirrored = world.onedev.refs(WIKI)
    world.github.set_has_wiki("octo/hello", False)
    world.github.clear_log()

    assert world.sync().ok

    assert wiki_requests(world) == 0
    assert world.onedev.refs(WIKI) == mirrored
    assert world.row(github_id).wiki_state == WikiState.GONE


def test_a_wiki_that_appears_later_is_picked_up_within_a_day(world: World) -> None:
    github_id = make_repo(world)
    assert world.sync().ok
    world.github.create_wiki("octo/hello")

    assert world.sync().ok
    assert world.onedev.project(WIKI) is None, "looked for at most once a day"

    summary = sync_later(world, hours=25)

    assert summary.ok
    assert summary.reports[0].wiki_refs_changed == 1
    assert world.onedev.refs(WIKI) == world.github.wiki_refs("octo/hello")
    assert world.row(github_id).wiki_state == WikiState.MIRRORED


def test_a_private_repositorys_wiki_is_fetched_with_the_token(world: World) -> None:
    github_id = make_repo(world, private=True)
    world.github.create_wiki("octo/hello")

    assert world.sync().ok

    assert world.onedev.refs(WIKI) == world.github.wiki_refs("octo/hello")
    assert world.row(github_id).wiki_state == WikiState.MIRRORED
    schemes = {request.auth_scheme for request in world.github.requests(path_prefix=WIKI_GIT)}
    assert schemes == {"basic"}
    assert world.onedev.default_roles(WIKI, inherited=True) == []


def test_a_private_repositorys_wiki_mirror_given_default_roles_stops_the_pass(
    world: World,
) -> None:
    github_id = mirror_with_wiki(world, private=True)
    world.onedev.add_default_role(WIKI)
    world.github.edit_wiki("octo/hello", "Home.md", "Secret plans\n")
    before = world.onedev.refs(WIKI)

    summary = world.sync()

    assert summary.reports[0].outcome == AttemptOutcome.PERMANENT_FAILURE
    assert f"'{WIKI}' gives default roles" in (summary.reports[0].error or "")
    assert world.onedev.refs(WIKI) == before, "nothing was pushed"
    assert world.row(github_id).wiki_refs == before


def test_a_wiki_that_github_cannot_serve_fails_the_pass_and_a_passing_error_is_tried_again(
    world: World,
) -> None:
    github_id = make_repo(world)
    world.github.create_wiki("octo/hello")
    world.github.inject("GET", r"^/octo/hello\.wiki\.git/info/refs$", 502, body="Bad gateway")
    assert world.sync().ok, "a 502 for a moment is tried again at once"
    assert world.row(github_id).wiki_state == WikiState.MIRRORED

    world.github.edit_wiki("octo/hello", "Home.md", "Edited\n")
    world.github.inject("GET", r"^/octo/hello\.wiki\.git/info/refs$", 500, times=None)
    summary = world.sync()

    [report] = summary.reports
    assert report.outcome == AttemptOutcome.FAILED
    assert (report.error or "").startswith("wiki ls-remote: ")
    row = world.row(github_id)
    assert row.wiki_state == WikiState.MIRRORED, "an error is no proof that the wiki is gone"
    assert row.wiki_refs != world.github.wiki_refs("octo/hello")


def test_without_a_token_a_public_repositorys_wiki_is_found_or_missing(world: World) -> None:
    """GitHub asks an anonymous caller for credentials where no repository is."""
    github_id = make_repo(world)
    world.overrides["EPICSTAR_GITHUB_TOKEN"] = ""

    assert world.sync().ok
    assert world.github.count(path_prefix=WIKI_GIT, status=401) == 1
    assert world.row(github_id).wiki_state == WikiState.ABSENT

    world.github.create_wiki("octo/hello")
    assert sync_later(world, hours=25).ok
    assert world.onedev.refs(WIKI) == world.github.wiki_refs("octo/hello")


def test_a_forced_sync_makes_the_wiki_mirror_exact_again(world: World) -> None:
    mirror_with_wiki(world)
    master = world.github.wiki_refs("octo/hello")["refs/heads/master"]
    subprocess.run(
        ["git", "update-ref", "refs/heads/stray", master],
        cwd=world.onedev.repo_dir(WIKI),
        check=True,
    )
    assert world.sync().ok
    assert "refs/heads/stray" in world.onedev.refs(WIKI), "an unchanged wiki is not pushed"

    summary = world.sync(force=True)

    assert summary.ok
    assert summary.reports[0].wiki_refs_changed == 1
    assert world.onedev.refs(WIKI) == world.github.wiki_refs("octo/hello")


@pytest.mark.parametrize("policy", ["move", "delete"])
def test_an_unstarred_repositorys_wiki_goes_where_its_mirror_goes(
    world: World, policy: str
) -> None:
    repo = world.github.create_repo("octo", "hello")
    world.github.create_wiki("octo/hello")
    world.star("octo/hello")
    world.overrides["EPICSTAR_UNSTAR_POLICY"] = policy
    assert world.sync(poll=True).ok
    wiki_cache = world.data_dir / "cache" / f"{repo.id}.wiki.git"
    assert wiki_cache.is_dir()

    world.github.unstar(world.login, "octo/hello")
    assert world.sync(poll=True, full_walk=True).ok

    row = world.row(repo.id)
    if policy == "move":
        assert row.wiki_path == "github/_unstarred/hello/wiki"
        assert world.onedev.refs(row.wiki_path) == world.github.wiki_refs("octo/hello")
    else:
        assert (row.wiki_state, row.wiki_project_id, row.wiki_path, row.wiki_refs) == (
            None,
            None,
            None,
            None,
        )
        assert not wiki_cache.exists()

    world.star("octo/hello")
    assert world.sync(poll=True).ok
    row = world.row(repo.id)
    assert (row.wiki_state, row.wiki_path) == (WikiState.MIRRORED, WIKI)
    assert world.onedev.refs(WIKI) == world.github.wiki_refs("octo/hello")
