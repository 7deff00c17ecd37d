"""Starred-list discovery and the lifecycle of a starred repository, through the sandbox."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from epicstar.state import rewrites
from epicstar.state.models import Origin, Repository, RepoState, SyncMethod, SyncStatus
from epicstar.sync.context import open_context
from epicstar.sync.runner import run_sync
from tests.e2e.conftest import ONE_DATABASE, World
from tests.e2e.helpers import assert_exact_mirror


def starred_requests(world: World) -> list[tuple[str, int]]:
    return [
        (request.path, request.status)
        for request in world.github.requests(path_prefix="/user/starred")
    ]


def test_stars_become_mirrors_and_an_idle_poll_is_one_free_request(world: World) -> None:
    for name in ("one", "two", "three"):
        world.github.create_repo("octo", name)
    world.star("octo/one", "octo/two", "octo/three")

    first = world.sync(poll=True)

    assert first.ok
    assert first.poll is not None
    assert first.poll.full_walk
    assert {change.kind for change in first.poll.changes} == {"track"}
    for name in ("one", "two", "three"):
        assert_exact_mirror(world, f"octo/{name}", f"github/octo/{name}")

    world.github.clear_log()
    budget = world.github.rate_limit(world.github_token).remaining
    idle = world.sync(poll=True)
    assert idle.poll is not None
    assert idle.poll.not_modified
    assert starred_requests(world) == [("/user/starred", 304)]
    assert world.github.rate_limit(world.github_token).remaining == budget


@ONE_DATABASE  # what it checks lives in the requests made to GitHub
def test_a_sync_of_many_stars_reads_the_list_whole_instead_of_asking_for_each(
    world: World,
) -> None:
    names = [f"many/repo-{number:03}" for number in range(130)]
    world.github.create_repos("many", [name.partition("/")[2] for name in names])
    world.star(*names)
    assert world.sync(poll=True, jobs=4).ok
    world.github.set_description("many/repo-000", "described since")  # the list's last page
    world.github.clear_log()

    again = world.sync(poll=True, jobs=4)

    assert again.ok
    assert again.poll is not None
    assert (again.poll.full_walk, again.poll.requests) == (True, 2)
    assert len(again.reports) == 130
    asked = world.github.requests(path_prefix="/repos/") + world.github.requests(
        path_prefix="/repositories/"
    )
    assert asked == [], "each repository's metadata came with the list"
    project = world.onedev.project("github/many/repo-000")
    assert project is not None
    assert "described since" in str(project["description"])

    world.github.set_description("many/repo-001", "described again")
    world.github.clear_log()
    assert world.sync(poll=False).ok  # no list read: each pass asks GitHub itself
    assert len(world.github.requests(path_prefix="/repos/")) == 130
    project = world.onedev.project("github/many/repo-001")
    assert project is not None
    assert "described again" in str(project["description"])


def test_a_new_star_among_250_is_found_with_one_or_two_requests(world: World) -> None:
    names = [f"repo-{number:03}" for number in range(251)]
    world.github.create_repos("many", names)
    world.star(*(f"many/{name}" for name in names[:250]))
    initial = world.poll()
    assert (initial.requests, initial.full_walk, initial.stars_seen) == (3, True, 250)

    world.star("many/repo-250")
    world.github.clear_log()
    found = world.poll()

    assert found.requests in (1, 2)
    assert len(starred_requests(world)) == found.requests
    assert [(change.kind, change.full_name) for change in found.changes] == [
        ("track", "many/repo-250")
    ]
    assert not found.full_walk


def starred_statuses(world: World) -> list[int]:
    return [status for _, status in starred_requests(world)]


def many_stars(world: World, count: int) -> list[str]:
    """``count`` stars, ``many/repo-000`` the oldest (the list's last), all polled once."""
    names = [f"many/repo-{number:03}" for number in range(count)]
    world.github.create_repos("many", [name.partition("/")[2] for name in names])
    world.star(*names)
    initial = world.poll()
    assert (initial.full_walk, initial.stars_seen) == (True, count)
    return names


@pytest.mark.parametrize(
    ("count", "unstarred"),
    [
        (250, "many/repo-120"),  # page 2 of 3: page 1 is unchanged
        (250, "many/repo-000"),  # the last page
        (200, "many/repo-050"),  # a full last page: the list ends on a page boundary
        (201, "many/repo-000"),  # the only star on the last page: that page empties
    ],
)
def test_an_unstar_anywhere_is_noticed_by_the_next_poll(
    world: World, count: int, unstarred: str
) -> None:
    many_stars(world, count)
    repo = world.github.repo(unstarred)
    world.github.unstar(world.login, unstarred)

    poll = world.poll()

    assert [(change.kind, change.full_name) for change in poll.changes] == [("unstar", unstarred)]
    assert world.row(repo.id).state == RepoState.UNSTARRED

    world.github.clear_log()
    budget = world.github.rate_limit(world.github_token).remaining
    idle = world.poll()
    assert idle.not_modified
    assert idle.changes == []
    assert starred_statuses(world) == [304, 304], "page 1 and the last page, both free"
    assert world.github.rate_limit(world.github_token).remaining == budget


def test_a_star_and_an_unstar_between_two_polls_are_both_noticed(world: World) -> None:
    many_stars(world, 250)
    world.github.create_repo("many", "newcomer", empty=True)
    world.star("many/newcomer")
    dropped = world.github.repo("many/repo-120")
    world.github.unstar(world.login, "many/repo-120")  # the list keeps its length

    poll = world.poll()

    assert sorted((change.kind, change.full_name) for change in poll.changes) == [
        ("track", "many/newcomer"),
        ("unstar", "many/repo-120"),
    ]
    assert world.row(dropped.id).state == RepoState.UNSTARRED


def test_a_repository_deleted_far_down_the_list_is_gone_not_unstarred(world: World) -> None:
    many_stars(world, 150)
    doomed = world.github.repo("many/repo-010")
    world.github.delete("many/repo-010")  # GitHub drops it from starred lists too

    poll = world.poll()

    assert [(change.kind, change.full_name) for change in poll.changes] == [
        ("gone", "many/repo-010")
    ]
    assert world.row(doomed.id).state == RepoState.SOURCE_GONE


def test_a_change_on_the_last_page_that_removes_nothing_needs_no_full_walk(
    world: World,
) -> None:
    many_stars(world, 150)
    world.github.set_description("many/repo-000", "now described")
    world.github.clear_log()

    poll = world.poll()

    assert not poll.full_walk
    assert poll.changes == []
    assert starred_statuses(world) == [304, 200]
    assert world.row(world.github.repo("many/repo-000").id).description == "now described"


def rewrite_count(world: World, github_id: int) -> int:
    database = world.db()
    try:
        with database.session() as session:
            return rewrites.counts(session).get(github_id, 0)
    finally:
        database.dispose()


@pytest.mark.parametrize("policy", ["keep", "move", "delete"])
def test_unstar_policies(world: World, policy: str) -> None:
    kept = world.github.create_repo("octo", "kept")
    dropped = world.github.create_repo("octo", "dropped")
    world.star("octo/kept", "octo/dropped")
    world.overrides["EPICSTAR_UNSTAR_POLICY"] = policy
    world.github.commit("octo/dropped", "topic", {"t.txt": "t\n"}, "topic")
    assert world.sync(poll=True).ok
    world.github.delete_branch("octo/dropped", "topic")  # kept in the cache, recorded
    assert world.sync(poll=True).ok
    assert rewrite_count(world, dropped.id) == 1
    refs = world.onedev.refs("github/octo/dropped")

    world.github.unstar(world.login, "octo/dropped")
    summary = world.sync(poll=True, full_walk=True)

    assert summary.ok
    row = world.row(dropped.id)
    assert row.state == RepoState.UNSTARRED
    assert row.unstarred_at is not None
    assert world.row(kept.id).state == RepoState.ACTIVE
    assert [report.github_id for report in summary.reports] == [kept.id]
    # What the cache kept of overwritten history goes only with the cache.
    assert rewrite_count(world, dropped.id) == (0 if policy == "delete" else 1)
    if policy == "keep":
        assert world.onedev.refs("github/octo/dropped") == refs
        assert row.onedev_path == "github/octo/dropped"
    elif policy == "move":
        assert world.onedev.project("github/octo/dropped") is None
        assert row.onedev_path == "github/_unstarred/dropped"
        assert world.onedev.refs("github/_unstarred/dropped") == refs
    else:
        assert world.onedev.project("github/octo/dropped") is None
        assert row.onedev_project_id is None
        assert not (world.data_dir / "cache" / f"{dropped.id}.git").exists()

    # Starred again: mirrored again, moved back where mirrors live if it had been moved.
    world.star("octo/dropped")
    world.github.commit("octo/dropped", "main", {"again.txt": "again\n"}, "again")
    assert world.sync(poll=True).ok
    assert world.row(dropped.id).state == RepoState.ACTIVE
    assert_exact_mirror(world, "octo/dropped", "github/octo/dropped")


def test_a_deleted_repository_leaving_the_list_is_gone_not_unstarred(world: World) -> None:
    repo = world.github.create_repo("octo", "doomed")
    world.star("octo/doomed")
    world.overrides["EPICSTAR_UNSTAR_POLICY"] = "delete"
    world.sync(poll=True)
    refs = world.onedev.refs("github/octo/doomed")

    world.github.delete("octo/doomed")
    poll = world.sync(poll=True, full_walk=True).poll

    assert poll is not None
    assert [change.kind for change in poll.changes] == ["gone"]
    assert world.row(repo.id).state == RepoState.SOURCE_GONE
    assert world.onedev.refs("github/octo/doomed") == refs, "never deleted: it is all that is left"

    world.github.restore("octo/doomed")
    back = world.sync(poll=True, full_walk=True)
    assert back.poll is not None
    assert [change.kind for change in back.poll.changes] == ["back"]
    assert world.row(repo.id).state == RepoState.ACTIVE


def test_rename_in_the_star_list_keeps_one_project(world: World) -> None:
    repo = world.github.create_repo("octo", "before")
    world.star("octo/before")
    world.sync(poll=True)
    projects = len(world.onedev.projects())

    world.github.rename("octo/before", "other/after")
    world.github.commit("other/after", "main", {"x.txt": "x\n"}, "x")
    summary = world.sync(poll=True)

    assert summary.ok
    assert summary.poll is not None
    assert [change.kind for change in summary.poll.changes] == ["rename"]
    assert world.row(repo.id).full_name == "other/after"
    assert len(world.onedev.projects()) == projects
    assert_exact_mirror(world, "other/after", "github/octo/before")


def test_two_dotfiles_of_two_owners_get_two_projects(world: World) -> None:
    world.github.create_repo("alice", "dotfiles")
    world.github.create_repo("bob", "dotfiles")
    world.star("alice/dotfiles", "bob/dotfiles")
    assert world.sync(poll=True).ok
    assert_exact_mirror(world, "alice/dotfiles", "github/alice/dotfiles")
    assert_exact_mirror(world, "bob/dotfiles", "github/bob/dotfiles")


def test_filtered_repositories_never_touch_onedev(world: World) -> None:
    world.github.create_repo("octo", "wanted", language="Python")
    world.github.create_repo("octo", "a-fork", fork=True, language="Python")
    world.github.create_repo("octo", "old", archived=True, language="Python")
    world.github.create_repo("octo", "go-thing", language="Go")
    world.github.create_repo("noisy", "stuff", language="Python")
    world.star("octo/wanted", "octo/a-fork", "octo/old", "octo/go-thing", "noisy/stuff")
    world.overrides.update(
        {
            "EPICSTAR_EXCLUDE": "noisy/*",
            "EPICSTAR_SKIP_FORKS": "true",
            "EPICSTAR_SKIP_ARCHIVED": "true",
            "EPICSTAR_LANGUAGES": "python, rust",
        }
    )
    summary = world.sync(poll=True)

    assert summary.ok
    assert summary.poll is not None
    kinds = {change.full_name: change.kind for change in summary.poll.changes}
    assert kinds == {
        "octo/wanted": "track",
        "octo/a-fork": "exclude",
        "octo/old": "exclude",
        "octo/go-thing": "exclude",
        "noisy/stuff": "exclude",
    }
    paths = {project["path"] for project in world.onedev.projects()}
    assert paths == {"github", "github/octo", "github/octo/wanted"}
    assert world.github.count(git=True, path_prefix="/noisy/") == 0

    # A filter lifted later brings the repository in.
    world.overrides["EPICSTAR_SKIP_FORKS"] = "false"
    again = world.sync(poll=True, full_walk=True)
    assert again.ok
    assert_exact_mirror(world, "octo/a-fork", "github/octo/a-fork")


def test_manually_added_repositories_ignore_stars(world: World) -> None:
    repo = world.github.create_repo("octo", "by-hand")
    world.add("octo/by-hand")
    world.github.create_repo("octo", "starred")
    world.star("octo/starred")
    assert world.sync(poll=True, full_walk=True).ok
    row = world.row(repo.id)
    assert (row.origin, row.state) == (Origin.MANUAL, RepoState.ACTIVE)


def test_public_stars_of_a_named_user_need_no_token(world: World) -> None:
    world.github.create_repo("octo", "public")
    world.github.create_repo("octo", "hidden", private=True)
    world.star("octo/public", "octo/hidden")
    world.overrides.update({"EPICSTAR_GITHUB_USER": world.login, "EPICSTAR_GITHUB_TOKEN": ""})

    summary = world.sync(poll=True)

    assert summary.ok
    assert summary.poll is not None
    assert [change.full_name for change in summary.poll.changes] == ["octo/public"]
    assert world.github.count(path_prefix=f"/users/{world.login}/starred") == 1
    assert_exact_mirror(world, "octo/public", "github/octo/public")


def test_archived_repositories_are_refreshed_less_often(world: World) -> None:
    lively = world.github.create_repo("octo", "lively")
    frozen = world.github.create_repo("octo", "frozen", archived=True)
    world.star("octo/lively", "octo/frozen")
    assert world.sync(poll=True).ok
    lively_due = world.row(lively.id).next_due_at
    frozen_due = world.row(frozen.id).next_due_at
    assert lively_due is not None
    assert frozen_due is not None
    assert frozen_due - lively_due > timedelta(days=4)
    assert_exact_mirror(world, "octo/frozen", "github/octo/frozen")

    world.overrides["EPICSTAR_REFRESH_INTERVAL"] = "60"
    with open_context(world.settings()) as ctx:
        ctx.clock = lambda: datetime.now(UTC) + timedelta(hours=2)
        later = run_sync(ctx, due_only=True)
    assert [report.github_id for report in later.reports] == [lively.id]


def test_rate_limits_while_walking_the_list_are_waited_out(world: World) -> None:
    names = [f"r{number:03}" for number in range(120)]
    world.github.create_repos("many", names)
    world.star(*(f"many/{name}" for name in names))
    world.overrides["EPICSTAR_EXCLUDE"] = "many/*"
    world.github.inject(
        "GET",
        r"^/user/starred$",
        403,
        headers={"retry-after": "1"},
        body={"message": "You have exceeded a secondary rate limit."},
    )
    report = world.poll()
    assert (report.stars_seen, report.full_walk) == (120, True)
    assert world.github.count(path_prefix="/user/starred", status=403) == 1


def test_a_list_that_cannot_be_read_does_not_stop_mirroring(world: World) -> None:
    repo = world.github.create_repo("octo", "known")
    world.add("octo/known")
    world.overrides["EPICSTAR_GITHUB_USER"] = "nobody-by-that-name"
    summary = world.sync(poll=True)
    assert summary.poll_error is not None
    assert "EPICSTAR_GITHUB_USER" in summary.poll_error
    assert not summary.ok
    assert [report.github_id for report in summary.reports] == [repo.id]
    assert_exact_mirror(world, "octo/known", "github/octo/known")


def test_the_servers_list_tells_an_agents_repositories_only_metadata_and_star_time(
    world: World,
) -> None:
    """A repository in agent mode is the agent's: whether it is starred or left out is what the
    agent reports (docs/agent.md). The server's own list, the same user's or another's, read
    before or after the agent's report, only refreshes what GitHub says of it and its star time."""
    long_ago = datetime(2001, 1, 1, tzinfo=UTC)
    states = {
        "agents/dropped": RepoState.UNSTARRED,  # the agent reported its unstar
        "agents/left-out": RepoState.EXCLUDED,  # excluded when the agent registered it
        "agents/kept": RepoState.ACTIVE,
    }
    ids = {}
    for full_name in states:
        owner, name = full_name.split("/")
        ids[full_name] = world.github.create_repo(owner, name).id
        world.github.set_description(full_name, f"{name}, as GitHub says now")
    database = world.db()
    try:
        with database.session() as session:
            for full_name, state in states.items():
                session.add(
                    Repository(
                        github_id=ids[full_name],
                        full_name=full_name,
                        origin=Origin.STAR,
                        sync_method=SyncMethod.AGENT,
                        state=state,
                        state_reason=None if state != RepoState.EXCLUDED else "filtered",
                        sync_status=SyncStatus.COMPLETED,
                        retry_count=0,
                        description="as the agent said",
                        starred_at=long_ago,
                        unstarred_at=long_ago if state == RepoState.UNSTARRED else None,
                        next_due_at=None,
                    )
                )
    finally:
        database.dispose()
    world.star(*states)
    world.overrides["EPICSTAR_EXCLUDE"] = "agents/kept"  # the server's filters changed since

    polled = world.poll(full=True)

    assert polled.changes == []  # no restar, include or exclude
    for full_name, state in states.items():
        row = world.row(ids[full_name])
        assert (row.state, row.sync_method) == (state, SyncMethod.AGENT), full_name
        assert row.description == f"{full_name.split('/')[1]}, as GitHub says now"
        assert row.starred_at is not None
        assert row.starred_at.replace(tzinfo=UTC) > long_ago
    assert world.row(ids["agents/dropped"]).unstarred_at is not None
    assert world.onedev.projects() == []
