"""``epicstar add OWNER/NAME``."""

from __future__ import annotations

from epicstar.config import Settings
from epicstar.discovery import GitHubClient
from epicstar.sync.context import open_database, user_agent
from epicstar.sync.tracking import add_repository


def run_add(settings: Settings, repository: str) -> None:
    database = open_database(settings)
    token = settings.github_token.get_secret_value() if settings.github_token else None
    try:
        with GitHubClient(
            settings.github_api_url,
            token,
            user_agent=user_agent(),
            max_wait=float(settings.github_max_wait),
        ) as github:
            added = add_repository(database, github, repository)
    finally:
        database.dispose()
    if added.created:
        print(f"Tracking {added.full_name} (GitHub id {added.github_id}); run `epicstar sync`.")
    else:
        print(f"{added.full_name} (GitHub id {added.github_id}) was already tracked.")
