"""Who may call the API: every way a key can be wrong gets the same 401, a key without the
route's scope 403, and a revoked or expired key is refused at once."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from epicstar.auth.store import revoke_key
from epicstar.state.audit import CLI
from epicstar.state.models import ApiKey, utcnow
from tests.api.conftest import Api
from tests.e2e.helpers import wait_for


def test_no_key_wrong_key_and_malformed_key_get_the_same_401(api: Api) -> None:
    good = api.key("read")
    prefix = good.split("_")[1]
    attempts = {
        "no header": None,
        "malformed": "not-a-key",
        "unknown prefix": "esk_zzzzzzzzzzzz_" + "A" * 43,
        "wrong secret": f"esk_{prefix}_" + "B" * 43,
        "basic scheme": None,
    }
    for label, key in attempts.items():
        headers = {"Authorization": "Basic dXNlcjpwYXNz"} if label == "basic scheme" else {}
        response = api.get("/repositories", key, headers=headers)
        assert response.status_code == 401, label
        assert response.headers["www-authenticate"] == "Bearer", label
        assert "API key" in response.json()["detail"], label
        assert good not in response.text
    assert api.get("/repositories", good).status_code == 200


def test_a_key_without_the_scope_gets_403(api: Api) -> None:
    agent = api.key("agent")
    response = api.get("/repositories", agent)
    assert response.status_code == 403
    assert "'read' scope" in response.json()["detail"]


def test_a_revoked_key_is_refused_on_the_next_request(api: Api) -> None:
    key = api.key("read")
    assert api.get("/repositories", key).status_code == 200  # now verified and cached
    with api.database.session() as session:
        revoke_key(session, key.split("_")[1], actor=CLI)
    response = api.get("/repositories", key)
    assert response.status_code == 401


def test_an_expired_key_is_refused(api: Api) -> None:
    key = api.key("read", expires_in=timedelta(minutes=5))
    assert api.get("/repositories", key).status_code == 200
    # Its time runs out (moved by hand, so a busy machine cannot run it out too early).
    with api.database.session() as session:
        row = session.scalars(select(ApiKey).where(ApiKey.prefix == key.split("_")[1])).one()
        row.expires_at = utcnow() - timedelta(seconds=1)
    assert api.get("/repositories", key).status_code == 401


@pytest.mark.parametrize("scope", ["read", "write", "admin"])
def test_read_write_and_admin_keys_may_read(api: Api, scope: str) -> None:
    assert api.get("/repositories", api.key(scope)).status_code == 200


def test_each_request_is_logged_with_the_key_prefix_and_never_the_key(api: Api) -> None:
    key = api.key("read")
    prefix = key.split("_")[1]
    assert api.get("/repositories", key, params={"q": "logged-request"}).status_code == 200
    assert api.get("/repositories", key[:-2] + "zz").status_code == 401

    def logged() -> list[dict[str, object]]:
        return [
            line
            for line in api.served.events("api request")
            if line["path"] == "/api/v1/repositories"
        ]

    # Both lines are written after their answers: wait until the log holds them.
    wait_for(
        lambda: (
            any(line["key_prefix"] == prefix for line in logged())
            and any(line["status"] == 401 for line in logged())
        ),
        timeout=10,
    )
    ours = [line for line in logged() if line["key_prefix"] == prefix]
    assert ours[-1]["status"] == 200
    assert ours[-1]["method"] == "GET"
    assert isinstance(ours[-1]["duration_ms"], float)
    assert any(line["status"] == 401 and line["key_prefix"] is None for line in logged())
    assert key not in api.served.log_text()
    assert key.split("_")[2] not in api.served.log_text()
