"""``POST /api/v1/stars/poll``: the starred list is read at once, not at the next interval
(five minutes by default), and every request is audited."""

from __future__ import annotations

from typing import Any

import pytest

from epicstar.state.audit import entries
from tests.api.conftest import Api
from tests.e2e.helpers import assert_exact_mirror, wait_for

POLLED = "stars.polled"
PATIENCE = 30.0  # far below the poll interval: only the request can have caused the poll


@pytest.fixture
def polled_once(api: Api) -> Api:
    """The server has made its first poll (at start), so the next one is five minutes off."""
    wait_for(lambda: api.served.events(POLLED), 60)
    return api


def request_poll(api: Api, key: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    """Ask for a poll and wait for it; what the poll logged."""
    before = len(api.served.events(POLLED))
    sent = {"json": body} if body is not None else {}  # no body at all: a plain poll
    response = api.post("/stars/poll", key, **sent)
    assert response.status_code == 202, response.text
    full = bool(body and body.get("full"))
    assert response.json() == {"status": "accepted", "full": full}
    wait_for(lambda: len(api.served.events(POLLED)) > before, PATIENCE)
    return api.served.events(POLLED)[before]


def repository(api: Api, key: str, full_name: str) -> dict[str, Any] | None:
    found = api.get("/repositories", key, params={"q": full_name}).json()["items"]
    return next((item for item in found if item["full_name"] == full_name), None)


def sync_status(api: Api, key: str, full_name: str) -> str | None:
    row = repository(api, key, full_name)
    return row["sync_status"] if row is not None else None


def test_a_new_star_is_tracked_and_mirrored_at_once(polled_once: Api) -> None:
    api = polled_once
    api.world.github.create_repo("stargazer", "fresh")
    api.world.star("stargazer/fresh")
    reader, writer = api.key("read"), api.key("write", name="poller")
    assert repository(api, reader, "stargazer/fresh") is None

    request_poll(api, writer)

    wait_for(lambda: sync_status(api, reader, "stargazer/fresh") == "completed", PATIENCE)
    row = repository(api, reader, "stargazer/fresh")
    assert row is not None
    assert (row["origin"], row["state"]) == ("star", "active")
    assert_exact_mirror(api.world, "stargazer/fresh", "github/stargazer/fresh")

    with api.database.session() as session:
        audited, _ = entries(session, action="stars.poll_requested", offset=0, limit=1)
        entry = audited[0]
        prefix = writer.split("_")[1]
        assert (entry.actor, entry.key_name, entry.key_prefix) == ("key", "poller", prefix)
        assert entry.details == {"full": False}
        assert entry.address == "127.0.0.1"


def test_a_full_poll_reads_every_page_and_notices_an_unstar(polled_once: Api) -> None:
    api = polled_once
    api.world.github.create_repo("stargazer", "fleeting")
    api.world.star("stargazer/fleeting")
    reader, writer = api.key("read"), api.key("write")
    request_poll(api, writer, {"full": False})
    wait_for(lambda: repository(api, reader, "stargazer/fleeting") is not None, PATIENCE)

    requests = len(api.world.github.requests(path_prefix="/user/starred"))
    idle = request_poll(api, writer, {"full": False})
    assert idle["not_modified"]
    full = request_poll(api, writer, {"full": True})
    assert full["full_walk"]
    asked = api.world.github.requests(path_prefix="/user/starred")[requests:]
    assert [request.status for request in asked] == [304, 200]  # the full walk sent no ETag

    api.world.github.unstar(api.world.login, "stargazer/fleeting")
    request_poll(api, writer, {"full": True})
    row = repository(api, reader, "stargazer/fleeting")
    assert row is not None
    assert row["state"] == "unstarred"

    with api.database.session() as session:
        audited, _ = entries(session, action="stars.poll_requested", offset=0, limit=1)
        assert audited[0].details == {"full": True}


@pytest.mark.parametrize(
    "body",
    [
        {"full": "perhaps"},
        {"full": None},
        {"fast": True},
        {"full": True, "extra": 1},
        [True],
        "full",
    ],
)
def test_a_malformed_body_gets_422_and_is_not_audited(api: Api, body: Any) -> None:
    key = api.key("write", name="malformed")
    response = api.post("/stars/poll", key, json=body)
    assert response.status_code == 422, body
    assert "detail" in response.json()
    not_json = api.post(
        "/stars/poll", key, content=b"{full", headers={"Content-Type": "application/json"}
    )
    assert not_json.status_code == 422
    with api.database.session() as session:
        audited, _ = entries(session, action="stars.poll_requested", offset=0, limit=1000)
    assert "malformed" not in {entry.key_name for entry in audited}


def test_polling_needs_a_write_key(api: Api) -> None:
    missing = api.post("/stars/poll", json={"full": False})
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"] == "Bearer"
    for scope in ("read", "agent"):
        refused = api.post("/stars/poll", api.key(scope, name=f"only {scope}"), json={})
        assert refused.status_code == 403, scope
        assert "'write' scope" in refused.json()["detail"]
    with api.database.session() as session:
        audited, _ = entries(session, action="stars.poll_requested", offset=0, limit=1000)
    assert not {"only read", "only agent"} & {entry.key_name for entry in audited}
    assert api.post("/stars/poll", api.key("admin"), json={}).status_code == 202
