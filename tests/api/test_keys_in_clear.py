"""Neither the database nor the logs ever hold a key in clear: keys made with the CLI, with
the store's function and, when the API documents it, with ``POST /api/v1/keys``, used right,
with a wrong secret, after revocation, and sent where no key belongs, against a real
``epicstar serve`` logging at debug; then every table and column of the database, its files
(SQLite's WAL included) and everything in the data dir and the logs are searched for the
whole key and for its secret."""

from __future__ import annotations

import json
import sqlite3
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import MetaData, select
from sqlalchemy.engine import make_url

from epicstar.auth.keys import split_key
from epicstar.auth.store import list_keys
from tests.api.conftest import API, GENEROUS_RATE, Api, api_world, serving
from tests.e2e.helpers import wait_for


@dataclass
class DebugServe:
    api: Api
    folder: Path


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def debug_api(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[DebugServe]:
    env = {"EPICSTAR_API_RATE_LIMIT": GENEROUS_RATE, "EPICSTAR_LOG_LEVEL": "debug"}
    with api_world(request.param, tmp_path_factory) as world, serving(world, env) as api:
        yield DebugServe(api, world.data_dir.parent)


def _cli_key(api: Api, *args: str) -> tuple[str, str]:
    """A key made with ``epicstar keys create``, and what else the command printed."""
    result = api.world.cli("keys", "create", *args)
    assert result.returncode == 0, result.stderr
    if "--json" in args:
        return json.loads(result.stdout)["key"], result.stderr
    *before, last = result.stdout.strip().splitlines()
    return last, "\n".join(before) + result.stderr


def _api_key(api: Api, admin: str) -> str | None:
    """A key made with ``POST /api/v1/keys``, when the API has that route."""
    paths = api.served.client.get("/openapi.json").json()["paths"]
    if "post" not in paths.get(f"{API}/keys", {}):
        return None
    response = api.post("/keys", admin, json={"name": "made by the API", "scopes": ["read"]})
    assert response.status_code == 201, response.text
    key: str = response.json()["key"]
    return key


def _database_text(database_url: str, api: Api) -> str:
    """Every value of every column of every table, as text."""
    metadata = MetaData()
    with warnings.catch_warnings():  # SQLite cannot reflect an index on lower(full_name)
        warnings.filterwarnings("ignore", "Skipped unsupported reflection of expression-based")
        metadata.reflect(api.database.engine)
    assert "api_keys" in metadata.tables
    values: list[str] = []
    with api.database.engine.connect() as connection:
        for table in metadata.sorted_tables:
            for row in connection.execute(select(table)):
                values.extend(repr(value) for value in row)
    if make_url(database_url).get_backend_name() == "sqlite":
        path = make_url(database_url).database
        assert path is not None
        with sqlite3.connect(path) as raw:  # also what SQLAlchemy's models do not know of
            query = "SELECT name FROM sqlite_master WHERE type = 'table'"
            for (name,) in raw.execute(query).fetchall():
                quoted = name.replace('"', '""')  # a name the file itself holds
                rows = raw.execute(f'SELECT * FROM "{quoted}"')  # noqa: S608
                values.extend(repr(row) for row in rows)
    return "\n".join(values)


def _files(folder: Path) -> Iterator[tuple[Path, bytes]]:
    """Every file under ``folder`` but the sandbox's (GitHub's and OneDev's stand-ins)."""
    for path in sorted(folder.rglob("*")):
        if path.is_file() and "sandbox" not in path.relative_to(folder).parts:
            yield path, path.read_bytes()


def _prefix(key: str) -> str:
    parts = split_key(key)
    assert parts is not None
    return parts[0]


def _all_used_twice(api: Api) -> bool:
    with api.database.session() as session:
        return all(row.usage_count >= 2 for row in list_keys(session))


def test_no_key_or_secret_is_kept_in_clear(debug_api: DebugServe) -> None:
    api, folder = debug_api.api, debug_api.folder
    cli_key, cli_said = _cli_key(api, "--name", "made by the CLI", "--scope", "read")
    json_key, _ = _cli_key(api, "--name", "made as JSON", "--scope", "write", "--json")
    admin = api.key("admin", name="made by the store")
    keys = [cli_key, json_key, admin]
    made_by_api = _api_key(api, admin)
    if made_by_api is not None:
        keys.append(made_by_api)
    assert "esk_" not in cli_said  # only the last line holds the key

    for key in keys:
        prefix, secret = split_key(key) or ("", "")
        assert api.get("/repositories", key).status_code == 200
        assert api.get("/repositories", f"esk_{prefix}_{secret[::-1]}").status_code == 401
        assert api.get("/repositories", secret).status_code == 401
        assert api.get("/repositories", key, params={"key": key}).status_code == 200
        basic = {"Authorization": f"Basic {key}"}
        assert api.get("/repositories", headers=basic).status_code == 401
    revoked = api.world.cli("keys", "revoke", _prefix(cli_key))
    assert revoked.returncode == 0, revoked.stderr
    assert api.get("/repositories", cli_key).status_code == 401
    listed = api.world.cli("keys", "list")
    listed_json = api.world.cli("keys", "list", "--json")
    wait_for(lambda: _all_used_twice(api), timeout=20)
    files_while_serving = list(_files(folder))

    api.served.stop()
    places = {
        "the database": _database_text(api.world.database_url, api),
        "serve's log": api.served.log_text(),
        "keys list": listed.stdout + listed.stderr + listed_json.stdout + listed_json.stderr,
        "keys revoke": revoked.stdout + revoked.stderr,
    }
    files = {f"{path} (serving)": data for path, data in files_while_serving}
    files |= {str(path): data for path, data in _files(folder)}
    assert any(path.endswith(".db") for path in files) or "postgresql" in api.world.database_url

    for key in keys:
        prefix, secret = split_key(key) or ("", "")
        assert prefix in places["the database"]  # the search does look where keys are kept
        for place, text in places.items():
            assert key not in text, place
            assert secret not in text, place
        for path, data in files.items():
            assert key.encode() not in data, path
            assert secret.encode() not in data, path
