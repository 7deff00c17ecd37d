"""The agent end to end: a served epicstar with no GitHub token, an agent with one, the
sandbox's GitHub and OneDev. Every request the server receives goes through a recording proxy
(:class:`Tap`), so what reached the server is known byte for byte."""

from __future__ import annotations

import base64
import functools
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pytest

from tests.e2e.conftest import ONE_DATABASE, World
from tests.e2e.helpers import assert_exact_mirror, heads_and_tags, wait_for
from tests.e2e.served import Served, serving
from tests.e2e.tap import Tap

pytestmark = [pytest.mark.timeout(300)]


@dataclass
class Agent:
    """``epicstar agent`` as a user runs it, with only its own settings."""

    world: World
    server_url: str
    key: str
    data_dir: Path

    def env(self) -> dict[str, str]:
        env = {
            name: value for name, value in os.environ.items() if not name.startswith("EPICSTAR_")
        }
        env.update(
            {
                "XDG_CONFIG_HOME": str(self.data_dir.parent / "config"),
                "EPICSTAR_SERVER_URL": self.server_url,
                "EPICSTAR_API_KEY": self.key,
                "EPICSTAR_GITHUB_TOKEN": self.world.github_token,
                "EPICSTAR_GITHUB_API_URL": self.world.sandbox.github_api_url,
                "EPICSTAR_DATA_DIR": str(self.data_dir),
                "EPICSTAR_LOG_LEVEL": "debug",
            }
        )
        return env

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "epicstar", "agent", *args],
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )

    def sync(self, *args: str, expect: int = 0) -> dict[str, Any]:
        result = self.run("sync", "--json", *args)
        assert result.returncode == expect, result.stdout + result.stderr
        document: dict[str, Any] = json.loads(result.stdout)
        return document


def outcomes(document: dict[str, Any]) -> dict[str, str]:
    return {entry["full_name"]: entry["outcome"] for entry in document["repositories"]}


def entry(document: dict[str, Any], full_name: str) -> dict[str, Any]:
    found: list[dict[str, Any]] = [
        e for e in document["repositories"] if e["full_name"] == full_name
    ]
    assert len(found) == 1, document
    return found[0]


def create_key(world: World, scope: str) -> str:
    return world.key(f"{scope}-key", scope)


def mirrored(world: World, full_name: str) -> bool:
    try:
        mirror = world.onedev.refs(f"github/{full_name}")
    except KeyError:
        return False
    return heads_and_tags(mirror) == heads_and_tags(world.github.refs(full_name))


@contextmanager
def agent_world(
    world: World, tmp_path: Path, **server_env: str
) -> Iterator[tuple[Served, Tap, Agent]]:
    """A server without a GitHub token, a tap before it, an agent key, an agent."""
    with (
        serving(world, EPICSTAR_GITHUB_TOKEN="", **server_env) as served,
        Tap(served.url) as tap,
    ):
        agent = Agent(world, tap.url, create_key(world, "agent"), tmp_path / "agent")
        yield served, tap, agent


def token_forms(world: World) -> list[bytes]:
    token = world.github_token
    return [
        token.encode(),
        base64.b64encode(f"x-access-token:{token}".encode()),
        base64.b64encode(token.encode()),
    ]


def assert_token_nowhere_on_the_server(world: World, served: Served, tap: Tap) -> None:
    """Not in any request the server received, its logs, its database or its data dir."""
    assert tap.captured, "requests went through the tap"
    places: dict[str, bytes] = {
        f"request {n}: {c.method} {c.path}": c.raw() for n, c in enumerate(tap.captured)
    }
    places["the server's log"] = served.log_text().encode()
    database = world.db()
    try:
        with database.engine.connect() as connection:
            tables = connection.exec_driver_sql(
                "SELECT name FROM sqlite_master WHERE type='table'"
                if world.database_url.startswith("sqlite")
                else "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
            ).scalars()
            for table in list(tables):
                rows = connection.exec_driver_sql(f'SELECT * FROM "{table}"').all()  # noqa: S608
                places[f"table {table}"] = repr(rows).encode()
    finally:
        database.dispose()
    for path in world.data_dir.rglob("*"):
        if path.is_file():
            places[str(path)] = path.read_bytes()
    assert any("git-receive-pack" in where for where in places), "pushes were recorded"
    for where, content in places.items():
        for form in token_forms(world):
            assert form not in content, f"the GitHub token reached the server: {where}"


def repository_view(served: Served, reader: str, github_id: int) -> dict[str, Any]:
    response = served.client.get(
        f"/api/v1/repositories/{github_id}", headers={"Authorization": f"Bearer {reader}"}
    )
    assert response.status_code == 200, response.text
    view: dict[str, Any] = response.json()
    return view


def feed_shas(served: Served, reader: str, github_id: int) -> list[str]:
    response = served.client.get(
        "/api/v1/commits",
        params={"repository": github_id, "per_page": 100},
        headers={"Authorization": f"Bearer {reader}"},
    )
    assert response.status_code == 200, response.text
    return [item["sha"] for item in response.json()["items"] if item["kind"] == "commit"]


def atom_entry_ids(served: Served, feed_key: str) -> str:
    """The ids of the Atom feed's entries (each names its commit), as one text."""
    response = served.client.get("/feed.atom", params={"key": feed_key})
    assert response.status_code == 200, response.text
    root = ElementTree.fromstring(response.content)  # noqa: S314 - our own answer
    return " ".join(node.text or "" for node in root.iter("{http://www.w3.org/2005/Atom}id"))


def test_the_agent_keeps_the_server_current_and_its_token_at_home(
    world: World, tmp_path: Path
) -> None:
    public = world.github.create_repo("octo", "public-one")
    private = world.github.create_repo("octo", "private-one", private=True)
    world.star("octo/public-one", "octo/private-one")
    with agent_world(world, tmp_path) as (served, tap, agent):
        reader = create_key(world, "read")

        first = agent.sync()
        assert outcomes(first) == {"octo/public-one": "delivered", "octo/private-one": "delivered"}
        assert entry(first, "octo/public-one")["commits_posted"] == 0  # a first mirror
        for name in ("octo/public-one", "octo/private-one"):
            wait_for(functools.partial(mirrored, world, name), 90)
            assert_exact_mirror(world, name, f"github/{name}")
        assert repository_view(served, reader, public.id)["sync_method"] == "agent"

        # A new upstream commit reaches the feed after one sync.
        new = world.github.commit("octo/public-one", "main", {"news.txt": b"news\n"})
        second = agent.sync()
        assert entry(second, "octo/public-one")["outcome"] == "delivered"
        assert entry(second, "octo/public-one")["commits_posted"] == 1
        assert entry(second, "octo/private-one")["outcome"] == "unchanged"
        assert new in feed_shas(served, reader, public.id)
        assert new in atom_entry_ids(served, create_key(world, "feed"))
        wait_for(lambda: mirrored(world, "octo/public-one"), 90)

        # A force-push and a deleted branch propagate; only the new commit is posted.
        before = world.github.refs("octo/private-one")["refs/heads/main"]
        dropped = world.github.commit("octo/private-one", "main", {"a.txt": b"a\n"})
        world.github.commit("octo/private-one", "topic", {"t.txt": b"t\n"})
        assert entry(agent.sync(), "octo/private-one")["commits_posted"] == 2
        wait_for(lambda: mirrored(world, "octo/private-one"), 90)
        rewritten = world.github.commit(
            "octo/private-one", "main", {"b.txt": b"b\n"}, parent=before
        )
        world.github.delete_branch("octo/private-one", "topic")
        third = agent.sync()
        assert entry(third, "octo/private-one")["commits_posted"] == 1
        assert rewritten in feed_shas(served, reader, private.id)
        wait_for(lambda: mirrored(world, "octo/private-one"), 90)
        assert_exact_mirror(world, "octo/private-one", "github/octo/private-one")
        mirror = world.onedev.refs("github/octo/private-one")
        assert "refs/heads/topic" not in mirror
        assert mirror["refs/heads/main"] == rewritten != dropped

        # Nothing changed: nothing pushed, nothing posted.
        seen = len(tap.captured)
        quiet = agent.sync()
        assert set(outcomes(quiet).values()) == {"unchanged"}
        later = tap.captured[seen:]
        assert not [c for c in later if "receive-pack" in c.path + c.query]
        assert not [c for c in later if c.path.endswith("/commits")]

        # An unstar is reported; the server applies its policy (keep).
        assert world.github.unstar(world.login, "octo/private-one")
        gone = agent.sync()
        assert entry(gone, "octo/private-one")["outcome"] == "unstar reported", json.dumps(gone)
        assert repository_view(served, reader, private.id)["state"] == "unstarred"
        assert outcomes(agent.sync()) == {"octo/public-one": "unchanged"}  # reported once

        assert_token_nowhere_on_the_server(world, served, tap)
        # The search sees credentials where they are: the agent key, as git's Basic password.
        basic = base64.b64encode(f"agent:{agent.key}".encode())
        assert any(basic in c.raw() for c in tap.captured if "git-receive-pack" in c.path)
        for path in agent.data_dir.rglob("*"):  # the agent's own records and log
            if path.is_file():
                content = path.read_bytes()
                assert world.github_token.encode() not in content, path
                assert agent.key.encode() not in content, path


def dry_run_changes_nothing_on_the_server(world: World, tap: Tap, agent: Agent) -> None:
    """On a server the tap has seen nothing of yet, with ``octo/one`` starred only."""
    dry = agent.sync("--dry-run")
    assert dry["dry_run"] is True
    assert outcomes(dry) == {"octo/one": "would deliver"}
    assert entry(dry, "octo/one")["refs_changed"] == len(
        heads_and_tags(world.github.refs("octo/one"))
    )
    assert tap.captured == [], "a first dry run asks the server nothing"
    assert agent.sync("--dry-run")["stars"]["changes"] == dry["stars"]["changes"]

    agent.sync()
    new = world.github.commit("octo/one", "main", {"n.txt": b"n\n"})
    seen = len(tap.captured)
    again = agent.sync("--dry-run")
    assert entry(again, "octo/one")["outcome"] == "would deliver"
    assert entry(again, "octo/one")["commits_posted"] == 1
    asked = tap.captured[seen:]
    assert asked, "the server's refs were read"
    assert {c.method for c in asked if "/api/" in c.path} == set()  # no PUT, no POST
    assert all("git-upload-pack" in c.path + c.query for c in asked), "refs only read"
    assert new not in world.onedev.refs("github/octo/one").values()
    assert entry(agent.sync(), "octo/one")["commits_posted"] == 1


@ONE_DATABASE
def test_passing_server_failures_are_tried_again(world: World, tmp_path: Path) -> None:
    world.github.create_repo("octo", "one")
    world.star("octo/one")
    with agent_world(world, tmp_path) as (_served, tap, agent):
        tap.faults.inject("PUT", r"^/api/v1/agent/repositories/", 503, times=2)
        tap.faults.inject("POST", r"/git-receive-pack$", 502, times=1)
        first = agent.sync()
        assert outcomes(first) == {"octo/one": "delivered"}
        assert tap.log.count("PUT", "/api/v1/agent/repositories/") == 3
        wait_for(lambda: mirrored(world, "octo/one"), 90)

        world.github.commit("octo/one", "main", {"n.txt": b"n\n"})
        tap.faults.inject("POST", r"/commits$", 502, times=1)
        assert entry(agent.sync(), "octo/one")["commits_posted"] == 1
        assert len([e for e in tap.log.entries("POST") if e.path.endswith("/commits")]) == 2

        # A server that keeps failing: the run says so and exits 1; the next run delivers.
        world.github.commit("octo/one", "main", {"m.txt": b"m\n"})
        tap.faults.inject("POST", r"/commits$", 503, times=None)
        failed = agent.sync(expect=1)
        assert entry(failed, "octo/one")["outcome"] == "failed"
        assert "503" in entry(failed, "octo/one")["error"]
        tap.faults.clear()
        assert entry(agent.sync(), "octo/one")["commits_posted"] == 1
        wait_for(lambda: mirrored(world, "octo/one"), 90)


@ONE_DATABASE
def test_an_unstar_the_server_refuses_is_reported_and_the_others_go_on(
    world: World, tmp_path: Path
) -> None:
    """A repository handed to the server's own mirroring keeps its star there: the agent's
    unstar of it is refused (403), said so once, and the run goes on with the others."""
    ours = world.github.create_repo("octo", "ours")
    theirs = world.github.create_repo("octo", "theirs")
    world.star("octo/ours", "octo/theirs")
    with agent_world(world, tmp_path, EPICSTAR_TICK_SECONDS="3600") as (served, tap, agent):
        reader = create_key(world, "read")
        assert set(outcomes(agent.sync()).values()) == {"delivered"}
        switched = world.cli("method", "octo/theirs", "server")
        assert switched.returncode == 0, switched.stderr
        world.github.commit("octo/theirs", "main", {"n.txt": b"n\n"})
        posts = len(tap.requests("POST", "/commits"))

        starred = agent.sync()  # the server answers its star with its sync method alone

        assert outcomes(starred) == {"octo/theirs": "skipped", "octo/ours": "unchanged"}
        assert "sync method server" in entry(starred, "octo/theirs")["detail"]
        assert len(tap.requests("POST", "/commits")) == posts
        world.github.unstar(world.login, "octo/theirs")
        world.github.unstar(world.login, "octo/ours")

        run = agent.sync("--full")

        assert outcomes(run) == {"octo/theirs": "skipped", "octo/ours": "unstar reported"}
        assert run["aborted"] is None
        refused = entry(run, "octo/theirs")
        assert refused["error"] is None
        assert "unstar not applied" in refused["detail"]
        assert "mirrored by the server, not by an agent" in refused["detail"]
        assert repository_view(served, reader, theirs.id)["state"] == "active"
        assert repository_view(served, reader, ours.id)["state"] == "unstarred"

        puts = len(tap.requests("PUT", "/api/v1/agent/repositories/"))
        assert agent.sync()["repositories"] == []  # the server's answer was heard once
        assert len(tap.requests("PUT", "/api/v1/agent/repositories/")) == puts


@ONE_DATABASE
def test_dry_run_changes_nothing_and_agent_test_checks_server_key_and_token(
    world: World, tmp_path: Path
) -> None:
    """A dry run changes nothing, then ``epicstar agent test`` checks the server, the key and
    the token: two checks of one served world, so one server start instead of two."""
    world.github.create_repo("octo", "one")
    world.star("octo/one")
    with agent_world(world, tmp_path) as (_served, tap, agent):
        dry_run_changes_nothing_on_the_server(world, tap, agent)

        passed = agent.run("test")
        assert passed.returncode == 0, passed.stdout + passed.stderr
        lines = passed.stdout.splitlines()
        assert len(lines) == 3
        assert all(line.startswith("ok") for line in lines)
        assert world.login in lines[2]
        assert "rate limit" in lines[2]

        reader = Agent(world, agent.server_url, create_key(world, "read"), agent.data_dir)
        refused = reader.run("test")
        assert refused.returncode == 1
        assert refused.stdout.splitlines()[1].startswith("FAILED  key:")
        assert "agent" in refused.stdout.splitlines()[1]

        wrong = Agent(world, agent.server_url, agent.key, agent.data_dir)
        world.github_token = "ghp_" + "0" * 36
        bad_token = wrong.run("test")
        assert bad_token.returncode == 1
        assert bad_token.stdout.splitlines()[2].startswith("FAILED  GitHub:")
        assert "0" * 36 not in bad_token.stdout + bad_token.stderr

    unreachable = Agent(world, "http://127.0.0.1:9", agent.key, agent.data_dir).run("test")
    assert unreachable.returncode == 1
    assert unreachable.stdout.splitlines()[0].startswith("FAILED  server:")
