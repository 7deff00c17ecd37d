"""Discovery: where the repositories to mirror come from (GitHub)."""

from epicstar.discovery.errors import (
    GitHubAuthError,
    GitHubError,
    GitHubForbidden,
    GitHubUnavailable,
    RateLimited,
    SourceBlocked,
    SourceGone,
    UserNotFound,
)
from epicstar.discovery.github import (
    API_VERSION,
    DEFAULT_USER_AGENT,
    GitHubClient,
    RepositoryResponse,
)
from epicstar.discovery.ratelimit import RateLimit
from epicstar.discovery.repository import Repository
from epicstar.discovery.starred import Star, StarredPage

__all__ = [
    "API_VERSION",
    "DEFAULT_USER_AGENT",
    "GitHubAuthError",
    "GitHubClient",
    "GitHubError",
    "GitHubForbidden",
    "GitHubUnavailable",
    "RateLimit",
    "RateLimited",
    "Repository",
    "RepositoryResponse",
    "SourceBlocked",
    "SourceGone",
    "Star",
    "StarredPage",
    "UserNotFound",
]
