"""``epicstar keys create|list|revoke`` as a user runs them, while ``serve`` runs: a key made
on the command line works at once, and one revoked there is refused at once."""

from __future__ import annotations

import json
import subprocess
from datetime import datetime, timedelta
from typing import Any

from epicstar.auth.keys import KEY_PATTERN
from epicstar.state.models import utcnow
from tests.api.conftest import Api


def keys(api: Api, *args: str) -> subprocess.CompletedProcess[str]:
    return api.world.cli("keys", *args)


def created(api: Api, *args: str) -> dict[str, Any]:
    result = keys(api, "create", *args, "--json")
    assert result.returncode == 0, result.stderr
    document: dict[str, Any] = json.loads(result.stdout)
    return document


def listed(api: Api) -> list[dict[str, Any]]:
    result = keys(api, "list", "--json")
    assert result.returncode == 0, result.stderr
    views: list[dict[str, Any]] = json.loads(result.stdout)
    return views


def test_create_prints_the_key_alone_on_the_last_line_and_it_works_at_once(api: Api) -> None:
    result = keys(api, "create", "--name", "laptop", "--scope", "read", "--scope", "write")

    assert result.returncode == 0, result.stderr
    lines = result.stdout.rstrip("\n").splitlines()
    key = lines[-1]
    assert KEY_PATTERN.fullmatch(key)
    assert all(key not in line for line in lines[:-1])
    assert "laptop" in result.stdout
    assert "never expires" in result.stdout
    assert key not in result.stderr
    assert api.get("/repositories", key).status_code == 200
    assert api.post("/webhooks/deliveries/unknown/replay", key).status_code == 404  # write


def test_create_json_gives_every_field_and_the_expiry(api: Api) -> None:
    started = utcnow()
    document = created(api, "--name", "ci", "--scope", "admin", "--expires-in", "12h")

    assert set(document) == {"id", "name", "prefix", "key", "scopes", "expires_at"}
    assert (document["name"], document["scopes"]) == ("ci", ["admin"])
    assert document["key"].startswith(f"esk_{document['prefix']}_")
    expires_at = datetime.fromisoformat(document["expires_at"])
    assert started + timedelta(hours=12) <= expires_at <= utcnow() + timedelta(hours=12)
    assert api.get("/keys", document["key"]).status_code == 200


def test_list_never_shows_a_key_or_its_hash(api: Api) -> None:
    document = created(api, "--name", "listed by the cli", "--scope", "read")
    table = keys(api, "list")

    assert table.returncode == 0, table.stderr
    assert "listed by the cli" in table.stdout
    assert f"esk_{document['prefix']}_" in table.stdout
    assert document["key"] not in table.stdout
    assert document["key"].split("_")[2] not in table.stdout
    assert "argon2" not in table.stdout
    views = listed(api)
    view = next(item for item in views if item["id"] == document["id"])
    assert "key" not in view
    assert "secret_hash" not in view
    assert (view["prefix"], view["status"]) == (document["prefix"], "active")
    assert document["key"] not in json.dumps(views)


def test_revoke_by_id_or_prefix_is_refused_by_the_running_server_at_once(api: Api) -> None:
    by_id = created(api, "--name", "revoked by id", "--scope", "read")
    by_prefix = created(api, "--name", "revoked by prefix", "--scope", "read")
    for document in (by_id, by_prefix):
        assert api.get("/repositories", document["key"]).status_code == 200  # now cached

    first = keys(api, "revoke", str(by_id["id"]))
    second = keys(api, "revoke", by_prefix["prefix"])

    for result, document in ((first, by_id), (second, by_prefix)):
        assert result.returncode == 0, result.stderr
        assert "Revoked" in result.stdout
        assert api.get("/repositories", document["key"]).status_code == 401
    again = keys(api, "revoke", by_prefix["prefix"])
    assert again.returncode == 0
    assert "already revoked" in again.stdout
    statuses = {item["id"]: item["status"] for item in listed(api)}
    assert statuses[by_id["id"]] == statuses[by_prefix["id"]] == "revoked"


def test_the_audit_log_names_the_cli_for_its_changes(api: Api) -> None:
    document = created(api, "--name", "audited cli key", "--scope", "read")
    assert keys(api, "revoke", document["prefix"]).returncode == 0
    admin = api.key("admin")
    for action in ("key.created", "key.revoked"):
        entries = api.get("/audit", admin, params={"action": action, "per_page": 100}).json()
        entry = next(
            item for item in entries["items"] if item["details"]["key_id"] == document["id"]
        )
        assert (entry["actor"], entry["key_id"], entry["address"]) == ("cli", None, None)
        assert entry["details"]["prefix"] == document["prefix"]


def test_unknown_keys_and_bad_options_are_clear_errors(api: Api) -> None:
    cases = {
        ("revoke", "999999"): "no API key has the id or prefix '999999'",
        ("revoke", "zzzzzzzzzzzz"): "no API key has the id or prefix 'zzzzzzzzzzzz'",
        ("create", "--name", "x", "--scope", "read", "--expires-in", "soon"): (
            "--expires-in: 'soon' is not a duration"
        ),
        ("create", "--name", "x", "--scope", "read", "--expires-in", "0d"): (
            "a key's lifetime must be positive"
        ),
        ("create", "--name", "x", "--scope", "read", "--expires-in", "3651d"): (
            "a key's lifetime is at most 3650 days"
        ),
        ("create", "--name", "x", "--scope", "root"): "unknown scope 'root'",
        ("create", "--name", " ", "--scope", "read"): "a key's name is 1 to 100",
    }
    before = len(listed(api))
    for args, message in cases.items():
        result = keys(api, *args)
        assert result.returncode == 2, (args, result.stdout, result.stderr)
        assert result.stderr.startswith("epicstar: error: "), args
        assert message in result.stderr, (args, result.stderr)
        assert "Traceback" not in result.stderr
    assert len(listed(api)) == before
