"""Delivering one repository, through real git over smart HTTP: GitHub's refs fetched into the
local cache, compared with the server's, the new commits read, heads and tags pushed.

The server's git side is played by the sandbox's OneDev, which serves a project at exactly
the agent's URL shape (``<server>/agent/git/<id>.git``) and takes the key as an HTTP Basic
password, as the server does; the commits the agent would post are kept to be looked at.
"""

from __future__ import annotations

import dataclasses
import http.server
import shutil
import threading
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs

from epicstar.agent.config import AgentSettings
from epicstar.agent.delivery import Deliverer, Outcome, StepFailed
from epicstar.agent.server import AgentServer, Ingested
from epicstar.agent.state import Star
from tests.e2e.conftest import World, sandbox_world
from tests.e2e.helpers import heads_and_tags
from tests.http_fakes import HeaderRecorder


class GitOnlyServer(AgentServer):
    """The server's git side is real; its commit ingestion only keeps the batches."""

    def __init__(self, url: str, key: str) -> None:
        super().__init__(url, key)
        self.batches: list[list[Mapping[str, Any]]] = []

    def post_commits(self, github_id: int, commits: Sequence[Mapping[str, Any]]) -> Ingested:
        self.batches.append(list(commits))
        return Ingested(len(commits), len(commits), 0)

    def posted(self) -> list[Mapping[str, Any]]:
        return [commit for batch in self.batches for commit in batch]


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    with sandbox_world(tmp_path, "sqlite:///unused") as world:
        yield world


@pytest.fixture
def server(world: World) -> Iterator[GitOnlyServer]:
    with GitOnlyServer(world.sandbox.onedev_url, world.onedev_token) as server:
        yield server


def settings_for(world: World, tmp_path: Path, server: AgentServer) -> AgentSettings:
    return AgentSettings(
        data_dir=tmp_path / "agent",
        server_url=server.url,
        api_key=world.onedev_token,
        github_token=world.github_token,
        github_api_url=world.sandbox.github_api_url,
    )


def star_of(world: World, full_name: str) -> Star:
    repo = world.github.repo(full_name)
    world.onedev.add_project(f"agent/git/{repo.id}")
    clone_url = f"{world.sandbox.github_url}/{full_name}.git"
    return Star(repo.id, full_name, clone_url, 0, {})


def on_server(world: World, star: Star) -> dict[str, str]:
    return heads_and_tags(world.onedev.refs(f"agent/git/{star.github_id}"))


def on_github(world: World, star: Star) -> dict[str, str]:
    return heads_and_tags(world.github.refs(star.full_name))


def pushes(world: World) -> int:
    return int(world.onedev.log.count("POST", git_service="git-receive-pack"))


def test_first_mirror_then_nothing_then_only_the_new_commits(
    world: World, tmp_path: Path, server: GitOnlyServer
) -> None:
    world.github.create_repo("octo", "tool")
    star = star_of(world, "octo/tool")
    deliverer = Deliverer(settings_for(world, tmp_path, server), server)

    first = deliverer.deliver(star)
    assert first.outcome == Outcome.DELIVERED
    assert first.detail == "first mirror"
    assert first.commits_posted == 0
    assert server.batches == []  # the server records the first mirror itself
    assert on_server(world, star) == on_github(world, star)
    assert not [name for name in world.onedev.refs(f"agent/git/{star.github_id}") if "pull" in name]

    before = pushes(world)
    assert deliverer.deliver(star).outcome == Outcome.UNCHANGED
    assert pushes(world) == before
    assert server.batches == []

    one = world.github.commit("octo/tool", "main", {"a.txt": b"a\n"}, "First change")
    two = world.github.commit("octo/tool", "main", {"b.txt": b"b\n"}, "Second change")
    side = world.github.commit("octo/tool", "feature", {"c.txt": b"c\n"}, "On a branch")
    world.github.tag("octo/tool", "v1.0", two)
    delivered = deliverer.deliver(star)
    assert delivered.outcome == Outcome.DELIVERED
    assert delivered.commits_posted == 3
    assert delivered.refs_changed == 3  # main moved, feature and v1.0 are new
    posted = server.posted()
    assert [c["sha"] for c in posted] == [side, two, one]  # newest first, as git log lists
    assert [c["branches"] for c in posted] == [
        ["feature"],
        ["feature", "main"],
        ["feature", "main"],
    ]
    assert [c["title"] for c in posted] == ["On a branch", "Second change", "First change"]
    assert on_server(world, star) == on_github(world, star)


def test_force_push_and_deleted_branch_with_a_fresh_cache(
    world: World, tmp_path: Path, server: GitOnlyServer
) -> None:
    world.github.create_repo("octo", "tool")
    star = star_of(world, "octo/tool")
    settings = settings_for(world, tmp_path, server)
    base = world.github.refs("octo/tool")["refs/heads/main"]
    Deliverer(settings, server).deliver(star)
    dropped = world.github.commit("octo/tool", "main", {"a.txt": b"a\n"})
    world.github.commit("octo/tool", "topic", {"t.txt": b"t\n"})
    Deliverer(settings, server).deliver(star)
    server.batches.clear()

    rewritten = world.github.commit("octo/tool", "main", {"b.txt": b"b\n"}, parent=base)
    world.github.delete_branch("octo/tool", "topic")
    # A new machine: its cache never saw the commit the server still has.
    shutil.rmtree(settings.cache_dir)
    delivered = Deliverer(settings, server).deliver(star)
    assert delivered.outcome == Outcome.DELIVERED
    assert [c["sha"] for c in server.posted()] == [rewritten]
    server_refs = on_server(world, star)
    assert server_refs == on_github(world, star)
    assert "refs/heads/topic" not in server_refs
    assert dropped not in server_refs.values()
    # The server's objects were borrowed, not its refs: the cache has GitHub's refs only.
    cache_refs = Deliverer(settings, server).deliver(star).server_refs
    assert cache_refs == server_refs


def test_dry_run_pushes_and_posts_nothing(
    world: World, tmp_path: Path, server: GitOnlyServer
) -> None:
    world.github.create_repo("octo", "tool")
    star = star_of(world, "octo/tool")
    settings = settings_for(world, tmp_path, server)
    Deliverer(settings, server).deliver(star)
    world.github.commit("octo/tool", "main", {"a.txt": b"a\n"})
    before, server_refs = pushes(world), on_server(world, star)

    dry = Deliverer(settings, server, dry_run=True).deliver(star)
    assert dry.outcome == Outcome.WOULD_DELIVER
    assert dry.commits_posted == 1
    assert dry.refs_changed == 1
    assert pushes(world) == before
    assert on_server(world, star) == server_refs
    assert server.batches == []

    never_seen = Deliverer(settings, server, dry_run=True).deliver(star, first_time=True)
    assert never_seen.detail == "first mirror"
    assert never_seen.refs_changed == len(on_github(world, star))


def test_the_github_token_goes_to_githubs_git_host_alone(
    world: World, tmp_path: Path, server: GitOnlyServer
) -> None:
    """A clone URL on another host (a GitHub answer not to be trusted) is fetched without
    the token, with one warning; GitHub's own host gets it (the repository is private)."""
    world.github.create_repo("octo", "secret", private=True)
    star = star_of(world, "octo/secret")
    deliverer = Deliverer(settings_for(world, tmp_path, server), server)
    assert deliverer.deliver(star).outcome == Outcome.DELIVERED
    assert on_server(world, star) == on_github(world, star)

    recorder = http.server.ThreadingHTTPServer(("127.0.0.1", 0), HeaderRecorder)
    threading.Thread(target=recorder.serve_forever, daemon=True).start()
    foreign = f"http://127.0.0.1:{recorder.server_address[1]}"
    moved = dataclasses.replace(star, clone_url=f"{foreign}/octo/secret.git")
    try:
        with capture_logs() as logs:
            for _ in range(2):
                with pytest.raises(StepFailed, match="not found"):  # the other host has nothing
                    deliverer.deliver(moved)
    finally:
        recorder.shutdown()
        recorder.server_close()

    assert HeaderRecorder.seen, "git asked the other host"
    for headers in HeaderRecorder.seen:
        assert "authorization" not in headers
        assert world.github_token not in repr(headers)
    withheld = [entry for entry in logs if entry["event"] == "github.token_withheld"]
    assert [entry["origin"] for entry in withheld] == [foreign]  # once per host and run
