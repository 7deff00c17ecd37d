"""Agent mode through a real ``epicstar serve`` with no GitHub token: an agent (here plain
``git push`` from a test repository, its key in an ``http.extraHeader`` given through the
environment) registers its stars and pushes branches and tags; the server mirrors them to
OneDev from its cache, refuses everything else before git runs, and never contacts GitHub."""

from __future__ import annotations

import base64
import contextlib
import http.client
import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from epicstar.sandbox import GitHubRepo
from epicstar.state.models import AttemptOutcome, SyncMethod, SyncStatus
from tests.api.conftest import api_world
from tests.e2e.conftest import ONE_DATABASE, World
from tests.e2e.helpers import assert_exact_mirror, heads_and_tags, wait_for
from tests.e2e.served import Served

pytestmark = pytest.mark.timeout(300)

PUSH_LIMIT_MB = 1


def create_key(world: World, *scopes: str) -> str:
    return world.key("-".join(scopes), *scopes)


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def basic(key: str) -> str:
    return "Basic " + base64.b64encode(f"agent:{key}".encode()).decode()


def git(source: Path, *args: str, key: str | None) -> subprocess.CompletedProcess[str]:
    """``git --git-dir source args``, the key only in the environment, as the agent sends it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(GIT_TERMINAL_PROMPT="0", GIT_CONFIG_NOSYSTEM="1", GIT_CONFIG_GLOBAL=os.devnull)
    if key is not None:
        env.update(
            GIT_CONFIG_COUNT="1",
            GIT_CONFIG_KEY_0="http.extraHeader",
            GIT_CONFIG_VALUE_0=f"Authorization: {basic(key)}",
        )
    return subprocess.run(
        ["git", "--git-dir", str(source), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


BRANCHES_AND_TAGS = ("+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*")


class Agent:
    """What the agent does, by hand: registration through the API, git data with git."""

    def __init__(self, served: Served, key: str) -> None:
        self.served = served
        self.key = key

    def url(self, repo: GitHubRepo) -> str:
        return f"{self.served.url}/agent/git/{repo.id}.git"

    def register(self, repo: GitHubRepo, **fields: Any) -> httpx.Response:
        body = {
            "full_name": repo.full_name,
            "description": repo.description,
            "default_branch": repo.default_branch,
            "private": repo.private,
            "archived": False,
            "fork": False,
            "size_kb": 10,
            "language": None,
            "html_url": f"https://github.com/{repo.full_name}",
            "starred_at": "2026-01-02T03:04:05Z",
            **fields,
        }
        return self.served.client.put(
            f"/api/v1/agent/repositories/{repo.id}", json=body, headers=bearer(self.key)
        )

    def push(self, repo: GitHubRepo, *refspecs: str, key: str | None = None) -> Any:
        return git(
            repo.path,
            "push",
            "--porcelain",
            "--prune",
            self.url(repo),
            *(refspecs or BRANCHES_AND_TAGS),
            key=key or self.key,
        )

    def server_refs(self, repo: GitHubRepo) -> dict[str, str]:
        listed = git(repo.path, "ls-remote", self.url(repo), key=self.key)
        assert listed.returncode == 0, listed.stderr
        pairs = (line.split("\t") for line in listed.stdout.splitlines())
        return {name: sha for sha, name in pairs if not name.endswith("^{}")}


@contextlib.contextmanager
def agents_server(world: World) -> Iterator[Served]:
    world.overrides["EPICSTAR_GITHUB_TOKEN"] = ""  # the server has no GitHub token
    server = Served(
        world,
        {
            "EPICSTAR_TICK_SECONDS": "3600",  # only an agent's push makes a pass run soon
            "EPICSTAR_AGENT_MAX_PUSH_MB": str(PUSH_LIMIT_MB),
            "EPICSTAR_API_RATE_LIMIT": "1000/minute",
        },
    )
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def served(world: World) -> Iterator[Served]:
    with agents_server(world) as server:
        yield server


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[World, Served]]:
    """One world and its server (SQLite) for the tests that each use repositories and keys of
    their own, and look at nothing else the server holds or logged."""
    with api_world("sqlite", tmp_path_factory) as world, agents_server(world) as server:
        yield world, server


def mirrored(world: World, repo: GitHubRepo) -> bool:
    try:
        mirror = world.onedev.refs(f"github/{repo.full_name}")
    except KeyError:
        return False
    return heads_and_tags(mirror) == heads_and_tags(world.github.refs(repo.full_name))


def agent_attempts(world: World, repo: GitHubRepo) -> list[Any]:
    return [a for a in world.attempts(repo.id) if a.trigger == "agent"]


def test_pushed_branches_and_tags_end_up_exact_in_onedev(shared: tuple[World, Served]) -> None:
    world, served = shared
    repo = world.github.create_repo("octo", "hello", description="pushed by an agent")
    world.github.commit("octo/hello", "feature", {"f.txt": "feature\n"})
    world.github.tag("octo/hello", "v1.0", "main")
    agent = Agent(served, create_key(world, "agent"))

    registered = agent.register(repo)
    assert registered.status_code == 201, registered.text
    view = registered.json()
    assert (view["sync_method"], view["state"], view["origin"]) == ("agent", "active", "star")
    assert view["description"] == "pushed by an agent"

    pushed = agent.push(repo)
    assert pushed.returncode == 0, pushed.stderr
    wait_for(lambda: mirrored(world, repo), timeout=60)
    assert_exact_mirror(world, "octo/hello", "github/octo/hello")
    wait_for(lambda: world.row(repo.id).sync_status == SyncStatus.COMPLETED)
    [attempt] = agent_attempts(world, repo)
    assert attempt.outcome == AttemptOutcome.MIRRORED
    row = world.row(repo.id)
    assert row.onedev_default_branch == "main"
    assert row.mirrored_refs == heads_and_tags(world.github.refs("octo/hello"))

    # A force-push and a deleted branch reach OneDev the same way.
    first = world.github.refs("octo/hello")["refs/heads/main"]
    rewritten = world.github.commit("octo/hello", "main", {"r.txt": "rewritten\n"}, parent=first)
    world.github.reset_branch("octo/hello", "main", rewritten)
    world.github.delete_branch("octo/hello", "feature")
    world.github.delete_tag("octo/hello", "v1.0")
    pushed = agent.push(repo)
    assert pushed.returncode == 0, pushed.stderr
    wait_for(lambda: mirrored(world, repo), timeout=60)
    assert_exact_mirror(world, "octo/hello", "github/octo/hello")
    assert "refs/heads/feature" not in world.onedev.refs("github/octo/hello")
    wait_for(lambda: len(agent_attempts(world, repo)) == 2)
    # What the agent's push deleted is kept in the cache and recorded, as a fetch's would be.
    history = world.cli("history", "octo/hello", "--json")
    assert history.returncode == 0, history.stderr
    assert {(row["ref"], row["kind"]) for row in json.loads(history.stdout)} == {
        ("refs/heads/feature", "deleted"),
        ("refs/tags/v1.0", "deleted"),
    }

    # Pushing what the server has already changes nothing and asks for no pass.
    again = agent.push(repo)
    assert again.returncode == 0, again.stderr
    assert agent.server_refs(repo) == heads_and_tags(world.github.refs("octo/hello"))
    assert len(agent_attempts(world, repo)) == 2

    # The server never asked GitHub anything: no API call, no git.
    assert world.github.count() == 0
    assert world.github_token not in served.log_text()
    assert agent.key not in served.log_text()


def test_refs_other_than_branches_and_tags_are_refused_before_git_runs(
    shared: tuple[World, Served],
) -> None:
    world, served = shared
    repo = world.github.create_repo("octo", "pulls")
    agent = Agent(served, create_key(world, "agent"))
    assert agent.register(repo).status_code == 201
    assert agent.push(repo).returncode == 0
    wait_for(lambda: mirrored(world, repo), timeout=60)
    before = agent.server_refs(repo)

    pull = agent.push(repo, "refs/pull/1/head:refs/pull/1/head")
    assert pull.returncode != 0
    assert "403" in pull.stderr
    mixed = agent.push(repo, "refs/heads/main:refs/heads/sneaky", "refs/pull/2/head:refs/x/y")
    assert mixed.returncode != 0
    assert agent.server_refs(repo) == before
    assert "refs/heads/sneaky" not in world.onedev.refs("github/octo/pulls")
    assert len(agent_attempts(world, repo)) == 1

    # A push over EPICSTAR_AGENT_MAX_PUSH_MB (sent chunked: git does not know its length).
    big = os.urandom(PUSH_LIMIT_MB * 1024 * 1024 + 200_000)
    world.github.commit("octo/pulls", "big", {"noise.bin": big})
    over = agent.push(repo, "refs/heads/big:refs/heads/big")
    assert over.returncode != 0
    assert "413" in over.stderr
    assert agent.server_refs(repo) == before
    # A declared length over the limit is refused before a byte of the body is read.
    address = httpx.URL(served.url)
    connection = http.client.HTTPConnection(address.host, address.port, timeout=10)
    connection.putrequest("POST", f"/agent/git/{repo.id}.git/git-receive-pack")
    connection.putheader("Authorization", basic(agent.key))
    connection.putheader("Content-Type", "application/x-git-receive-pack-request")
    connection.putheader("Content-Length", str(PUSH_LIMIT_MB * 1024 * 1024 + 1))
    connection.endheaders()
    answer = connection.getresponse()
    assert answer.status == 413
    assert "limit" in json.loads(answer.read())["detail"]
    connection.close()


def test_other_keys_and_repositories_are_refused_before_git_runs(
    shared: tuple[World, Served],
) -> None:
    world, served = shared
    git_requests_before = len(served.events("agent.git"))  # the shared server's, so far
    repo = world.github.create_repo("octo", "guarded")
    server_side = world.github.create_repo("octo", "server-side")
    agent = Agent(served, create_key(world, "agent"))
    keys = {scope: create_key(world, scope) for scope in ("read", "write", "feed", "admin")}
    assert agent.register(repo).status_code == 201
    assert agent.register(server_side).status_code == 201
    switched = served.client.patch(
        f"/api/v1/repositories/{server_side.id}",
        json={"sync_method": "server"},
        headers=bearer(keys["write"]),
    )
    assert switched.status_code == 200
    assert switched.json()["sync_method"] == "server"

    def refs_status(github_id: int, authorization: str | None) -> httpx.Response:
        headers = {"Authorization": authorization} if authorization else {}
        return served.client.get(
            f"/agent/git/{github_id}.git/info/refs",
            params={"service": "git-receive-pack"},
            headers=headers,
        )

    for authorization in (None, basic("esk_nope_wrong"), "Basic !!!", basic("")):
        answer = refs_status(repo.id, authorization)
        assert answer.status_code == 401
        assert answer.headers["www-authenticate"] == 'Basic realm="epicstar agent"'
    for scope in ("read", "write", "feed", "admin"):
        answer = refs_status(repo.id, basic(keys[scope]))
        assert answer.status_code == 403, scope
        assert "'agent' scope" in answer.json()["detail"]
    assert refs_status(server_side.id, basic(agent.key)).status_code == 403
    assert refs_status(987654321, basic(agent.key)).status_code == 404

    read_push = agent.push(repo, key=keys["read"])
    assert read_push.returncode != 0
    assert "403" in read_push.stderr
    server_push = agent.push(server_side)
    assert server_push.returncode != 0
    assert "403" in server_push.stderr
    # git never ran for a refused request: the agent's repository has no cache yet, and
    # the server logged no git request for these repositories since this test began (the
    # shared server may still be serving an earlier test's agent meanwhile).
    assert not (world.data_dir / "cache" / f"{repo.id}.git").exists()
    mine = (repo.id, server_side.id)
    ran = [e for e in served.events("agent.git")[git_requests_before:] if e["github_id"] in mine]
    assert ran == []
    assert (
        refs_status(repo.id, basic(agent.key))
        .headers["content-type"]
        .startswith("application/x-git-receive-pack-advertisement")
    )
    assert agent.server_refs(repo) == {}
    assert world.github.count(path_prefix="/repos/octo/guarded") == 0
    assert world.github.count(path_prefix="/octo/guarded") == 0

    # The agent key opens nothing else.
    assert served.client.get("/api/v1/repositories", headers=bearer(agent.key)).status_code == 403
    patched = served.client.patch(
        f"/api/v1/repositories/{repo.id}",
        json={"sync_method": "server"},
        headers=bearer(agent.key),
    )
    assert patched.status_code == 403


def test_registration_reports_unstars_and_checks_its_input(shared: tuple[World, Served]) -> None:
    world, served = shared
    asked_before = world.github.count()  # the module's other tests share this GitHub
    repo = world.github.create_repo("octo", "fickle")
    agent = Agent(served, create_key(world, "agent"))
    assert agent.register(repo, description="one").status_code == 201
    again = agent.register(repo, description="two", full_name="octo/renamed")
    assert again.status_code == 200
    assert (again.json()["full_name"], again.json()["description"]) == ("octo/renamed", "two")

    gone = agent.register(repo, full_name="octo/renamed", starred=False)
    assert gone.status_code == 200
    assert gone.json()["state"] == "unstarred"
    back = agent.register(repo, full_name="octo/renamed")
    assert (back.status_code, back.json()["state"]) == (200, "active")

    unknown = served.client.put(
        "/api/v1/agent/repositories/55555",
        json={"full_name": "octo/none", "starred": False},
        headers=bearer(agent.key),
    )
    assert unknown.status_code == 404
    for bad in ({"full_name": "not a name"}, {"size_kb": -1}, {"html_url": "javascript:x"}):
        answer = agent.register(repo, **bad)
        assert answer.status_code == 422, bad
    write = create_key(world, "write")
    refused = served.client.put(
        f"/api/v1/agent/repositories/{repo.id}",
        json={"full_name": "octo/renamed"},
        headers=bearer(write),
    )
    assert refused.status_code == 403
    assert world.github.count() == asked_before  # the server asked GitHub nothing


@ONE_DATABASE
def test_the_sync_method_switch_is_audited(world: World, served: Served) -> None:
    repo = world.github.create_repo("octo", "switch")
    agent = Agent(served, create_key(world, "agent"))
    admin = create_key(world, "admin", "write")
    assert agent.register(repo).status_code == 201

    dry = world.cli("method", "octo/switch", "server", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "would switch from agent to server" in dry.stdout
    assert world.row(repo.id).sync_method == SyncMethod.AGENT

    done = world.cli("method", "octo/switch", "server")
    assert done.returncode == 0, done.stderr
    assert "switched from agent to server" in done.stdout
    row = world.row(repo.id)
    assert row.sync_method == SyncMethod.SERVER
    assert row.next_due_at is not None

    unknown = world.cli("method", "octo/nothing", "agent")
    assert unknown.returncode != 0
    assert "octo/nothing is not tracked" in unknown.stderr
    wrong = world.cli("method", "octo/switch", "laptop")
    assert wrong.returncode != 0
    assert "agent|server" in wrong.stderr

    patched = served.client.patch(
        f"/api/v1/repositories/{repo.id}", json={"sync_method": "agent"}, headers=bearer(admin)
    )
    assert (patched.status_code, patched.json()["sync_method"]) == (200, "agent")
    same = served.client.patch(
        f"/api/v1/repositories/{repo.id}", json={"sync_method": "agent"}, headers=bearer(admin)
    )
    assert same.status_code == 200
    for body in ({"sync_method": "laptop"}, {}, {"sync_method": "agent", "state": "x"}):
        answer = served.client.patch(
            f"/api/v1/repositories/{repo.id}", json=body, headers=bearer(admin)
        )
        assert answer.status_code == 422, body
    missing = served.client.patch(
        "/api/v1/repositories/31337", json={"sync_method": "agent"}, headers=bearer(admin)
    )
    assert missing.status_code == 404

    every = world.cli("method", "--all", "agent")
    assert every.returncode == 0, every.stderr
    assert f"octo/switch (GitHub id {repo.id}): already agent" in every.stdout

    audit = served.client.get(
        "/api/v1/audit", params={"action": "repository.sync_method_changed"}, headers=bearer(admin)
    )
    entries = audit.json()["items"]
    assert [(e["actor"], e["details"]) for e in reversed(entries)] == [
        ("cli", {"old": "agent", "new": "server"}),
        ("key", {"old": "server", "new": "agent"}),
    ]
    assert all(e["target"] == f"repository {repo.id} (octo/switch)" for e in entries)


@ONE_DATABASE
def test_the_server_asks_github_nothing_about_an_agent_repository(world: World) -> None:
    """A server with a token mirrors its own repositories as before; the agent's one is
    neither fetched nor looked up, even when the server's starred list no longer has it."""
    own = world.github.create_repo("octo", "own")
    theirs = world.github.create_repo("octo", "theirs")
    world.star("octo/own", "octo/theirs")
    world.poll()
    switched = world.cli("method", "octo/theirs", "agent")
    assert switched.returncode == 0, switched.stderr
    world.github.clear_log()

    summary = world.sync(poll=True, full_walk=True)
    assert summary.ok
    outcomes = {report.full_name: report.outcome for report in summary.reports}
    assert outcomes == {
        "octo/own": AttemptOutcome.MIRRORED,
        "octo/theirs": AttemptOutcome.UNCHANGED,
    }
    assert_exact_mirror(world, "octo/own", "github/octo/own")
    waiting = world.row(theirs.id)
    assert (waiting.sync_status, waiting.onedev_path, waiting.error) == (
        SyncStatus.PENDING,
        None,
        None,
    )
    status = world.cli("status")
    assert "waits for the agent's first push" in status.stdout

    world.github.unstar(world.login, "octo/theirs")
    summary = world.sync(poll=True, full_walk=True)
    assert summary.ok
    assert world.row(theirs.id).state == "active"  # its stars are the agent's to report

    # What the agent pushed into the cache is mirrored, with no GitHub in sight.
    cache = world.data_dir / "cache" / f"{theirs.id}.git"
    subprocess.run(["git", "init", "--quiet", "--bare", str(cache)], check=True)
    pushed = git(theirs.path, "push", "--quiet", str(cache), *BRANCHES_AND_TAGS, key=None)
    assert pushed.returncode == 0, pushed.stderr
    summary = world.sync()
    outcomes = {report.full_name: report.outcome for report in summary.reports}
    assert outcomes == {
        "octo/own": AttemptOutcome.UNCHANGED,
        "octo/theirs": AttemptOutcome.MIRRORED,
    }
    assert_exact_mirror(world, "octo/theirs", "github/octo/theirs")
    assert world.github.count(path_prefix="/repos/octo/theirs") == 0
    assert world.github.count(path_prefix="/octo/theirs") == 0
    assert world.github.count(path_prefix="/repositories/") == 0
    assert world.github.count(path_prefix="/repos/octo/own") > 0  # the server's one, as ever
    assert own.id != theirs.id
