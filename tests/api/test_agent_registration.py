"""``PUT /api/v1/agent/repositories/{github_id}`` with an agent key: an agent's star and unstar
reports govern the repositories in agent mode, and never those the server mirrors itself."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from epicstar.state.models import AuditEntry, Origin, RepoState, SyncMethod, SyncStatus, utcnow
from tests.api.actions import row
from tests.api.conftest import GENEROUS_RATE, Api, api_world, serving
from tests.api.feed_rows import posted
from tests.e2e.helpers import assert_exact_mirror, wait_for

PATIENCE = 60.0


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def api(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    """A served API whose unstar policy deletes the mirror: the harm an unstar can do."""
    env = {"EPICSTAR_API_RATE_LIMIT": GENEROUS_RATE, "EPICSTAR_UNSTAR_POLICY": "delete"}
    with api_world(request.param, tmp_path_factory) as world, serving(world, env) as client:
        yield client


def mirrored_star(api: Api, owner: str, name: str) -> int:
    """A repository starred on GitHub, polled and mirrored by the server (``server`` mode)."""
    repo = api.world.github.create_repo(owner, name)
    api.world.star(f"{owner}/{name}")
    wait_for(lambda: api.served.events("stars.polled"), PATIENCE)  # the poll made at start
    assert api.post("/stars/poll", api.key("write")).status_code == 202

    def mirrored() -> bool:
        found = row(api, repo.id)
        return found.sync_status == SyncStatus.COMPLETED and found.onedev_project_id is not None

    wait_for(mirrored, PATIENCE)
    assert row(api, repo.id).sync_method == SyncMethod.SERVER
    return int(repo.id)


def report(api: Api, key: str, github_id: int, **fields: Any) -> Any:
    return api.request("PUT", f"/agent/repositories/{github_id}", key, json=fields)


def audit_lines(api: Api, github_id: int) -> list[str]:
    with api.database.session() as session:
        statement = select(AuditEntry.action).where(
            AuditEntry.target.startswith(f"repository {github_id} ")
        )
        return list(session.scalars(statement))


def test_an_agent_key_cannot_unstar_a_repository_the_server_mirrors(api: Api) -> None:
    github_id = mirrored_star(api, "served", "kept")
    before = row(api, github_id)
    agent = api.key("agent", name="laptop")

    refused = report(api, agent, github_id, full_name="served/kept", starred=False)

    assert refused.status_code == 403
    assert refused.json() == {
        "detail": f"repository {github_id} is mirrored by the server, not by an agent: its "
        "starred state follows the server's star polling; nothing was changed",
        "github_id": github_id,
        "sync_method": "server",
    }
    after = row(api, github_id)
    assert (after.state, after.unstarred_at, after.next_due_at) == (
        RepoState.ACTIVE,
        None,
        before.next_due_at,
    )
    assert (after.onedev_project_id, after.onedev_path) == (
        before.onedev_project_id,
        "github/served/kept",
    )
    assert_exact_mirror(api.world, "served/kept", "github/served/kept")
    assert (api.world.data_dir / "cache" / f"{github_id}.git").is_dir()
    assert audit_lines(api, github_id) == []
    [logged] = [e for e in api.served.events("agent.unstar_refused") if e["github_id"] == github_id]
    assert logged["key_prefix"] == agent.split("_")[1]


def test_an_agents_star_report_changes_nothing_of_a_repository_the_server_mirrors(
    api: Api,
) -> None:
    """Its metadata comes from GitHub: an ``html_url`` the server took from an agent would be
    where the server fetches from, with its GitHub token."""
    github_id = mirrored_star(api, "served", "untouched")
    agent = api.key("agent")
    fields = (
        "full_name",
        "clone_url",
        "html_url",
        "description",
        "archived",
        "size_kb",
        "starred_at",
        "state",
        "metadata_etag",
        "next_due_at",
    )
    before = row(api, github_id)

    answer = report(
        api,
        agent,
        github_id,
        full_name="elsewhere/renamed",
        html_url="https://git.example.net/elsewhere/renamed",
        description="defaced",
        archived=True,
        size_kb=10**9,
        starred_at="2001-01-01T00:00:00Z",
    )

    assert answer.status_code == 200
    assert answer.json() == {
        "detail": f"repository {github_id} is mirrored by the server, not by an agent: its "
        "metadata and its star come from the server's own requests and star polling; nothing "
        "was changed",
        "github_id": github_id,
        "sync_method": "server",
        "changed": False,
    }
    after = row(api, github_id)
    assert [getattr(after, name) for name in fields] == [getattr(before, name) for name in fields]
    assert "git.example.net" not in (after.clone_url or "")
    assert audit_lines(api, github_id) == []


def test_an_agents_star_report_does_not_bring_back_a_server_repository_unstarred(
    api: Api,
) -> None:
    unstarred_at = utcnow() - timedelta(days=1)
    api.track(
        3301,
        "served/gone",
        origin=Origin.STAR,
        state=RepoState.UNSTARRED,
        unstarred_at=unstarred_at,
        next_due_at=None,
    )

    answer = report(api, api.key("agent"), 3301, full_name="served/gone")

    assert answer.status_code == 200
    assert (answer.json()["sync_method"], answer.json()["changed"]) == ("server", False)
    after = row(api, 3301)
    assert (after.state, after.next_due_at) == (RepoState.UNSTARRED, None)
    assert after.unstarred_at is not None


def test_an_agent_key_is_told_nothing_of_a_server_repository_but_its_sync_method(
    api: Api,
) -> None:
    """An agent key reads nothing of the server's repositories (no `GET` opens them): not
    through a star report, an unstar report, a commit post or a push either."""
    api.track(
        3302,
        "secret-org/launch-plans",
        origin=Origin.STAR,
        html_url="https://github.com/secret-org/launch-plans",
        description="Q3 launch",
        private=True,
    )
    agent = api.key("agent")

    answers = [
        report(api, agent, 3302, full_name="guess/name"),
        report(api, agent, 3302, full_name="guess/name", starred=False),
        api.post("/repositories/3302/commits", agent, json={"commits": [posted(1)]}),
        api.get("/repositories/3302/ingestion", agent),
        api.served.client.get(
            "/agent/git/3302.git/info/refs",
            params={"service": "git-receive-pack"},
            auth=("agent", agent),
        ),
    ]

    assert [answer.status_code for answer in answers] == [200, 403, 403, 403, 403]
    for answer in answers:
        body = answer.json()
        assert body["detail"].startswith("repository 3302 is mirrored by the server, not by an ")
        for secret in ("secret-org", "launch-plans", "Q3 launch"):
            assert secret not in answer.text, (answer.url, secret)
    for answer in answers[:4]:
        assert set(answer.json()) <= {"detail", "github_id", "sync_method", "changed"}
        assert (answer.json()["github_id"], answer.json()["sync_method"]) == (3302, "server")
    assert row(api, 3302).full_name == "secret-org/launch-plans"


def test_an_agent_unstars_its_own_repositories_and_the_policy_follows(api: Api) -> None:
    github_id = mirrored_star(api, "agents", "dropped")
    switched = api.request(
        "PATCH", f"/repositories/{github_id}", api.key("write"), json={"sync_method": "agent"}
    )
    assert switched.status_code == 200
    api.world.github.unstar(api.world.login, "agents/dropped")  # what the agent saw

    answer = report(api, api.key("agent"), github_id, full_name="agents/dropped", starred=False)

    assert answer.status_code == 200
    assert (answer.json()["state"], answer.json()["sync_method"]) == ("unstarred", "agent")
    after = row(api, github_id)
    assert after.state == RepoState.UNSTARRED
    assert after.unstarred_at is not None
    assert after.onedev_project_id is None  # EPICSTAR_UNSTAR_POLICY=delete
    assert api.world.onedev.project("github/agents/dropped") is None
