"""How the agent reads a 403: a key without the ``agent`` scope stops the run, a repository the
server mirrors itself concerns that repository alone."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from epicstar.agent.server import AgentServer, KeyRefused, RepositoryRefused

MIRRORED_BY_THE_SERVER = {
    "detail": "repository 7 (octo/theirs) is mirrored by the server, not by an agent: "
    "its starred state follows the server's star polling",
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
