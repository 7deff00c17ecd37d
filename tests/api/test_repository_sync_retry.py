"""``POST /api/v1/repositories/{github_id}/sync`` and ``/retry``: a pass now, on request."""

from __future__ import annotations

from sqlalchemy import update

from epicstar.state.models import Repository, SyncStatus
from tests.api.actions import assert_names_the_key, audited, row, wait_for_attempts
from tests.api.conftest import Api
from tests.e2e.helpers import assert_exact_mirror, wait_for

PROJECTS = r"^/~api/projects$"


def added(api: Api, key: str, owner: str, name: str) -> int:
    """A sandbox repository added through the API, once its first pass has ended."""
    repo = api.world.github.create_repo(owner, name)
    response = api.post("/repositories", key, json={"full_name": f"{owner}/{name}"})
    assert response.status_code == 201, response.text
    wait_for_attempts(api, key, repo.id, 1)
    return int(repo.id)


def test_sync_mirrors_a_push_now(api: Api) -> None:
    key = api.key("write", name="ci")
    github_id = added(api, key, "synced", "pushed")
    api.world.github.commit("synced/pushed", "main", {"new.txt": "new\n"}, "pushed upstream")

    response = api.post(f"/repositories/{github_id}/sync", key)

    assert response.status_code == 202
    assert response.json() == {"status": "accepted", "github_id": github_id}
    newest, _first = wait_for_attempts(api, key, github_id, 2)
    assert (newest["trigger"], newest["outcome"]) == ("api", "mirrored")
    assert newest["new_commits"] == 1
    assert_exact_mirror(api.world, "synced/pushed", "github/synced/pushed")
    [entry] = audited(api, "repository.sync_requested", github_id)
    assert_names_the_key(entry, key, "ci")
    assert entry.details == {"force": False}


def test_a_forced_sync_fetches_and_pushes_what_is_unchanged(api: Api) -> None:
    key = api.key("write")
    github_id = added(api, key, "synced", "forced")

    assert (
        api.post(f"/repositories/{github_id}/sync", key, json={"force": False}).status_code == 202
    )
    plain = wait_for_attempts(api, key, github_id, 2)[0]
    assert plain["outcome"] == "unchanged", "GitHub advertised what was mirrored"

    assert api.post(f"/repositories/{github_id}/sync", key, json={"force": True}).status_code == 202

    forced = wait_for_attempts(api, key, github_id, 3)[0]
    assert (forced["trigger"], forced["outcome"], forced["refs_changed"]) == ("api", "mirrored", 0)
    details = [entry.details for entry in audited(api, "repository.sync_requested", github_id)]
    assert details == [{"force": False}, {"force": True}]


def test_sync_refuses_what_is_not_active_or_not_tracked(api: Api) -> None:
    api.track(1300, "synced/removed", state="excluded", state_reason="by hand")
    key = api.key("write")

    refused = api.post("/repositories/1300/sync", key)

    assert refused.status_code == 409
    assert "excluded" in refused.json()["detail"]
    assert audited(api, "repository.sync_requested", 1300) == []
    assert api.post("/repositories/1301/sync", key).status_code == 404
    for body in ({"force": "maybe"}, {"force": True, "now": True}, [True]):
        assert api.post("/repositories/1300/sync", key, json=body).status_code == 422, body


def test_retry_gives_a_failed_repository_a_fresh_start(api: Api) -> None:
    world = api.world
    key = api.key("write", name="ops")
    repo = world.github.create_repo("retried", "flaky")
    world.onedev.inject("POST", PROJECTS, 500, body="Internal Server Error", times=None)
    try:
        assert (
            api.post("/repositories", key, json={"full_name": "retried/flaky"}).status_code == 201
        )
        wait_for_attempts(api, key, repo.id, 1)
        assert (row(api, repo.id).sync_status, row(api, repo.id).retry_count) == ("failed", 1)

        still = api.post(f"/repositories/{repo.id}/retry", key)

        assert still.status_code == 202
        again = wait_for_attempts(api, key, repo.id, 2)[0]
        assert (again["trigger"], again["outcome"]) == ("api", "failed")
        failed = row(api, repo.id)
        assert (failed.sync_status, failed.retry_count) == ("failed", 1), "counted afresh"
        assert "500" in (failed.error or "")
    finally:
        world.onedev.faults.clear()

    assert api.post(f"/repositories/{repo.id}/retry", key).status_code == 202

    fixed = wait_for_attempts(api, key, repo.id, 3)[0]
    assert (fixed["trigger"], fixed["outcome"]) == ("api", "mirrored")
    done = row(api, repo.id)
    assert (done.sync_status, done.retry_count, done.error) == ("completed", 0, None)
    assert_exact_mirror(world, "retried/flaky", "github/retried/flaky")
    entries = audited(api, "repository.retry_requested", repo.id)
    assert [entry.details for entry in entries] == [
        {"previous_status": "failed", "previous_retry_count": 1},
        {"previous_status": "failed", "previous_retry_count": 1},
    ]
    assert_names_the_key(entries[0], key, "ops")

    refused = api.post(f"/repositories/{repo.id}/retry", key)
    assert refused.status_code == 409, "it has not failed"
    assert "completed" in refused.json()["detail"]


def test_retry_takes_a_permanent_failure_back_into_the_schedule(api: Api) -> None:
    key = api.key("write")
    github_id = added(api, key, "retried", "given-up")
    with api.database.session() as session:
        session.execute(
            update(Repository)
            .where(Repository.github_id == github_id)
            .values(
                sync_status=SyncStatus.PERMANENT_FAILURE,
                retry_count=8,
                error="403: OneDev refused",
                next_due_at=None,
            )
        )

    response = api.post(f"/repositories/{github_id}/retry", key)

    assert response.status_code == 202
    newest = wait_for_attempts(api, key, github_id, 2)[0]
    assert (newest["trigger"], newest["outcome"]) == ("api", "unchanged")
    after = row(api, github_id)
    assert (after.sync_status, after.retry_count, after.error) == ("completed", 0, None)
    [entry] = audited(api, "repository.retry_requested", github_id)
    assert entry.details == {"previous_status": "permanent_failure", "previous_retry_count": 8}


def test_retry_refuses_what_is_not_failed_active_or_tracked(api: Api) -> None:
    api.track(1310, "retried/fine")
    api.track(1311, "retried/removed", state="excluded", sync_status="failed")
    key = api.key("write")
    assert api.post("/repositories/1310/retry", key).status_code == 409
    assert api.post("/repositories/1311/retry", key).status_code == 409
    assert api.post("/repositories/1312/retry", key).status_code == 404
    assert row(api, 1311).sync_status == "failed"
    assert audited(api, "repository.retry_requested", 1310) == []


def test_a_sync_asked_for_during_a_pass_runs_once_that_pass_ends(api: Api) -> None:
    """The running pass may have fetched before the push it was asked for: the pass asked
    for waits for it, then runs."""
    world = api.world
    key = api.key("write")
    repo = world.github.create_repo("synced", "busy")
    world.onedev.inject_delay("POST", r"/synced/busy\.git/git-receive-pack$", 3, times=None)
    try:
        assert api.post("/repositories", key, json={"full_name": "synced/busy"}).status_code == 201
        wait_for(lambda: world.github.count("POST", "/synced/busy", "git-upload-pack") > 0)
        world.github.commit("synced/busy", "main", {"late.txt": "late\n"}, "after the fetch")

        assert api.post(f"/repositories/{repo.id}/sync", key).status_code == 202
        assert row(api, repo.id).sync_status == SyncStatus.IN_PROGRESS, "the first pass runs"

        newest, first = wait_for_attempts(api, key, repo.id, 2)
    finally:
        world.onedev.faults.clear()
    assert first["outcome"] == "mirrored"
    assert (newest["trigger"], newest["outcome"], newest["new_commits"]) == ("api", "mirrored", 1)
    assert_exact_mirror(world, "synced/busy", "github/synced/busy")
