"""``GET /api/v1/attempts`` and ``GET /api/v1/repositories/{github_id}/attempts``: the history
of mirror passes, newest first, filtered and paged."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from epicstar.state.models import AttemptOutcome, SyncAttempt
from tests.api.conftest import Api


def record_attempt(
    api: Api,
    github_id: int,
    started_at: datetime,
    *,
    seconds: float | None = 90,
    outcome: str | None = AttemptOutcome.MIRRORED,
    **fields: Any,
) -> int:
    """An attempt as a pass leaves it; ``seconds=None``: still running."""
    finished_at = started_at + timedelta(seconds=seconds) if seconds is not None else None
    with api.database.session() as session:
        attempt = SyncAttempt(
            repository_id=github_id,
            trigger=fields.pop("trigger", "schedule"),
            started_at=started_at,
            finished_at=finished_at,
            outcome=outcome if seconds is not None else None,
            **fields,
        )
        session.add(attempt)
        session.flush()
        return attempt.id


def test_a_repositorys_attempts_come_newest_first_in_pages(api: Api) -> None:
    api.track(7001, "history/one")
    api.track(7002, "history/other")
    start = datetime(2024, 3, 1, 12, tzinfo=UTC)
    ids = [
        record_attempt(
            api,
            7001,
            start + timedelta(hours=hour),
            refs_changed=hour,
            new_commits=hour * 2,
            bytes_fetched=1000 * hour,
        )
        for hour in range(5)
    ]
    record_attempt(api, 7002, start + timedelta(hours=2, minutes=30))
    failed = record_attempt(
        api,
        7001,
        start + timedelta(hours=6),
        seconds=2.5,
        outcome=AttemptOutcome.FAILED,
        error="fetch failed: connection reset",
        trigger="api",
    )
    running = record_attempt(api, 7001, start + timedelta(hours=7), seconds=None)
    key = api.key("read")

    first = api.get("/repositories/7001/attempts", key, params={"per_page": 3})
    assert first.status_code == 200
    body = first.json()
    assert (body["total"], body["page"], body["per_page"]) == (7, 1, 3)
    assert [item["id"] for item in body["items"]] == [running, failed, ids[4]]
    now_running, just_failed, mirrored = body["items"]
    assert now_running["finished_at"] is None
    assert now_running["duration_seconds"] is None
    assert now_running["outcome"] is None
    assert just_failed == {
        "id": failed,
        "github_id": 7001,
        "full_name": "history/one",
        "trigger": "api",
        "started_at": "2024-03-01T18:00:00+00:00",
        "finished_at": "2024-03-01T18:00:02.500000+00:00",
        "duration_seconds": 2.5,
        "outcome": "failed",
        "refs_changed": 0,
        "new_commits": None,
        "bytes_fetched": 0,
        "lfs": None,
        "wiki_refs_changed": None,
        "error": "fetch failed: connection reset",
    }
    assert (mirrored["refs_changed"], mirrored["new_commits"], mirrored["bytes_fetched"]) == (
        4,
        8,
        4000,
    )
    assert mirrored["duration_seconds"] == 90

    last = api.get("/repositories/7001/attempts", key, params={"per_page": 3, "page": 3}).json()
    assert [item["id"] for item in last["items"]] == [ids[0]]
    beyond = api.get("/repositories/7001/attempts", key, params={"per_page": 3, "page": 4})
    assert beyond.json()["items"] == []
    assert beyond.json()["total"] == 7

    other = api.get("/repositories/7002/attempts", key).json()
    assert [item["full_name"] for item in other["items"]] == ["history/other"]


def test_a_repository_without_attempts_has_an_empty_history(api: Api) -> None:
    api.track(7010, "history/never-run")
    response = api.get("/repositories/7010/attempts", api.key("read"))
    assert response.status_code == 200
    assert response.json() == {"items": [], "total": 0, "page": 1, "per_page": 50}


def test_an_unknown_repository_is_404_and_an_impossible_id_422(api: Api) -> None:
    key = api.key("read")
    unknown = api.get("/repositories/7999/attempts", key)
    assert unknown.status_code == 404
    assert "7999" in unknown.json()["detail"]
    for github_id in ("0", "-5", str(2**63), "abc", "1.5"):
        response = api.get(f"/repositories/{github_id}/attempts", key)
        assert response.status_code == 422, github_id
        assert "detail" in response.json()
    assert api.get(f"/repositories/{2**63 - 1}/attempts", key).status_code == 404


def test_all_attempts_name_their_repository_and_filter_by_outcome_and_time(api: Api) -> None:
    api.track(7020, "everything/first")
    api.track(7021, "everything/second")
    start = datetime(2231, 5, 1, tzinfo=UTC)  # later than any other test's attempts
    older = record_attempt(api, 7020, start)
    gone = record_attempt(
        api, 7021, start + timedelta(minutes=10), outcome=AttemptOutcome.SOURCE_GONE
    )
    newer = record_attempt(api, 7020, start + timedelta(minutes=20))
    key = api.key("read")

    since = {"since": "2231-05-01T00:00:00Z"}
    everything = api.get("/attempts", key, params=since).json()
    assert everything["total"] == 3
    assert [(item["id"], item["github_id"], item["full_name"]) for item in everything["items"]] == [
        (newer, 7020, "everything/first"),
        (gone, 7021, "everything/second"),
        (older, 7020, "everything/first"),
    ]

    only_gone = api.get("/attempts", key, params={**since, "outcome": "source_gone"}).json()
    assert [item["id"] for item in only_gone["items"]] == [gone]
    paged = api.get("/attempts", key, params={**since, "per_page": 1, "page": 2}).json()
    assert ([item["id"] for item in paged["items"]], paged["total"]) == ([gone], 3)

    # The same moment three ways: with Z, with an offset, and without a zone (taken as UTC).
    for moment in ("2231-05-01T00:10:00Z", "2231-05-01T02:10:00+02:00", "2231-05-01T00:10:00"):
        found = api.get("/attempts", key, params={"since": moment}).json()
        assert [item["id"] for item in found["items"]] == [newer, gone], moment
    day = api.get("/attempts", key, params={"since": "2231-05-01"}).json()
    assert day["total"] == 3

    mirrored = api.get("/attempts", key, params={"outcome": "mirrored", "per_page": 100}).json()
    assert {item["outcome"] for item in mirrored["items"]} == {"mirrored"}
    assert {older, newer} <= {item["id"] for item in mirrored["items"]}


BAD_QUERIES = {
    "unknown outcome": {"outcome": "exploded"},
    "empty outcome": {"outcome": ""},
    "words for a time": {"since": "yesterday"},
    "month 13": {"since": "2024-13-01"},
    "february 30": {"since": "2024-02-30T00:00:00Z"},
    "year 10000 in UTC": {"since": "9999-12-31T23:59:59-23:59"},
    "year 0 in UTC": {"since": "0001-01-01T00:00:00+23:59"},
    "infinity": {"since": "inf"},
    "page 0": {"page": 0},
    "page past the bound": {"page": 1_000_001},
    "pages too long": {"per_page": 101},
    "negative page length": {"per_page": -1},
}


@pytest.mark.parametrize("params", BAD_QUERIES.values(), ids=BAD_QUERIES.keys())
def test_bad_queries_get_422(api: Api, params: dict[str, str]) -> None:
    key = api.key("read")
    for path in ("/attempts", "/repositories/7001/attempts"):
        response = api.get(path, key, params=params)
        assert response.status_code == 422, (path, params)
        assert "detail" in response.json()


def test_the_extremes_of_time_are_answered(api: Api) -> None:
    key = api.key("read")
    for moment in ("0001-01-01T00:00:00Z", "9999-12-31T23:59:59.999999Z", "0001-01-01"):
        response = api.get("/attempts", key, params={"since": moment})
        assert response.status_code == 200, moment
    assert api.get("/attempts", key, params={"since": "9999-12-31"}).json()["total"] == 0


@pytest.mark.parametrize("path", ["/attempts", "/repositories/7001/attempts"])
def test_reading_attempts_needs_a_read_key(api: Api, path: str) -> None:
    missing = api.get(path)
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"] == "Bearer"
    refused = api.get(path, api.key("agent"))
    assert refused.status_code == 403
    assert "'read' scope" in refused.json()["detail"]
    for scope in ("read", "write", "admin"):
        assert api.get(path, api.key(scope)).status_code in (200, 404)
