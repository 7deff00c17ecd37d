"""``GET /api/v1/webhooks/deliveries`` and ``POST …/{delivery_id}/replay`` through a real
``serve``: deliveries signed as GitHub signs them, replays that mirror."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import httpx

from epicstar.state.models import Repository, WebhookDelivery, utcnow
from epicstar.state.retention import body_retention, prune_webhook_deliveries
from tests.api.conftest import Api
from tests.e2e.helpers import wait_for
from tests.e2e.served import SECRET
from tests.e2e.test_serve import mirrored, push_event, push_upstream, star_event
from tests.web.conftest import signed

VIEW_FIELDS = {"delivery_id", "event", "action", "received_at", "outcome", "replayable"}


def deliver(api: Api, event: str, data: dict[str, Any]) -> tuple[str, httpx.Response]:
    """A delivery as GitHub sends it; its id and the answer."""
    delivery_id = str(uuid.uuid4())
    body, headers = signed(event, data, secret=SECRET, delivery=delivery_id)
    return delivery_id, api.served.client.post("/webhooks/github", content=body, headers=headers)


def listed(api: Api, key: str, delivery_id: str) -> dict[str, Any] | None:
    items = api.get("/webhooks/deliveries", key, params={"per_page": 100}).json()["items"]
    return next((item for item in items if item["delivery_id"] == delivery_id), None)


def age(api: Api, delivery_id: str, by: timedelta) -> None:
    with api.database.session() as session:
        row = session.get(WebhookDelivery, delivery_id)
        assert row is not None
        row.received_at = utcnow() - by


def test_deliveries_are_listed_newest_first_without_bodies(api: Api) -> None:
    key = api.key("read")
    api.world.github.create_repo("hooks", "listed")
    sent = [
        deliver(api, "ping", {"zen": "Keep it logically awesome.", "hook_id": 1}),
        deliver(api, "issues", {"action": "opened", "sender": {"login": "x"}}),
        deliver(api, "star", star_event(api.world, "hooks/listed", "created", "someone")),
    ]
    ids = [delivery_id for delivery_id, _response in sent]

    response = api.get("/webhooks/deliveries", key, params={"per_page": 3})

    assert response.status_code == 200
    page = response.json()
    assert (page["page"], page["per_page"]) == (1, 3)
    assert page["total"] >= 3
    assert [item["delivery_id"] for item in page["items"]] == ids[::-1]
    star, issues, ping = page["items"]
    assert set(star) == VIEW_FIELDS
    assert (ping["event"], ping["action"], ping["outcome"]) == ("ping", None, "pong")
    assert (issues["event"], issues["action"]) == ("issues", "opened")
    assert issues["outcome"] == "ignored: event 'issues' is not handled"
    assert star["outcome"] == "ignored: not the mirrored user's star"
    assert all(item["replayable"] for item in page["items"])
    assert "Keep it logically awesome" not in response.text
    second = api.get("/webhooks/deliveries", key, params={"per_page": 1, "page": 2}).json()
    assert [item["delivery_id"] for item in second["items"]] == [ids[1]]


def test_replaying_a_push_received_before_the_repository_was_tracked_mirrors_it(
    api: Api,
) -> None:
    """The push arrived while nobody tracked the repository: ignored. Once it is added, a
    replay of that very delivery makes it due and hands it to the workers."""
    world = api.world
    world.github.create_repo("hooks", "late")
    github_id = world.github.repo("hooks/late").id
    before, after = push_upstream(world, "hooks/late")
    delivery_id, arrival = deliver(api, "push", push_event(world, "hooks/late", before, after))
    assert arrival.json() == {
        "status": "ignored",
        "reason": f"repository {github_id} is not tracked",
    }
    added = world.cli("add", "hooks/late")
    assert added.returncode == 0, added.stderr
    writer = api.key("write", name="replayer")

    response = api.post(f"/webhooks/deliveries/{delivery_id}/replay", writer)

    assert response.status_code == 202
    assert response.json() == {
        "delivery_id": delivery_id,
        "event": "push",
        "action": None,
        "status": "accepted",
        "outcome": f"refresh due {github_id}",
    }
    wait_for(lambda: mirrored(world, "hooks/late"), timeout=60)
    wait_for(
        lambda: any(attempt.trigger == "webhook" for attempt in world.attempts(github_id)),
        timeout=60,
    )
    reader = api.key("read")
    view = listed(api, reader, delivery_id)
    assert view is not None
    assert (view["outcome"], view["replayable"]) == (f"refresh due {github_id}", True)
    entries = api.get("/audit", api.key("admin"), params={"action": "webhook.replayed"}).json()
    entry = next(item for item in entries["items"] if item["target"] == delivery_id)
    assert (entry["actor"], entry["key_name"]) == ("key", "replayer")
    assert entry["details"] == {
        "event": "push",
        "action": None,
        "outcome": f"refresh due {github_id}",
    }
    assert entry["address"] == "127.0.0.1"


def test_replayed_stars_track_a_repository_again_after_its_row_was_lost(api: Api) -> None:
    """The duplicate check stops GitHub's redeliveries, never a replay: the star delivery is
    processed again as often as it is replayed."""
    world = api.world
    world.github.create_repo("hooks", "restarred")
    github_id = world.github.repo("hooks/restarred").id
    world.star("hooks/restarred")
    event = star_event(world, "hooks/restarred", "created", world.login)
    delivery_id, arrival = deliver(api, "star", event)
    assert arrival.status_code == 202
    wait_for(lambda: mirrored(world, "hooks/restarred"), timeout=60)
    wait_for(lambda: world.row(github_id).lease_owner is None, timeout=30)
    with api.database.session() as session:
        row = session.get(Repository, github_id)
        assert row is not None
        session.delete(row)  # e.g. an old backup restored
    writer = api.key("write")

    first = api.post(f"/webhooks/deliveries/{delivery_id}/replay", writer)
    second = api.post(f"/webhooks/deliveries/{delivery_id}/replay", writer)

    assert (first.status_code, second.status_code) == (202, 202)
    assert first.json()["outcome"] == f"tracked {github_id}"
    assert (first.json()["event"], first.json()["action"]) == ("star", "created")
    assert second.json()["outcome"] == f"refresh due {github_id}"
    restored = world.row(github_id)
    assert (restored.full_name, restored.state) == ("hooks/restarred", "active")
    audit = api.get("/audit", api.key("admin"), params={"action": "webhook.replayed"}).json()
    assert sum(item["target"] == delivery_id for item in audit["items"]) == 2


def test_unknown_malformed_and_unauthorised_replays(api: Api) -> None:
    writer = api.key("write")
    unknown = api.post("/webhooks/deliveries/no-such-delivery/replay", writer)
    assert unknown.status_code == 404
    assert "no-such-delivery" in unknown.json()["detail"]
    for malformed in ("x" * 101, "with space", "caf%C3%A9"):
        response = api.post(f"/webhooks/deliveries/{malformed}/replay", writer)
        assert response.status_code == 422, malformed
    delivery_id, _ = deliver(api, "ping", {"zen": "Design for failure."})
    refused = api.post(f"/webhooks/deliveries/{delivery_id}/replay", api.key("read"))
    assert refused.status_code == 403
    assert "'write' scope" in refused.json()["detail"]
    assert api.post(f"/webhooks/deliveries/{delivery_id}/replay").status_code == 401
    assert api.get("/webhooks/deliveries").status_code == 401
    assert api.get("/webhooks/deliveries", api.key("agent")).status_code == 403
    for params in ({"page": 0}, {"per_page": 101}, {"page": 10**7}):
        assert api.get("/webhooks/deliveries", writer, params=params).status_code == 422


def test_past_the_retention_a_delivery_is_no_longer_replayable(api: Api) -> None:
    writer = api.key("write")
    delivery_id, _ = deliver(api, "ping", {"zen": "Mind your words, they are important."})
    age(api, delivery_id, timedelta(days=8, minutes=1))

    assert api.post(f"/webhooks/deliveries/{delivery_id}/replay", writer).status_code == 404
    view = listed(api, writer, delivery_id)
    assert view is not None
    assert view["replayable"] is False

    with api.database.session() as session:
        prune_webhook_deliveries(session, utcnow(), body_retention(8))
    assert listed(api, writer, delivery_id) is None
    response = api.post(f"/webhooks/deliveries/{delivery_id}/replay", writer)
    assert response.status_code == 404
    assert "8 days" in response.json()["detail"]
