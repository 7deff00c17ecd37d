"""Errors raised by the GitHub client.

One base class, :class:`GitHubError`, and a subclass per situation a caller
handles differently. Messages are one line and never contain a token.
"""

from __future__ import annotations

from datetime import datetime

__all__ = [
    "GitHubAuthError",
    "GitHubError",
    "GitHubForbidden",
    "GitHubUnavailable",
    "RateLimited",
    "SourceBlocked",
    "SourceGone",
    "UserNotFound",
]


class GitHubError(Exception):
    """Any failure talking to GitHub. ``status`` is the HTTP status, if there was one."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status

    def __str__(self) -> str:
        return self.message


class GitHubAuthError(GitHubError):
    """401: the token is missing, invalid, expired or revoked."""


class GitHubForbidden(GitHubError):
    """403 that is not a rate limit: the token may not see or use this resource."""


class SourceGone(GitHubError):
    """404: deleted, private without access, or never existed (GitHub does not say which)."""


class UserNotFound(GitHubError):
    """404 for ``/users/{user}/starred``: no such GitHub user (``user`` names who was asked)."""

    def __init__(self, message: str, *, user: str, status: int | None = 404) -> None:
        super().__init__(message, status=status)
        self.user = user


class SourceBlocked(GitHubError):
    """451: access blocked for legal reasons (for example a DMCA takedown)."""

    def __init__(
        self,
        message: str,
        *,
        reason: str | None = None,
        html_url: str | None = None,
        status: int | None = 451,
    ) -> None:
        super().__init__(message, status=status)
        self.reason = reason
        self.html_url = html_url


class RateLimited(GitHubError):
    """A rate limit needs a longer wait than the client may sleep (or retries ran out).

    ``retry_at`` is when a request may be made again; ``wait_seconds`` is how long
    that was from the moment the error was raised.
    """

    def __init__(
        self,
        message: str,
        *,
        retry_at: datetime,
        wait_seconds: float,
        status: int | None = None,
    ) -> None:
        super().__init__(message, status=status)
        self.retry_at = retry_at
        self.wait_seconds = wait_seconds


class GitHubUnavailable(GitHubError):
    """5xx answers or network failures that persisted through every retry."""
