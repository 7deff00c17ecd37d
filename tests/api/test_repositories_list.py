"""``GET /api/v1/repositories``: filters, search and pages over what is tracked."""

from __future__ import annotations

from datetime import timedelta

from epicstar.state.models import RepoState, SyncStatus, utcnow
from tests.api.conftest import Api


def test_lists_filters_searches_and_pages(api: Api) -> None:
    for number in range(7):
        api.track(900 + number, f"listing/Repo-{number}")
    api.track(990, "listing/gone", state=RepoState.SOURCE_GONE)
    api.track(991, "listing/broken", sync_status=SyncStatus.FAILED, error="boom")
    key = api.key("read")

    everything = api.get("/repositories", key, params={"q": "LISTING/", "per_page": 100}).json()
    assert everything["total"] == 9
    names = [item["full_name"] for item in everything["items"]]
    assert names == sorted(names, key=str.lower)
    item = next(item for item in everything["items"] if item["github_id"] == 991)
    for field in ("github_id", "full_name", "onedev_path", "state", "sync_status"):
        assert field in item
    assert item["error"] == "boom"
    assert "last_synced_at" in item

    second = api.get("/repositories", key, params={"q": "listing/repo", "per_page": 3, "page": 2})
    assert second.json()["total"] == 7
    assert [item["full_name"] for item in second.json()["items"]] == [
        "listing/Repo-3",
        "listing/Repo-4",
        "listing/Repo-5",
    ]
    assert second.json()["page"] == 2
    assert second.json()["per_page"] == 3

    gone = api.get("/repositories", key, params={"q": "listing", "state": "source_gone"}).json()
    assert [item["github_id"] for item in gone["items"]] == [990]
    failed = api.get("/repositories", key, params={"q": "listing", "sync_status": "failed"}).json()
    assert [item["github_id"] for item in failed["items"]] == [991]


def test_sorts_by_status_state_or_last_sync_either_way(api: Api) -> None:
    now = utcnow()
    api.track(1001, "sorting/b", last_synced_at=now - timedelta(days=2))
    api.track(1002, "sorting/a", last_synced_at=None, sync_status=SyncStatus.PENDING)
    api.track(1003, "sorting/c", last_synced_at=now, sync_status=SyncStatus.FAILED)
    key = api.key("read")

    def ids(sort: str) -> list[int]:
        answer = api.get("/repositories", key, params={"q": "sorting/", "sort": sort})
        assert answer.status_code == 200, answer.text
        return [item["github_id"] for item in answer.json()["items"]]

    assert ids("name") == [1002, 1001, 1003]
    assert ids("-name") == [1003, 1001, 1002]
    assert ids("sync_status") == [1001, 1003, 1002]  # completed, failed, pending
    assert ids("-last_synced_at") == [1003, 1001, 1002]  # never synced: last either way
    assert ids("last_synced_at") == [1001, 1003, 1002]
    assert api.get("/repositories", key, params={"sort": "secret"}).status_code == 422


def test_bad_queries_get_422(api: Api) -> None:
    key = api.key("read")
    for params in (
        {"per_page": 101},
        {"per_page": 0},
        {"page": 0},
        {"page": "x"},
        {"state": "sleeping"},
        {"sync_status": "done"},
        {"page": 10**30},
    ):
        response = api.get("/repositories", key, params=params)
        assert response.status_code == 422, params
        assert "detail" in response.json()


def test_a_search_with_wildcards_matches_them_literally(api: Api) -> None:
    api.track(995, "wild/under_score")
    api.track(996, "wild/underXscore")
    key = api.key("read")
    found = api.get("/repositories", key, params={"q": "under_s"}).json()
    assert [item["github_id"] for item in found["items"]] == [995]
    assert api.get("/repositories", key, params={"q": "%"}).json()["total"] == 0
