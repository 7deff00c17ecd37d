"""How the agent reads a 403: a key without the ``agent`` scope stops the run, a repository the
server mirrors itself concerns that repository alone."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from epicstar.agent.server import AgentServer, KeyRefused, RepositoryRefused, ServerRepository

MIRRORED_BY_THE_SERVER = {
    "detail": "repository 7 is mirrored by the server, not by an agent: "
    "its starred state follows the server's star polling; nothing was changed",
    "github_id": 7,
    "sync_method": "server",
}


def server_answering(status: int, body: dict[str, Any]) -> AgentServer:
    transport = httpx.MockTransport(lambda request: httpx.Response(status, json=body))
    return AgentServer("http://server.test", "esk_abc_secret", transport=transport)


def test_a_repository_the_server_mirrors_is_refused_for_itself_alone() -> None:
    with (
        server_answering(403, MIRRORED_BY_THE_SERVER) as server,
        pytest.raises(RepositoryRefused) as refused,
    ):
        server.register(7, {"full_name": "octo/theirs", "starred": False})
    assert refused.value.detail == MIRRORED_BY_THE_SERVER["detail"]
    assert not isinstance(refused.value, KeyRefused)


def test_a_key_without_the_agent_scope_is_refused_as_a_key() -> None:
    with (
        server_answering(403, {"detail": "this key lacks the 'agent' scope"}) as server,
        pytest.raises(KeyRefused) as refused,
    ):
        server.register(7, {"full_name": "octo/theirs"})
    assert "needs the scope 'agent'" in str(refused.value)
    assert "secret" not in str(refused.value)


def test_a_star_of_a_repository_the_server_mirrors_is_answered_with_its_sync_method_alone() -> None:
    """The server shows an agent nothing of its own repositories: no name, no state."""
    answer = {
        "detail": "repository 7 is mirrored by the server, not by an agent: its metadata and "
        "its star come from the server's own requests and star polling; nothing was changed",
        "github_id": 7,
        "sync_method": "server",
        "changed": False,
    }
    with server_answering(200, answer) as server:
        registered = server.register(7, {"full_name": "octo/theirs"})
    assert registered == ServerRepository(github_id=7, sync_method="server", state=None)
    assert not registered.for_the_agent
