"""``epicstar add OWNER/NAME``."""

from __future__ import annotations

from epicstar.config import Settings
from epicstar.discovery import GitHubClient
from epicstar.state.database import open_database
from epicstar.state.models import RepoState
from epicstar.sync.context import user_agent
from epicstar.sync.tracking import Added, add_repository


def run_add(settings: Settings, repository: str) -> None:
    database = open_database(settings)
    token = settings.github_token.get_secret_value() if settings.github_token else None
    try:
        with GitHubClient(
            settings.github_api_url,
            token,
            user_agent=user_agent(),
            max_wait=float(settings.github_max_wait),
            timeout=float(settings.http_timeout),
        ) as github:
            added = add_repository(database, github, repository)
    finally:
        database.dispose()
    print(_outcome(added))


def _outcome(added: Added) -> str:
    name = f"{added.full_name} (GitHub id {added.github_id})"
    if added.created:
        return f"Tracking {name}; run `epicstar sync`."
    if added.reactivated_from is None:
        return f"{name} was already tracked."
    was = _WAS.get(added.reactivated_from, added.reactivated_from)
    why = (
        f": {added.reason}" if added.reason and added.reactivated_from == RepoState.EXCLUDED else ""
    )
    return (
        f"Reactivated {name}, which was {was}{why}; it is now tracked as added by hand "
        "(stars and filters no longer decide for it); run `epicstar sync`."
    )


_WAS: dict[str, str] = {
    RepoState.UNSTARRED: "no longer starred",
    RepoState.EXCLUDED: "excluded",
    RepoState.SOURCE_GONE: "gone from GitHub and is back",
    RepoState.BLOCKED: "blocked on GitHub and is reachable again",
}
