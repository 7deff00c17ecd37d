"""What the tests of repository actions look at: rows, audit entries, passes seen through
the API."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from epicstar.state.models import AuditEntry, Repository
from tests.api.conftest import Api
from tests.e2e.helpers import wait_for


def row(api: Api, github_id: int) -> Repository:
    with api.database.session() as session:
        found = session.get(Repository, github_id)
        assert found is not None
        return found


def audited(api: Api, action: str, github_id: int) -> list[AuditEntry]:
    """The audit entries ``action`` left about the repository, oldest first."""
    with api.database.session() as session:
        statement = (
            select(AuditEntry)
            .where(
                AuditEntry.action == action,
                AuditEntry.target.startswith(f"repository {github_id} "),
            )
            .order_by(AuditEntry.id)
        )
        return list(session.scalars(statement))


def assert_names_the_key(entry: AuditEntry, key: str, name: str) -> None:
    """The entry names the key by id, name and prefix, and the client's address; never
    the key itself."""
    prefix = key.split("_")[1]
    assert (entry.actor, entry.key_name, entry.key_prefix) == ("key", name, prefix)
    assert entry.key_id is not None
    assert entry.address == "127.0.0.1"
    secret = key.split("_")[2]
    stored = repr([entry.target, entry.details, entry.key_name, entry.key_prefix, entry.address])
    assert secret not in stored
    assert key not in stored


def attempts(api: Api, key: str, github_id: int) -> list[dict[str, Any]]:
    response = api.get(f"/repositories/{github_id}", key)
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()["attempts"]
    return found


def wait_for_attempts(api: Api, key: str, github_id: int, count: int) -> list[dict[str, Any]]:
    """The repository's attempts (newest first) once ``count`` of them have finished."""

    def finished() -> bool:
        found = attempts(api, key, github_id)
        return len(found) >= count and all(a["finished_at"] is not None for a in found)

    wait_for(finished, 120)
    return attempts(api, key, github_id)
