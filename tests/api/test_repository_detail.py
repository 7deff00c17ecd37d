"""``GET /api/v1/repositories/{github_id}``, and who may call each repository route."""

from __future__ import annotations

from datetime import timedelta

import pytest

from epicstar.state.models import AttemptOutcome, SyncAttempt, utcnow
from tests.api.conftest import Api

WRITES = [
    (1110, "POST", "/repositories", {"full_name": "scopes/any"}),
    (1111, "DELETE", "/repositories/{id}", None),
    (1112, "POST", "/repositories/{id}/sync", {"force": False}),
    (1113, "POST", "/repositories/{id}/retry", None),
    (1114, "POST", "/repositories/{id}/approve", None),
]


def test_one_repository_with_its_ten_newest_attempts(api: Api) -> None:
    api.track(1100, "detail/one", description="the one", error=None)
    start = utcnow() - timedelta(hours=1)
    with api.database.session() as session:
        for number in range(12):
            began = start + timedelta(minutes=number)
            session.add(
                SyncAttempt(
                    repository_id=1100,
                    trigger="schedule" if number % 2 else "webhook",
                    started_at=began,
                    finished_at=began + timedelta(seconds=2.5),
                    outcome=AttemptOutcome.MIRRORED if number != 11 else AttemptOutcome.FAILED,
                    refs_changed=number,
                    new_commits=number * 2,
                    bytes_fetched=1000 + number,
                    error="git push: boom" if number == 11 else None,
                )
            )
        session.add(SyncAttempt(repository_id=1100, trigger="api", started_at=utcnow()))
    key = api.key("read")

    response = api.get("/repositories/1100", key)

    assert response.status_code == 200
    body = response.json()
    assert (body["github_id"], body["full_name"], body["description"]) == (
        1100,
        "detail/one",
        "the one",
    )
    assert body["onedev_path"] == "github/detail/one"
    attempts = body["attempts"]
    assert len(attempts) == 10
    running, failed, *rest = attempts
    assert (running["trigger"], running["finished_at"], running["outcome"]) == ("api", None, None)
    assert running["duration_seconds"] is None
    assert failed["outcome"] == "failed"
    assert failed["error"] == "git push: boom"
    assert failed["duration_seconds"] == pytest.approx(2.5)
    assert (failed["refs_changed"], failed["new_commits"], failed["bytes_fetched"]) == (
        11,
        22,
        1011,
    )
    assert [attempt["refs_changed"] for attempt in rest] == [10, 9, 8, 7, 6, 5, 4, 3]
    for attempt in attempts:
        assert attempt["github_id"] == 1100  # attempts look as GET /attempts shows them
        assert set(attempt) == {
            "id",
            "github_id",
            "full_name",
            "trigger",
            "started_at",
            "finished_at",
            "duration_seconds",
            "outcome",
            "refs_changed",
            "new_commits",
            "bytes_fetched",
            "lfs",
            "wiki_refs_changed",
            "error",
        }


def test_a_repository_without_attempts_has_an_empty_list(api: Api) -> None:
    api.track(1101, "detail/fresh")
    body = api.get("/repositories/1101", api.key("read")).json()
    assert body["attempts"] == []


def test_an_unknown_id_is_404_and_a_bad_one_422(api: Api) -> None:
    key = api.key("read")
    unknown = api.get("/repositories/424242", key)
    assert unknown.status_code == 404
    assert "424242" in unknown.json()["detail"]
    for bad in ("0", "-1", "x", str(2**63), "1.5"):
        response = api.get(f"/repositories/{bad}", key)
        assert response.status_code == 422, bad
        assert "detail" in response.json()
    assert api.get(f"/repositories/{2**63 - 1}", key).status_code == 404


@pytest.mark.parametrize(("github_id", "method", "path", "body"), WRITES)
def test_write_routes_refuse_a_read_key_and_a_missing_one(
    api: Api, github_id: int, method: str, path: str, body: dict[str, object] | None
) -> None:
    api.track(github_id, f"detail/guarded-{github_id}", sync_status="failed")
    url = path.format(id=github_id)
    options = {"json": body} if body is not None else {}

    refused = api.request(method, url, api.key("read"), **options)
    assert refused.status_code == 403
    assert "'write' scope" in refused.json()["detail"]
    anonymous = api.request(method, url, None, **options)
    assert anonymous.status_code == 401
    assert anonymous.headers["www-authenticate"] == "Bearer"
    assert api.request(method, url, api.key("agent"), **options).status_code == 403

    after = api.get(f"/repositories/{github_id}", api.key("read")).json()
    assert (after["state"], after["attempts"]) == ("active", []), "nothing was done"


def test_the_read_route_refuses_a_missing_key(api: Api) -> None:
    api.track(1103, "detail/hidden")
    response = api.get("/repositories/1103")
    assert response.status_code == 401
    assert "hidden" not in response.text
