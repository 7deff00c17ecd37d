"""``GET /api/v1/audit``: the log of changes, newest first, filtered by action (admin)."""

from __future__ import annotations

import pytest

from epicstar.state.audit import ACTIONS
from tests.api.conftest import Api


def test_the_log_is_newest_first_filtered_and_paged(api: Api) -> None:
    admin = api.key("admin", name="auditor")
    created = [
        api.post("/keys", admin, json={"name": f"audited {number}", "scopes": ["read"]}).json()
        for number in range(3)
    ]
    assert api.delete(f"/keys/{created[0]['id']}", admin).status_code == 204

    newest = api.get("/audit", admin, params={"per_page": 4}).json()
    assert (newest["page"], newest["per_page"]) == (1, 4)
    assert [(entry["action"], entry["details"]["key_id"]) for entry in newest["items"]] == [
        ("key.revoked", created[0]["id"]),
        ("key.created", created[2]["id"]),
        ("key.created", created[1]["id"]),
        ("key.created", created[0]["id"]),
    ]
    entry = newest["items"][0]
    assert set(entry) == {
        "id",
        "at",
        "actor",
        "key_id",
        "key_name",
        "key_prefix",
        "action",
        "target",
        "address",
        "details",
    }
    assert (entry["actor"], entry["key_name"], entry["address"]) == ("key", "auditor", "127.0.0.1")
    assert entry["target"] == f"key {created[0]['id']} ({created[0]['prefix']})"
    assert newest["items"][0]["at"] >= newest["items"][-1]["at"]

    revoked = api.get("/audit", admin, params={"action": "key.revoked", "per_page": 100}).json()
    assert {entry["action"] for entry in revoked["items"]} == {"key.revoked"}
    assert revoked["total"] == len(revoked["items"]) >= 1
    second = api.get("/audit", admin, params={"per_page": 1, "page": 2}).json()
    assert second["items"] == [newest["items"][1]]
    everything = api.get("/audit", admin, params={"per_page": 100}).text
    assert all(key["key"] not in everything for key in created)


@pytest.mark.parametrize("action", ACTIONS)
def test_every_audited_action_is_a_valid_filter(api: Api, action: str) -> None:
    response = api.get("/audit", api.key("admin"), params={"action": action})
    assert response.status_code == 200
    assert {entry["action"] for entry in response.json()["items"]} <= {action}


@pytest.mark.parametrize(
    "params",
    [
        {"action": "key.deleted"},
        {"action": "key.created "},
        {"action": "KEY.CREATED"},
        {"action": "key_created"},
        {"action": ""},
        {"page": 0},
        {"per_page": 101},
        {"page": "two"},
    ],
)
def test_bad_queries_get_422(api: Api, params: dict[str, object]) -> None:
    response = api.get("/audit", api.key("admin"), params=params)
    assert response.status_code == 422
    assert response.json()["detail"]


@pytest.mark.parametrize("scope", ["read", "write", "agent"])
def test_only_admin_keys_read_the_log(api: Api, scope: str) -> None:
    response = api.get("/audit", api.key(scope))
    assert response.status_code == 403
    assert "'admin' scope" in response.json()["detail"]
