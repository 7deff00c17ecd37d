"""``GET /api/v1/summary`` of a running service: what is tracked, when the starred list was
polled and will be next, the queue and GitHub's budget."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from epicstar.state.models import RepoState, SyncStatus
from tests.api.conftest import Api
from tests.e2e.helpers import wait_for

POLL_INTERVAL = timedelta(seconds=300)  # EPICSTAR_POLL_INTERVAL's default


def summary(api: Api, key: str) -> dict[str, Any]:
    response = api.get("/summary", key)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_counts_every_state_and_status(api: Api) -> None:
    key = api.key("read")
    before = summary(api, key)
    assert set(before["by_state"]) == {state.value for state in RepoState}
    assert set(before["by_sync_status"]) == {status.value for status in SyncStatus}

    api.track(8001, "summary/fine")
    api.track(8002, "summary/broken", sync_status=SyncStatus.FAILED)
    api.track(8003, "summary/gone", state=RepoState.SOURCE_GONE)
    api.track(8004, "summary/hopeless", sync_status=SyncStatus.PERMANENT_FAILURE)
    after = summary(api, key)

    assert after["total"] - before["total"] == 4
    grew = {name: after["by_state"][name] - count for name, count in before["by_state"].items()}
    assert grew == {"active": 3, "unstarred": 0, "source_gone": 1, "blocked": 0, "excluded": 0}
    changed = {
        name: after["by_sync_status"][name] - count
        for name, count in before["by_sync_status"].items()
    }
    assert changed == {
        "pending": 0,
        "in_progress": 0,
        "completed": 2,
        "failed": 1,
        "permanent_failure": 1,
        "held": 0,
    }
    assert sum(after["by_state"].values()) == after["total"]
    assert sum(after["by_sync_status"].values()) == after["total"]


def test_tells_the_star_polls_the_queue_and_githubs_budget(api: Api) -> None:
    key = api.key("read")
    wait_for(lambda: api.served.events("stars.polled"), 60)  # the poll every start makes
    body = summary(api, key)

    last = datetime.fromisoformat(body["last_star_poll_at"])
    assert last.utcoffset() == timedelta(0)
    assert datetime.fromisoformat(body["next_star_poll_at"]) == last + POLL_INTERVAL
    assert isinstance(body["queue_depth"], int)
    assert body["queue_depth"] >= 0
    budget = body["github_rate_limit"]
    assert budget is not None
    sandbox = api.world.github.rate_limit(api.world.github_token)
    assert budget["limit"] == sandbox.limit
    assert sandbox.remaining <= budget["remaining"] < sandbox.limit
    assert datetime.fromisoformat(budget["reset"]).timestamp() == sandbox.reset


def test_reading_the_summary_needs_a_read_key(api: Api) -> None:
    missing = api.get("/summary")
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"] == "Bearer"
    refused = api.get("/summary", api.key("agent"))
    assert refused.status_code == 403
    assert "'read' scope" in refused.json()["detail"]
    for scope in ("read", "write", "admin"):
        assert api.get("/summary", api.key(scope)).status_code == 200
