"""``epicstar agent sync`` before it talks to any server: settings it cannot do without are
named, and a first dry run reads GitHub, asks the server nothing and leaves the agent's own
records as they were (the next run sees the same changes)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import World, sandbox_world
from tests.http_fakes import refused_port


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    with sandbox_world(tmp_path, "sqlite:///unused") as world:
        yield world


def agent(world: World, tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """``epicstar agent sync`` whose server refuses every connection."""
    base = {name: value for name, value in os.environ.items() if not name.startswith("EPICSTAR_")}
    with refused_port() as port:
        base.update(
            {
                "XDG_CONFIG_HOME": str(tmp_path / "config"),
                "EPICSTAR_DATA_DIR": str(tmp_path / "agent"),
                "EPICSTAR_GITHUB_API_URL": world.sandbox.github_api_url,
                "EPICSTAR_GITHUB_TOKEN": world.github_token,
                "EPICSTAR_SERVER_URL": f"http://127.0.0.1:{port}",
                "EPICSTAR_API_KEY": "esk_unused_key",
            }
        )
        base.update(env)
        return subprocess.run(
            [sys.executable, "-m", "epicstar", "agent", "sync", *args],
            env=base,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )


def test_missing_settings_are_named(world: World, tmp_path: Path) -> None:
    no_server = agent(world, tmp_path, EPICSTAR_SERVER_URL="")
    assert no_server.returncode == 2
    assert "EPICSTAR_SERVER_URL is not set" in no_server.stderr
    no_token = agent(world, tmp_path, EPICSTAR_GITHUB_TOKEN="")
    assert no_token.returncode == 2
    assert "EPICSTAR_GITHUB_TOKEN is not set" in no_token.stderr


def test_a_first_dry_run_asks_the_server_nothing_and_changes_no_record(
    world: World, tmp_path: Path
) -> None:
    world.github.create_repo("octo", "one")
    world.github.create_repo("octo", "two", private=True)
    world.star("octo/one", "octo/two")
    first = agent(world, tmp_path, "--dry-run", "--json")
    assert first.returncode == 0, first.stderr
    document: dict[str, Any] = json.loads(first.stdout)
    assert document["dry_run"] is True
    assert {e["full_name"]: e["outcome"] for e in document["repositories"]} == {
        "octo/one": "would deliver",
        "octo/two": "would deliver",
    }
    assert [c["kind"] for c in document["stars"]["changes"]] == ["track", "track"]
    # The server's port is closed: had the dry run asked it anything, it would have failed.
    again = json.loads(agent(world, tmp_path, "--dry-run", "--json").stdout)
    assert again["stars"]["changes"] == document["stars"]["changes"]

    plain = agent(world, tmp_path, "--dry-run")
    assert plain.returncode == 0, plain.stderr
    assert "octo/two: would deliver" in plain.stdout
    assert plain.stdout.rstrip().splitlines()[-1].startswith("dry run, nothing was changed")


def test_an_unreachable_server_stops_the_run(world: World, tmp_path: Path) -> None:
    world.github.create_repo("octo", "one")
    world.star("octo/one")
    result = agent(world, tmp_path, "--json")
    assert result.returncode == 2
    document = json.loads(result.stdout)
    assert "cannot reach the server" in document["aborted"]
