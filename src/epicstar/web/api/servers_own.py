"""What a caller of the agent's routes learns of a repository the server mirrors itself
(``server`` mode): its id, its sync method and what that means for the request, never more.

Such a repository is the server's alone: its metadata and star come from the server's own
requests and star polling, its git data from GitHub, its commit feed from the server's mirror
passes. An agent key changes none of it and reads none of it (not its name, state or
metadata): these answers are all it gets.
"""

from __future__ import annotations

from typing import Any

from epicstar.state.models import SyncMethod


def mirrored_by_the_server(github_id: int, consequence: str) -> str:
    return f"repository {github_id} is mirrored by the server, not by an agent: {consequence}"


def servers_own(github_id: int, consequence: str) -> dict[str, Any]:
    """The answer's body: a sentence, the repository's id and its sync method."""
    return {
        "detail": mirrored_by_the_server(github_id, consequence),
        "github_id": github_id,
        "sync_method": SyncMethod.SERVER.value,
    }


def refusal_response(when: str, consequence: str) -> dict[int | str, dict[str, Any]]:
    """The 403 as ``/openapi.json`` describes it (``when``: what is refused), with an example."""
    return {
        403: {
            "description": f"the key lacks the route's scope, or {when}",
            "content": {"application/json": {"example": servers_own(1296269, consequence)}},
        }
    }
