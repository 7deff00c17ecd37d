"""A server or network failure that passes in a second costs the pass nothing: it is tried
again at once (a create only after looking its project up), and only a lasting one fails."""

from __future__ import annotations

import pytest

from epicstar.state.models import AttemptOutcome
from tests.e2e.conftest import ONE_DATABASE, World
from tests.e2e.helpers import assert_exact_mirror, wait_for

pytestmark = ONE_DATABASE

CREATE = r"^/~api/projects$"
UPLOAD_PACK = r"\.git/git-upload-pack$"
RECEIVE_PACK = r"\.git/git-receive-pack$"


def _repository(world: World, name: str = "x") -> int:
    repo = world.github.create_repo("octo", name)
    world.add(f"octo/{name}")
    return int(repo.id)


def _creates(world: World) -> int:
    return sum(1 for r in world.onedev.requests("POST") if r.path == "/~api/projects")


def _mirrored_once(world: World, github_id: int, name: str = "x") -> None:
    """Completed on the first pass, into exactly one project."""
    assert [a.outcome for a in world.attempts(github_id)] == [AttemptOutcome.MIRRORED]
    paths = [p["path"] for p in world.onedev.projects()]
    assert paths.count(f"github/octo/{name}") == 1
    assert sorted(paths) == sorted(set(paths))
    assert_exact_mirror(world, f"octo/{name}", f"github/octo/{name}")


def test_two_500s_on_project_creation_cost_no_failed_sync(world: World) -> None:
    github_id = _repository(world)
    world.onedev.inject("POST", CREATE, 500, body="Internal Server Error", times=2)

    result = world.cli("sync")

    assert result.returncode == 0, result.stderr
    assert world.onedev.count("POST", status=500) == 2
    _mirrored_once(world, github_id)


def test_create_answered_500_but_done_is_found_not_created_twice(world: World) -> None:
    world.onedev.add_project("github/octo")
    github_id = _repository(world)
    world.onedev.inject("POST", CREATE, 500, body="Internal Server Error", take_effect=True)

    summary = world.sync()

    assert summary.ok
    assert summary.reports[0].project_created
    assert _creates(world) == 1
    _mirrored_once(world, github_id)


def test_create_whose_connection_was_reset_after_creating_is_found(world: World) -> None:
    world.onedev.add_project("github/octo")
    github_id = _repository(world)
    world.onedev.inject_reset("POST", CREATE, take_effect=True)

    assert world.sync().ok
    assert _creates(world) == 1
    _mirrored_once(world, github_id)


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_onedev_5xx_on_create_is_tried_again(world: World, status: int) -> None:
    github_id = _repository(world)
    world.onedev.inject("POST", CREATE, status, body="<html>Bad gateway</html>", times=2)
    assert world.sync().ok
    _mirrored_once(world, github_id)


@pytest.mark.parametrize(
    ("method", "route"),
    [
        ("GET", r"^/~api/projects/ids/github/octo/x$"),
        ("POST", r"^/~api/repositories/\d+/default-branch$"),
    ],
)
@pytest.mark.parametrize("status", [500, 503])
def test_onedev_5xx_on_reads_and_updates_is_tried_again(
    world: World, method: str, route: str, status: int
) -> None:
    github_id = _repository(world)
    world.onedev.inject(method, route, status, body="Internal Server Error", times=2)
    assert world.sync().ok
    assert world.onedev.count(method, status=status) == 2
    _mirrored_once(world, github_id)


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_github_5xx_is_tried_again(world: World, status: int) -> None:
    github_id = _repository(world)
    world.github.inject("GET", r"^/repos/octo/x$", status, body="<html>Unicorn</html>", times=2)
    assert world.sync().ok
    _mirrored_once(world, github_id)


def test_reset_connections_are_tried_again(world: World) -> None:
    github_id = _repository(world)
    world.github.inject_reset("GET", r"^/repos/octo/x$")
    world.onedev.inject_reset("GET", r"^/~api/projects/ids/")
    assert world.sync().ok
    _mirrored_once(world, github_id)


def test_api_requests_that_time_out_are_tried_again(world: World) -> None:
    world.overrides["EPICSTAR_HTTP_TIMEOUT"] = "1"
    world.onedev.add_project("github/octo")
    github_id = _repository(world)
    world.github.inject_delay("GET", r"^/repos/octo/x$", 2.5)
    world.onedev.inject_delay("POST", CREATE, 2.5)

    assert world.sync().ok

    # One by `epicstar add`, then the pass's: the one that timed out and its second try.
    assert world.github.count("GET", "/repos/octo/x") == 3
    _mirrored_once(world, github_id)


@pytest.mark.parametrize("status", [500, 502, 503])
def test_git_fetch_hitting_a_5xx_is_tried_again(world: World, status: int) -> None:
    github_id = _repository(world)
    world.github.inject("POST", UPLOAD_PACK, status, body="Bad gateway", times=2)
    assert world.sync().ok
    assert world.github.count("POST", status=status) == 2
    _mirrored_once(world, github_id)


def test_git_fetch_whose_connection_was_reset_is_tried_again(world: World) -> None:
    github_id = _repository(world)
    world.github.inject_reset("*", r"\.git/info/refs$")
    assert world.sync().ok
    _mirrored_once(world, github_id)


@pytest.mark.parametrize("status", [500, 503])
def test_git_push_hitting_a_5xx_is_tried_again(world: World, status: int) -> None:
    github_id = _repository(world)
    world.onedev.inject("POST", RECEIVE_PACK, status, body="Service Unavailable")
    assert world.sync().ok
    _mirrored_once(world, github_id)


def test_git_push_reset_after_it_landed_is_tried_again(world: World) -> None:
    github_id = _repository(world)
    world.onedev.inject_reset("POST", RECEIVE_PACK, take_effect=True)
    assert world.sync().ok
    assert world.onedev.count("POST", git_service="git-receive-pack") == 2
    _mirrored_once(world, github_id)


def test_a_git_command_past_its_deadline_is_not_tried_again(world: World) -> None:
    world.overrides["EPICSTAR_GIT_TIMEOUT"] = "5"
    github_id = _repository(world)
    world.github.inject_delay("POST", UPLOAD_PACK, 8)

    summary = world.sync()

    assert not summary.ok
    assert "did not finish within 5s" in (world.row(github_id).error or "")
    wait_for(lambda: world.github.count("POST", git_service="git-upload-pack") >= 1)
    assert world.github.count("POST", git_service="git-upload-pack") == 1


@pytest.mark.parametrize("server", ["github", "onedev"])
def test_retry_after_of_a_503_is_honoured(world: World, server: str) -> None:
    github_id = _repository(world)
    fake = world.github if server == "github" else world.onedev
    route = r"^/repos/octo/x$" if server == "github" else r"^/~api/projects/ids/github$"
    fake.inject("GET", route, 503, headers={"retry-after": "2"}, body="Service Unavailable")

    assert world.sync().ok

    first, second = [r for r in fake.requests("GET") if r.path == route.strip("^$")][-2:]
    assert first.status == 503
    assert second.started - first.started >= 2.0
    _mirrored_once(world, github_id)


def test_a_lasting_failure_still_fails_the_pass_within_seconds(world: World) -> None:
    github_id = _repository(world)
    world.onedev.inject("POST", CREATE, 503, body="Service Unavailable", times=None)

    summary = world.sync()

    assert not summary.ok
    assert summary.reports[0].seconds < 15
    assert 2 <= _creates(world) <= 4
    assert "503" in (world.row(github_id).error or "")
