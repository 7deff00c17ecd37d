"""The epicstar server as the agent sees it: its REST routes for agents and its git URL.

Requests carry the agent key as ``Authorization: Bearer``; git gets it as HTTP Basic through
the environment (:meth:`AgentServer.git_auth`). Network errors and 5xx answers are tried
again within seconds; a 429 is waited out as its ``Retry-After`` asks, up to ``max_wait``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx
from pydantic import SecretStr

from epicstar import __version__
from epicstar.http_client import PooledClient, retry_after_seconds, tls_context
from epicstar.mirror.credentials import HttpAuth
from epicstar.retry import DEFAULT_RETRY, RetryPolicy

USER_AGENT = f"epicstar-agent/{__version__}"
GIT_USER = "agent"
MAX_THROTTLED = 5
"""How many 429 answers in a row one request waits out before giving up."""


class ServerError(Exception):
    """The server could not do what was asked; the message says why (never the key)."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class ServerUnavailable(ServerError):
    """Unreachable, failing (5xx) or rate limiting for longer than the agent waits."""


class KeyRefused(ServerError):
    """401 or 403: the key is wrong, revoked or without the ``agent`` scope. Nothing else
    the agent asks can succeed, so a run stops."""


class ServerRejected(ServerError):
    """Another 4xx: the server refuses this request (the detail says why)."""


class RepositoryRefused(ServerRejected):
    """403 for one repository, not for the key: the server mirrors it itself (``server``
    mode), so the agent's word does not govern it. The other repositories can go on."""

    def __init__(self, message: str, *, status: int, detail: str) -> None:
        super().__init__(message, status=status)
        self.detail = detail


@dataclass(frozen=True)
class ServerRepository:
    """What the server answered for a registered repository: its sync method, and its state
    when it is the agent's (of one the server mirrors itself it says nothing more)."""

    github_id: int
    sync_method: str
    state: str | None

    @property
    def for_the_agent(self) -> bool:
        """The agent fetches and pushes only repositories in agent mode and active."""
        return self.sync_method == "agent" and self.state == "active"


@dataclass(frozen=True)
class Ingested:
    total: int
    inserted: int
    skipped: int


class AgentServer(PooledClient):
    """Synchronous client of one epicstar server; use as a context manager."""

    def __init__(
        self,
        url: str,
        key: str,
        *,
        timeout: float = 30.0,
        retry: RetryPolicy = DEFAULT_RETRY,
        max_wait: float = 120.0,
        sleep: Callable[[float], None] = time.sleep,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self._key = SecretStr(key)
        self._retry = retry
        self._sleep = sleep
        self.max_wait = max_wait
        self._client = httpx.Client(
            verify=tls_context(),
            base_url=self.url,
            timeout=timeout,
            transport=transport,
            follow_redirects=False,
            headers={"User-Agent": USER_AGENT, "Accept": "application/json"},
        )

    def __repr__(self) -> str:
        return f"AgentServer(url={self.url!r})"

    # -- git -------------------------------------------------------------------------------

    def git_url(self, github_id: int) -> str:
        return f"{self.url}/agent/git/{github_id}.git"

    def git_auth(self) -> HttpAuth:
        return HttpAuth.basic(self.url, self._key.get_secret_value(), user=GIT_USER)

    # -- REST ------------------------------------------------------------------------------

    def health(self) -> None:
        """``GET /health``: raises :class:`ServerUnavailable` unless it answers 200."""
        response = self._call("GET", "/health", what="the health check", auth=False)
        if response.status_code != 200:
            raise ServerUnavailable(
                f"the server at {self.url} answered {response.status_code} to /health",
                status=response.status_code,
            )

    def check_key(self) -> None:
        """Prove the key is valid and of scope ``agent`` without changing anything.

        An empty registration of repository 0, a route only ``agent`` keys pass: without a
        key it must answer 401 (so the route exists and checks keys); with an ``agent`` key
        the empty body is refused (422, or 404), other keys are refused 401 or 403 first.
        """
        path = "/api/v1/agent/repositories/0"
        anonymous = self._call("PUT", path, what="the key check", auth=False, json={})
        if anonymous.status_code != 401:
            raise ServerRejected(
                f"the server at {self.url} does not offer the agent's routes "
                f"(PUT {path} without a key answered {anonymous.status_code}, not 401): "
                "is it an epicstar server recent enough for agents?",
                status=anonymous.status_code,
            )
        response = self._call("PUT", path, what="the key check", json={})
        if response.status_code in (404, 422):
            return
        raise self._error(response, "the key check")

    def register(self, github_id: int, body: Mapping[str, Any]) -> ServerRepository:
        """``PUT /api/v1/agent/repositories/{id}``: register a star (or report an unstar)."""
        what = f"registering repository #{github_id}"
        response = self._call(
            "PUT", f"/api/v1/agent/repositories/{github_id}", what=what, json=dict(body)
        )
        if response.status_code not in (200, 201):
            raise self._error(response, what)
        data = _object(response)
        try:
            state = data.get("state")
            return ServerRepository(
                github_id=int(data["github_id"]),
                sync_method=str(data["sync_method"]),
                state=None if state is None else str(state),
            )
        except (KeyError, TypeError, ValueError):
            raise ServerError(
                f"unexpected answer from the server for {what}", status=response.status_code
            ) from None

    def post_commits(self, github_id: int, commits: Sequence[Mapping[str, Any]]) -> Ingested:
        """``POST /api/v1/repositories/{id}/commits``: one batch of at most 1,000, newest first.

        Safe to repeat: the server skips commits it has already.
        """
        what = f"posting {len(commits)} commits of repository #{github_id}"
        response = self._call(
            "POST",
            f"/api/v1/repositories/{github_id}/commits",
            what=what,
            json={"commits": list(commits), "client_version": __version__},
        )
        if response.status_code not in (200, 201):
            raise self._error(response, what)
        data = _object(response)
        try:
            return Ingested(int(data["total"]), int(data["inserted"]), int(data["skipped"]))
        except (KeyError, TypeError, ValueError):
            raise ServerError(
                f"unexpected answer from the server for {what}", status=response.status_code
            ) from None

    # -- machinery -------------------------------------------------------------------------

    def _call(
        self, method: str, path: str, *, what: str, auth: bool = True, **request: Any
    ) -> httpx.Response:
        """One request, retried after passing failures and waited out when rate limited."""
        headers = {"Authorization": f"Bearer {self._key.get_secret_value()}"} if auth else {}
        throttled = 0
        while True:
            try:
                response = self._exchange(
                    method, path, repeatable=True, what=what, headers=headers, **request
                )
            except httpx.TransportError as error:
                raise ServerUnavailable(
                    f"cannot reach the server at {self.url} for {what}: {type(error).__name__}"
                ) from None
            if response.status_code != 429:
                return response
            wait = retry_after_seconds(response.headers) or 1.0
            throttled += 1
            if throttled > MAX_THROTTLED or wait > self.max_wait:
                raise ServerUnavailable(
                    f"the server rate limits {what} (Retry-After {wait:.0f} s); "
                    "raise EPICSTAR_API_RATE_LIMIT on the server or sync less often",
                    status=429,
                )
            self._sleep(wait)

    def _error(self, response: httpx.Response, what: str) -> ServerError:
        status = response.status_code
        detail = _detail(response)
        said = f"{status}: {detail}" if detail else str(status)
        if status == 401:
            return KeyRefused(
                f"the server refused the key for {what} ({said}): EPICSTAR_API_KEY is wrong, "
                "expired or revoked",
                status=status,
            )
        if status == 403 and _object(response).get("sync_method") == "server":
            return RepositoryRefused(
                f"the server refused {what} ({said})", status=status, detail=detail
            )
        if status == 403:
            return KeyRefused(
                f"the server refused {what} ({said}): EPICSTAR_API_KEY needs the scope "
                "'agent' (epicstar keys create --scope agent)",
                status=status,
            )
        if status >= 500:
            return ServerUnavailable(f"the server failed {what} ({said})", status=status)
        return ServerRejected(f"the server refused {what} ({said})", status=status)


def _object(response: httpx.Response) -> dict[str, Any]:
    try:
        data = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        data = None
    return data if isinstance(data, dict) else {}


def _detail(response: httpx.Response) -> str:
    detail = _object(response).get("detail")
    if detail is None:
        return ""
    text = detail if isinstance(detail, str) else json.dumps(detail)
    text = " ".join(text.split())
    return text if len(text) <= 300 else text[:299] + "…"
