"""``POST /api/v1/repositories`` and ``DELETE /api/v1/repositories/{github_id}``: tracking
and untracking through the API, mirrored at once, kept out of the starred list's reach."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from epicstar.state.models import Origin, RepoState, StarListState, SyncStatus
from tests.api.actions import assert_names_the_key, audited, row, wait_for_attempts
from tests.api.conftest import Api
from tests.e2e.helpers import assert_exact_mirror, wait_for


def test_a_repository_added_through_the_api_is_mirrored_at_once(api: Api) -> None:
    repo = api.world.github.create_repo("added", "at-once")
    key = api.key("write", name="phone")

    response = api.post("/repositories", key, json={"full_name": "added/at-once"})

    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["github_id"], body["full_name"], body["state"], body["origin"]) == (
        repo.id,
        "added/at-once",
        "active",
        "manual",
    )
    assert response.headers["location"] == f"/api/v1/repositories/{repo.id}"
    [attempt] = wait_for_attempts(api, key, repo.id, 1)
    assert (attempt["trigger"], attempt["outcome"]) == ("api", "mirrored")
    assert_exact_mirror(api.world, "added/at-once", "github/added/at-once")
    [entry] = audited(api, "repository.added", repo.id)
    assert_names_the_key(entry, key, "phone")
    assert entry.details == {
        "created": True,
        "reactivated_from": None,
        "previous_reason": None,
        "previous_origin": None,
    }

    again = api.post("/repositories", key, json={"full_name": "ADDED/at-once"})
    assert again.status_code == 200
    assert again.json()["github_id"] == repo.id
    assert len(audited(api, "repository.added", repo.id)) == 1, "nothing changed"


def test_a_github_url_is_accepted_as_epicstar_add_accepts_it(api: Api) -> None:
    repo = api.world.github.create_repo("added", "by-url")
    key = api.key("write")
    response = api.post(
        "/repositories", key, json={"full_name": "https://github.com/added/by-url.git"}
    )
    assert response.status_code == 201, response.text
    assert response.json()["github_id"] == repo.id


def test_a_repository_github_does_not_have_is_404_and_not_tracked(api: Api) -> None:
    key = api.key("write")
    response = api.post("/repositories", key, json={"full_name": "added/never-was"})
    assert response.status_code == 404
    assert "added/never-was" in response.json()["detail"]
    listed = api.get("/repositories", key, params={"q": "never-was"}).json()
    assert listed["total"] == 0


def test_a_repository_github_blocks_is_451_with_the_reason(api: Api) -> None:
    api.world.github.create_repo("added", "taken-down")
    api.world.github.block("added/taken-down", reason="dmca")
    response = api.post("/repositories", api.key("write"), json={"full_name": "added/taken-down"})
    assert response.status_code == 451
    assert "dmca" in response.json()["detail"]


def test_malformed_names_and_bodies_are_422(api: Api) -> None:
    key = api.key("write")
    bodies: list[object] = [
        {"full_name": "no-slash"},
        {"full_name": "a/b/c"},
        {"full_name": "owner/.."},
        {"full_name": "https://github.com/only-owner"},
        {"full_name": ""},
        {"full_name": "x" * 501},
        {"full_name": 5},
        {"full_name": None},
        {"full_name": "a/b", "extra": True},
        {},
        [],
    ]
    for body in bodies:
        response = api.post("/repositories", key, json=body)
        assert response.status_code == 422, body
        assert "detail" in response.json()
    assert api.post("/repositories", key, content=b"{not json").status_code == 422
    named = api.post("/repositories", key, json={"full_name": "no-slash"}).json()["detail"]
    assert "OWNER/NAME" in named


def test_github_out_of_reach_or_refusing_the_token_is_503_with_its_reason(api: Api) -> None:
    api.world.github.create_repo("added", "unlucky")
    key = api.key("write")
    github = api.world.github
    try:
        github.inject(
            "GET", r"^/repos/added/unlucky$", 502, body="<html>bad gateway</html>", times=None
        )
        unreachable = api.post("/repositories", key, json={"full_name": "added/unlucky"})
        assert unreachable.status_code == 503
        assert "GitHub" in unreachable.json()["detail"]
        assert int(unreachable.headers["retry-after"]) > 0
        github.faults.clear()

        github.inject(
            "GET",
            r"^/repos/added/unlucky$",
            403,
            headers={"x-ratelimit-remaining": "0", "x-ratelimit-reset": "9999999999"},
            body={"message": "API rate limit exceeded"},
        )
        limited = api.post("/repositories", key, json={"full_name": "added/unlucky"})
        assert limited.status_code == 503
        assert "rate limit" in limited.json()["detail"]
        assert int(limited.headers["retry-after"]) > 60

        github.inject("GET", r"^/repos/added/unlucky$", 401, body={"message": "Bad credentials"})
        rejected = api.post("/repositories", key, json={"full_name": "added/unlucky"})
        assert rejected.status_code == 503
        detail = rejected.json()["detail"]
        assert "token" in detail
        assert "EPICSTAR_GITHUB_TOKEN" in detail
        assert api.world.github_token not in rejected.text
    finally:
        github.faults.clear()
    listed = api.get("/repositories", key, params={"q": "unlucky"}).json()
    assert listed["total"] == 0, "nothing was tracked"


def test_removing_keeps_the_mirror_and_adding_brings_it_back(api: Api) -> None:
    repo = api.world.github.create_repo("removed", "kept")
    key = api.key("write", name="laptop")
    assert api.post("/repositories", key, json={"full_name": "removed/kept"}).status_code == 201
    wait_for_attempts(api, key, repo.id, 1)
    mirrored = api.world.onedev.refs("github/removed/kept")
    cache = api.world.data_dir / "cache" / f"{repo.id}.git"
    assert cache.is_dir()

    response = api.delete(f"/repositories/{repo.id}", key)

    assert response.status_code == 204
    assert response.content == b""
    removed = row(api, repo.id)
    prefix = key.split("_")[1]
    assert (removed.state, removed.origin) == (RepoState.EXCLUDED, Origin.MANUAL)
    assert removed.state_reason == f"removed through the API by API key 'laptop' (esk_{prefix}_…)"
    assert removed.next_due_at is None
    assert api.world.onedev.project("github/removed/kept") is not None
    assert api.world.onedev.refs("github/removed/kept") == mirrored
    assert cache.is_dir()
    [entry] = audited(api, "repository.removed", repo.id)
    assert_names_the_key(entry, key, "laptop")
    assert entry.details == {"previous_state": "active", "previous_origin": "manual"}

    assert api.delete(f"/repositories/{repo.id}", key).status_code == 204, "idempotent"
    assert len(audited(api, "repository.removed", repo.id)) == 1

    api.world.github.commit("removed/kept", "main", {"later.txt": "later\n"}, "while removed")
    back = api.post("/repositories", key, json={"full_name": "removed/kept"})
    assert back.status_code == 201
    assert (back.json()["state"], back.json()["state_reason"]) == ("active", None)
    wait_for_attempts(api, key, repo.id, 2)
    assert_exact_mirror(api.world, "removed/kept", "github/removed/kept")
    _created, reactivated = audited(api, "repository.added", repo.id)
    assert reactivated.details == {
        "created": False,
        "reactivated_from": "excluded",
        "previous_reason": removed.state_reason,
        "previous_origin": "manual",
    }


def test_removing_an_unknown_repository_is_404(api: Api) -> None:
    response = api.delete("/repositories/777777", api.key("write"))
    assert response.status_code == 404
    assert api.delete(f"/repositories/{2**63}", api.key("write")).status_code == 422


def test_a_starred_repository_removed_through_the_api_stays_removed(api: Api) -> None:
    """The starred list governs only what it brought: a removal by hand is a more precise
    wish, so neither the next poll, a full walk, nor an unstar and star again undo it."""
    world = api.world
    repo = world.github.create_repo("starred", "unwanted")
    wait_for(lambda: served_polled(api))  # else both first polls would create its list row
    world.star("starred/unwanted")
    world.poll()
    assert (row(api, repo.id).origin, row(api, repo.id).state) == (Origin.STAR, RepoState.ACTIVE)
    key = api.key("write")

    assert api.delete(f"/repositories/{repo.id}", key).status_code == 204
    [entry] = audited(api, "repository.removed", repo.id)
    assert entry.details == {"previous_state": "active", "previous_origin": "star"}

    world.poll()
    world.poll(full=True)
    assert row(api, repo.id).state == RepoState.EXCLUDED
    world.github.unstar(world.login, "starred/unwanted")
    world.poll(full=True)
    assert row(api, repo.id).state == RepoState.EXCLUDED, "not 'unstarred'"
    world.star("starred/unwanted")
    world.poll(full=True)
    after = row(api, repo.id)
    assert (after.state, after.origin) == (RepoState.EXCLUDED, Origin.MANUAL)
    assert "removed through the API" in (after.state_reason or "")


def served_polled(api: Api) -> bool:
    with api.database.session() as session:
        state = session.get(StarListState, "user")
        return state is not None and state.last_poll_at is not None


def test_a_removal_during_a_pass_outlasts_the_pass(api: Api) -> None:
    """The pass started by the add ends after the removal: it records its mirror, and the
    repository stays removed."""
    world = api.world
    repo = world.github.create_repo("removed", "mid-pass")
    key = api.key("write")
    world.onedev.inject_delay("POST", r"/removed/mid-pass(\.git)?/git-receive-pack$", 3, times=None)
    try:
        assert (
            api.post("/repositories", key, json={"full_name": "removed/mid-pass"}).status_code
            == 201
        )
        wait_for(lambda: world.onedev.project("github/removed/mid-pass") is not None)
        assert row(api, repo.id).sync_status == SyncStatus.IN_PROGRESS

        assert api.delete(f"/repositories/{repo.id}", key).status_code == 204

        [attempt] = wait_for_attempts(api, key, repo.id, 1)
    finally:
        world.onedev.faults.clear()
    assert attempt["outcome"] == "mirrored"
    after = row(api, repo.id)
    assert (after.state, after.origin, after.sync_status) == (
        RepoState.EXCLUDED,
        Origin.MANUAL,
        SyncStatus.COMPLETED,
    )
    assert after.next_due_at is None
    assert_exact_mirror(world, "removed/mid-pass", "github/removed/mid-pass")


def test_the_same_repository_added_at_once_by_several_requests_is_added_once(api: Api) -> None:
    repo = api.world.github.create_repo("added", "twice")
    key = api.key("write")

    def add(_: int) -> int:
        return api.post("/repositories", key, json={"full_name": "added/twice"}).status_code

    with ThreadPoolExecutor(max_workers=6) as pool:
        statuses = sorted(pool.map(add, range(6)))

    assert statuses == [200, 200, 200, 200, 200, 201]
    assert len(audited(api, "repository.added", repo.id)) == 1
