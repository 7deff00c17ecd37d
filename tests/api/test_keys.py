"""``GET/POST /api/v1/keys`` and ``DELETE /api/v1/keys/{id}``: admin keys manage keys, never
seeing one twice, and never granting more than they hold."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from epicstar.auth.keys import KEY_PATTERN
from epicstar.state.models import utcnow
from tests.api.conftest import Api

VIEW_FIELDS = {
    "id",
    "name",
    "prefix",
    "scopes",
    "status",
    "created_at",
    "created_by",
    "expires_at",
    "revoked_at",
    "last_used_at",
    "last_used_ip",
    "usage_count",
}


def all_keys(api: Api, admin: str) -> list[dict[str, Any]]:
    response = api.get("/keys", admin, params={"per_page": 100})
    assert response.status_code == 200
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def prefix_of(key: str) -> str:
    return key.split("_")[1]


def test_an_admin_creates_a_key_that_works_at_once_and_is_shown_once(api: Api) -> None:
    admin = api.key("admin", name="root")
    started = utcnow()

    response = api.post(
        "/keys",
        admin,
        json={"name": "deploy bot", "scopes": ["write"], "expires_in_seconds": 3600},
    )

    assert response.status_code == 201
    assert response.headers["cache-control"] == "no-store"
    created = response.json()
    assert KEY_PATTERN.fullmatch(created["key"])
    assert prefix_of(created["key"]) == created["prefix"]
    assert (created["name"], created["scopes"], created["status"]) == (
        "deploy bot",
        ["write"],
        "active",
    )
    expires_at = datetime.fromisoformat(created["expires_at"])
    assert started + timedelta(seconds=3590) < expires_at <= utcnow() + timedelta(seconds=3600)
    assert created["created_by"] == f"API key 'root' (esk_{prefix_of(admin)}_…)"
    assert api.get("/repositories", created["key"]).status_code == 200

    listing = api.get("/keys", admin, params={"per_page": 100})
    assert created["key"] not in listing.text
    assert prefix_of(created["key"]) in listing.text
    assert "argon2" not in listing.text
    shown = next(item for item in listing.json()["items"] if item["id"] == created["id"])
    assert set(shown) == VIEW_FIELDS
    assert shown["expires_at"] == created["expires_at"]

    entries = api.get("/audit", admin, params={"action": "key.created"}).json()["items"]
    entry = next(item for item in entries if item["details"]["key_id"] == created["id"])
    assert (entry["actor"], entry["key_name"], entry["key_prefix"]) == (
        "key",
        "root",
        prefix_of(admin),
    )
    assert entry["details"]["scopes"] == ["write"]
    assert created["key"] not in str(entries)


def test_a_key_without_expiry_never_expires(api: Api) -> None:
    admin = api.key("admin")
    response = api.post("/keys", admin, json={"name": "forever", "scopes": ["read", "read"]})
    assert response.status_code == 201
    assert response.json()["expires_at"] is None
    assert response.json()["scopes"] == ["read"]


def test_a_key_cannot_grant_a_scope_it_lacks(api: Api) -> None:
    admin = api.key("admin")
    before = len(all_keys(api, admin))
    response = api.post("/keys", admin, json={"name": "agent", "scopes": ["read", "agent"]})
    assert response.status_code == 403
    assert "agent" in response.json()["detail"]
    assert len(all_keys(api, admin)) == before


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"scopes": ["read"]}, id="no-name"),
        pytest.param({"name": "", "scopes": ["read"]}, id="empty-name"),
        pytest.param({"name": "   ", "scopes": ["read"]}, id="blank-name"),
        pytest.param({"name": "bell\x07", "scopes": ["read"]}, id="unprintable-name"),
        pytest.param({"name": "n" * 101, "scopes": ["read"]}, id="long-name"),
        pytest.param({"name": "k"}, id="no-scopes"),
        pytest.param({"name": "k", "scopes": []}, id="empty-scopes"),
        pytest.param({"name": "k", "scopes": ["root"]}, id="unknown-scope"),
        pytest.param({"name": "k", "scopes": "read"}, id="scopes-not-a-list"),
        pytest.param({"name": "k", "scopes": ["read"] * 6}, id="too-many-scopes"),
        pytest.param({"name": "k", "scopes": ["read"], "expires_in_seconds": 0}, id="zero"),
        pytest.param({"name": "k", "scopes": ["read"], "expires_in_seconds": -5}, id="negative"),
        pytest.param(
            {"name": "k", "scopes": ["read"], "expires_in_seconds": 3650 * 86400 + 1},
            id="beyond-ten-years",
        ),
        pytest.param({"name": "k", "scopes": ["read"], "expires_in_seconds": 2**70}, id="huge"),
        pytest.param({"name": "k", "scopes": ["read"], "expires_in_seconds": "60"}, id="string"),
        pytest.param({"name": "k", "scopes": ["read"], "expires_in_seconds": 1.5}, id="float"),
        pytest.param({"name": "k", "scopes": ["read"], "key": "esk_x"}, id="extra-field"),
        pytest.param(["read"], id="not-an-object"),
    ],
)
def test_invalid_key_requests_get_422(api: Api, body: Any) -> None:
    response = api.post("/keys", api.key("admin"), json=body)
    assert response.status_code == 422
    assert response.json()["detail"]


def test_revoking_through_the_api_is_effective_on_the_next_request(api: Api) -> None:
    admin = api.key("admin")
    victim = api.key("read", name="lost phone")
    assert api.get("/repositories", victim).status_code == 200  # verified and cached
    victim_id = next(item["id"] for item in all_keys(api, admin) if item["name"] == "lost phone")

    assert api.delete(f"/keys/{victim_id}", admin).status_code == 204

    refused = api.get("/repositories", victim)
    assert refused.status_code == 401
    assert refused.headers["www-authenticate"] == "Bearer"
    again = api.delete(f"/keys/{victim_id}", admin)
    assert (again.status_code, again.content) == (204, b"")
    shown = next(item for item in all_keys(api, admin) if item["id"] == victim_id)
    assert shown["status"] == "revoked"
    revoked = api.get("/audit", admin, params={"action": "key.revoked"}).json()["items"]
    assert sum(entry["details"]["key_id"] == victim_id for entry in revoked) == 1


def test_a_key_may_revoke_itself(api: Api) -> None:
    admin = api.key("admin", name="leaving")
    own_id = next(item["id"] for item in all_keys(api, admin) if item["prefix"] == prefix_of(admin))
    assert api.delete(f"/keys/{own_id}", admin).status_code == 204
    assert api.get("/keys", admin).status_code == 401


def test_unknown_and_malformed_key_ids(api: Api) -> None:
    admin = api.key("admin")
    for key_id in ("999999", str(2**31 - 1)):
        response = api.delete(f"/keys/{key_id}", admin)
        assert response.status_code == 404, key_id
        assert "no API key" in response.json()["detail"]
    for key_id in ("0", "-1", "abc", str(2**31), str(2**64)):
        assert api.delete(f"/keys/{key_id}", admin).status_code == 422, key_id


@pytest.mark.parametrize("scope", ["read", "write", "agent"])
def test_only_admin_keys_manage_keys(api: Api, scope: str) -> None:
    key = api.key(scope)
    admin = api.key("admin")
    target = all_keys(api, admin)[0]["id"]
    calls = [
        api.get("/keys", key),
        api.post("/keys", key, json={"name": "x", "scopes": ["read"]}),
        api.delete(f"/keys/{target}", key),
    ]
    for response in calls:
        assert response.status_code == 403
        assert "'admin' scope" in response.json()["detail"]
    assert api.get("/keys").status_code == 401
