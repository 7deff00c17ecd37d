"""Whose stars are mirrored: the login a star event's ``sender`` must match.

``EPICSTAR_GITHUB_USER`` names it when set. Otherwise it is the login of the token's user,
asked of GitHub (``GET /user``) the first time a star event needs it and then kept: the
webhook handler makes no network call after that. A failed lookup is retried at most once
every ``retry_after`` seconds; meanwhile star events are acknowledged and ignored (the
starred-list poll still finds those stars).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Protocol

import httpx
import structlog
from pydantic import SecretStr

from epicstar.discovery import API_VERSION, DEFAULT_USER_AGENT
from epicstar.http_client import tls_context

__all__ = ["FixedIdentity", "GitHubTokenIdentity", "WebhookIdentity"]

_log = structlog.get_logger("epicstar.web")


class WebhookIdentity(Protocol):
    """Gives the mirrored user's login, or ``None`` while it is unknown; must be cheap after
    the first call (it runs inside webhook requests)."""

    def login(self) -> str | None: ...


class FixedIdentity:
    """A login known in advance (``EPICSTAR_GITHUB_USER``, tests)."""

    def __init__(self, login: str | None) -> None:
        self._login = login

    def login(self) -> str | None:
        return self._login

    def __repr__(self) -> str:
        return f"FixedIdentity({self._login!r})"


class GitHubTokenIdentity:
    """The token's login, read once from ``GET {api_url}/user`` and cached."""

    def __init__(
        self,
        api_url: str,
        token: SecretStr,
        *,
        transport: httpx.BaseTransport | None = None,
        timeout: float = 10.0,
        retry_after: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._url = api_url.rstrip("/") + "/user"
        self._token = token
        self._transport = transport
        self._timeout = timeout
        self._retry_after = retry_after
        self._clock = clock
        self._lock = threading.Lock()
        self._login: str | None = None
        self._failed_at: float | None = None

    def __repr__(self) -> str:
        return f"GitHubTokenIdentity(url={self._url!r}, login={self._login!r})"

    def login(self) -> str | None:
        if self._login is not None:
            return self._login
        with self._lock:  # one lookup at a time; the others then read its result
            if self._login is not None:
                return self._login
            if self._failed_at is not None and self._clock() - self._failed_at < self._retry_after:
                return None
            try:
                self._login = self._fetch()
            except (httpx.HTTPError, ValueError) as error:
                self._failed_at = self._clock()
                _log.warning("cannot read the token's login", url=self._url, error=str(error))
                return None
            self._failed_at = None
            return self._login

    def _fetch(self) -> str:
        headers = {
            "Accept": "application/vnd.github+json",
            "Authorization": f"Bearer {self._token.get_secret_value()}",
            "User-Agent": DEFAULT_USER_AGENT,
            "X-GitHub-Api-Version": API_VERSION,
        }
        with httpx.Client(
            verify=tls_context(), transport=self._transport, timeout=self._timeout
        ) as client:
            response = client.get(self._url, headers=headers)
        if response.status_code != 200:
            raise ValueError(f"GitHub answered {response.status_code}")
        data = response.json()
        login = data.get("login") if isinstance(data, dict) else None
        if not isinstance(login, str) or not login:
            raise ValueError("GitHub's answer has no login")
        return login
