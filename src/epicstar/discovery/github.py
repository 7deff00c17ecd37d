"""A small synchronous GitHub REST client: repository metadata with GitHub's manners.

It sends one request at a time, pins the API version, identifies itself,
follows redirects itself (so a 301 rename is reported to the caller), makes
conditional requests with ETags, and obeys GitHub's primary and secondary rate
limits (see :mod:`epicstar.discovery.ratelimit`). Every wait goes through the
injected ``sleep`` and every "now" through the injected ``clock``.

Every endpoint (repositories, the starred list) goes through
:meth:`GitHubClient._request`, which does all of the above for any GET.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from typing import Any, NamedTuple
from urllib.parse import quote, unquote

import httpx
from pydantic import SecretStr

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
from epicstar.discovery.ratelimit import RateLimit, throttle_for
from epicstar.discovery.repository import Repository
from epicstar.discovery.starred import (
    STAR_ACCEPT,
    StarredPage,
    page_links,
    stars_from_body,
)
from epicstar.http_client import PooledClient, tls_context
from epicstar.retry import DEFAULT_RETRY, RetryPolicy

__all__ = [
    "API_VERSION",
    "DEFAULT_USER_AGENT",
    "GitHubClient",
    "RepositoryResponse",
]


def _package_version() -> str:
    try:
        return version("epicstar")
    except PackageNotFoundError:
        return "0+unknown"


API_VERSION = "2022-11-28"
DEFAULT_USER_AGENT = f"epicstar/{_package_version()} (+https://github.com/epicstar)"
ACCEPT = "application/vnd.github+json"

MAX_PER_PAGE = 100
MAX_REDIRECTS = 5
_REDIRECTS = (301, 302, 303, 307, 308)
_PERMANENT_REDIRECTS = (301, 308)
_IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS"})

PERMISSIONS_HELP = (
    "a classic personal access token needs the 'repo' scope "
    "for private repositories ('public_repo' or no scope is enough for public ones); "
    "a fine-grained token needs the repository permissions 'Metadata: read' and "
    "'Contents: read' on the repositories, and the user permission 'Starring: read' "
    "for the starred list"
)
ANONYMOUS_STARRED_HELP = (
    "the starred list of the token's user needs EPICSTAR_GITHUB_TOKEN, "
    "or set EPICSTAR_GITHUB_USER for someone's public stars"
)


# --------------------------------------------------------------------------- data


@dataclass(frozen=True)
class RepositoryResponse:
    """Answer to a (possibly conditional) repository request.

    ``repository`` is ``None`` exactly when GitHub answered 304 Not Modified to the
    ETag that was sent (such an answer costs no rate limit). ``etag`` is the one to
    send next time. ``moved`` is true when a permanent redirect was followed: the
    repository was renamed or transferred, and the caller should store the new
    ``full_name`` from ``repository``.
    """

    repository: Repository | None
    etag: str | None
    moved: bool = False

    @property
    def not_modified(self) -> bool:
        return self.repository is None


@dataclass
class _CallState:
    """Bookkeeping for one :meth:`GitHubClient._request` call."""

    retries: int = 0
    secondary: int = 0
    hops: int = 0
    moved: bool = False


class _Reply(NamedTuple):
    """A final (2xx or 304) response and whether a permanent redirect led to it."""

    response: httpx.Response
    moved: bool


# ------------------------------------------------------------------------- client


class GitHubClient(PooledClient):
    """Synchronous GitHub REST client; use as a context manager or call :meth:`close`.

    ``max_wait`` is the longest single pause (seconds) the client will sleep for a
    rate limit; a longer one raises :class:`RateLimited` instead. ``max_retries``
    bounds the rate-limit retries of one call; 5xx answers and network errors are tried
    again as ``retry`` allows. ``sleep`` and ``clock`` exist so tests never really wait.
    """

    def __init__(
        self,
        api_url: str,
        token: str | None,
        *,
        user_agent: str = DEFAULT_USER_AGENT,
        max_wait: float = 900.0,
        max_retries: int = 5,
        retry: RetryPolicy = DEFAULT_RETRY,
        sleep: Callable[[float], None] = time.sleep,
        transport: httpx.BaseTransport | None = None,
        timeout: float = 30.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.api_url = api_url.rstrip("/")
        self._api = httpx.URL(self.api_url + "/")
        if self._api.scheme not in ("http", "https") or not self._api.host:
            raise ValueError("GitHub API URL must be an absolute http(s) URL")
        self._token = SecretStr(token) if token else None
        self.max_wait = max_wait
        self.max_retries = max_retries
        self._retry = retry
        self._sleep = sleep
        self._clock = clock
        self._lock = threading.Lock()
        self.rate_limit: RateLimit | None = None
        """The last ``x-ratelimit-*`` values GitHub sent, or ``None`` before any."""
        self._client = httpx.Client(
            verify=tls_context(),
            transport=transport,
            timeout=timeout,
            follow_redirects=False,
            headers={
                "Accept": ACCEPT,
                "X-GitHub-Api-Version": API_VERSION,
                "User-Agent": user_agent,
            },
        )

    def __repr__(self) -> str:
        return f"GitHubClient(api_url={self.api_url!r}, authenticated={self._token is not None})"

    # public API
    def get_repository(self, full_name: str, etag: str | None = None) -> RepositoryResponse:
        """``GET /repos/{owner}/{repo}``, following a rename/transfer redirect."""
        owner, sep, name = full_name.partition("/")
        if not sep or not owner or not name or "/" in name:
            raise ValueError(f"expected 'owner/name', got {full_name!r}")
        path = f"repos/{quote(owner, safe='')}/{quote(name, safe='')}"
        return self._repository(path, etag, f"repository '{full_name}'")

    def get_repository_by_id(self, repo_id: int, etag: str | None = None) -> RepositoryResponse:
        """``GET /repositories/{id}``: works whatever the repository is called now."""
        if isinstance(repo_id, bool) or not isinstance(repo_id, int) or repo_id <= 0:
            raise ValueError(f"expected a positive repository id, got {repo_id!r}")
        return self._repository(f"repositories/{repo_id}", etag, f"repository #{repo_id}")

    def check_token(self) -> None:
        """Fail fast on a rejected token: ``GET /rate_limit`` costs no rate limit.

        Without a token there is nothing to check. A server with rate limiting turned off
        (GitHub Enterprise) answers 404 there, which says nothing against the token.
        """
        if self._token is None:
            return
        try:
            self._request("GET", "rate_limit", subject="the token check")
        except SourceGone:
            return

    def token_login(self) -> str:
        """``GET /user``: the login of the token's user; :class:`GitHubAuthError` without a
        token or with a rejected one."""
        if self._token is None:
            raise GitHubAuthError("no GitHub token is set: set EPICSTAR_GITHUB_TOKEN")
        reply = self._request("GET", "user", subject="the token's user")
        body = _json_body(reply.response)
        login = body.get("login") if isinstance(body, dict) else None
        if not isinstance(login, str) or not login:
            raise GitHubError(
                "unexpected answer from GitHub for the token's user: no login",
                status=reply.response.status_code,
            )
        return login

    def starred_page(
        self,
        user: str | None = None,
        *,
        url: str | None = None,
        etag: str | None = None,
        per_page: int = MAX_PER_PAGE,
    ) -> StarredPage:
        """One page of a starred list, most recently starred first.

        Without ``url`` this is page 1: ``GET /user/starred`` (the token's user, so a
        token is required) when ``user`` is ``None``, else ``GET /users/{user}/starred``
        (public stars), with ``sort=created&direction=desc&per_page=``. With ``url``, a
        previous page's ``next_url``, exactly that URL is requested (``user`` then only
        names the list in messages). ``etag`` makes the request conditional: a 304
        costs no rate limit and gives a page with ``not_modified=True``.

        Raises :class:`GitHubAuthError` without a token for the token's user,
        :class:`UserNotFound` when ``/users/{user}/starred`` answers 404, a plain
        :class:`GitHubError` for a malformed page, and whatever :meth:`_request` raises.
        """
        target, params, owner = self._starred_target(user, url, per_page)
        subject = (
            f"the starred list of user '{owner}'"
            if owner is not None
            else "the starred list of the token's user"
        )
        headers = {"Accept": STAR_ACCEPT}
        if etag:
            headers["If-None-Match"] = _quoted_etag(etag)
        try:
            reply = self._request("GET", target, headers=headers, params=params, subject=subject)
        except SourceGone as exc:
            if owner is None:
                raise
            raise UserNotFound(
                f"GitHub has no user '{owner}' ({exc.status}): check EPICSTAR_GITHUB_USER",
                user=owner,
                status=exc.status,
            ) from None
        response = reply.response
        new_etag = response.headers.get("etag")
        if response.status_code == 304:
            return StarredPage((), new_etag or etag, None, None, not_modified=True)
        try:
            stars = stars_from_body(_json_body(response))
        except ValueError as exc:
            raise GitHubError(
                f"unexpected answer from GitHub for {subject}: {self._scrub(str(exc))}",
                status=response.status_code,
            ) from None
        next_url, last_url = page_links(response)
        return StarredPage(stars, new_etag, next_url, last_url)

    def _starred_target(
        self, user: str | None, url: str | None, per_page: int
    ) -> tuple[str, dict[str, str | int] | None, str | None]:
        """``(url or path, query, owner)`` of a starred-list request; ``owner`` None = token's."""
        if url is not None:
            try:
                parsed = httpx.URL(url)
            except httpx.InvalidURL:
                parsed = httpx.URL()
            if parsed.scheme not in ("http", "https") or not parsed.host:
                raise ValueError("url must be an absolute URL taken from a page's next_url")
            owner = user.strip() if user is not None else _starred_list_owner(parsed)
            return url, None, owner
        if isinstance(per_page, bool) or not 1 <= per_page <= MAX_PER_PAGE:
            raise ValueError(f"per_page must be 1 to {MAX_PER_PAGE}, got {per_page!r}")
        params: dict[str, str | int] = {
            "sort": "created",
            "direction": "desc",
            "per_page": per_page,
        }
        if user is None:
            if self._token is None:
                raise GitHubAuthError(ANONYMOUS_STARRED_HELP)
            return "user/starred", params, None
        owner = user.strip()
        if not owner:
            raise ValueError("the GitHub user name is empty")
        return f"users/{quote(owner, safe='')}/starred", params, owner

    def _repository(self, path: str, etag: str | None, subject: str) -> RepositoryResponse:
        headers = {"If-None-Match": _quoted_etag(etag)} if etag else None
        reply = self._request("GET", path, headers=headers, subject=subject)
        response = reply.response
        new_etag = response.headers.get("etag")
        if response.status_code == 304:
            return RepositoryResponse(None, new_etag or etag, reply.moved)
        try:
            repository = Repository.from_api(_json_object(response))
        except ValueError as exc:
            raise GitHubError(
                f"unexpected answer from GitHub for {subject}: {exc}",
                status=response.status_code,
            ) from None
        return RepositoryResponse(repository, new_etag, reply.moved)

    # machinery shared by every endpoint
    def _request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, str | int] | None = None,
        subject: str | None = None,
    ) -> _Reply:
        """Send one request the way GitHub asks to be treated; return a 2xx or 304 reply.

        ``url`` is a path relative to the API URL or an absolute URL (for example
        from a ``link`` header). Redirects are followed by hand (at most
        :data:`MAX_REDIRECTS`); ``Authorization`` is only sent to the API's own
        origin. Rate limits are waited out or raised as :class:`RateLimited`;
        5xx answers and network errors of idempotent requests are tried again
        within seconds. Every other error status raises the matching :class:`GitHubError`.
        ``subject`` names the resource in error messages.
        """
        method = method.upper()
        with self._lock:
            target = self._absolute(url)
            what = subject or f"{method} {target.path}"
            query: Mapping[str, str | int] | None = params
            state = _CallState()
            while True:
                self._wait_for_budget()
                response = self._send(method, target, query=query, headers=headers, what=what)
                self._note_rate_limit(response)
                status = response.status_code
                if status in _REDIRECTS:
                    target = self._follow(response, state, what)
                    query = None  # the location carries its own query
                    if status == 303:
                        method = "GET"
                    continue
                message = _error_message(response) if status >= 400 else None
                if self._retry_later(response, message, state, what):
                    continue
                if status < 300 or status == 304:
                    return _Reply(response, state.moved)
                raise self._error_for(response, what, message)

    def _send(
        self,
        method: str,
        target: httpx.URL,
        *,
        query: Mapping[str, str | int] | None,
        headers: Mapping[str, str] | None,
        what: str,
    ) -> httpx.Response:
        """One HTTP exchange, tried again (idempotent ones) after a passing failure."""
        try:
            return self._exchange(
                method,
                target,
                repeatable=method in _IDEMPOTENT,
                what=f"GitHub: {what}",
                params=query,
                headers=self._headers_for(target, headers),
            )
        except httpx.UnsupportedProtocol as exc:
            raise GitHubError(
                f"cannot reach GitHub at {target.host}: {self._scrub(str(exc))}"
            ) from None
        except httpx.TransportError as exc:
            raise GitHubUnavailable(
                f"cannot reach GitHub at {target.host} for {what}: "
                f"{type(exc).__name__}: {self._scrub(str(exc))}"
            ) from None

    def _follow(self, response: httpx.Response, state: _CallState, what: str) -> httpx.URL:
        location = response.headers.get("location")
        state.hops += 1
        if not location or state.hops > MAX_REDIRECTS:
            raise GitHubError(
                f"GitHub redirected {what} too often or without a location",
                status=response.status_code,
            )
        state.moved = state.moved or response.status_code in _PERMANENT_REDIRECTS
        return response.url.join(location)

    def _retry_later(
        self,
        response: httpx.Response,
        message: str | None,
        state: _CallState,
        what: str,
    ) -> bool:
        """Wait out a rate limit and say so; raise when no retry is left or for a 5xx that
        outlasted its retries."""
        status = response.status_code
        throttle = throttle_for(
            status, response.headers, message, now=self._clock(), secondary_count=state.secondary
        )
        if throttle is not None:
            if throttle.kind == "secondary":
                state.secondary += 1
            if state.retries >= self.max_retries:
                raise self._rate_limited(
                    throttle.wait, f"still rate limited after {state.retries} retries", status
                )
            self._pause(throttle.wait, status)
            state.retries += 1
            return True
        if status < 500:
            return False
        raise GitHubUnavailable(
            f"GitHub answered {status} for {what}"
            + (f": {self._scrub(message)}" if message else ""),
            status=status,
        )

    def _absolute(self, url: str) -> httpx.URL:
        if url.startswith(("http://", "https://")):
            return httpx.URL(url)
        return self._api.join(url.lstrip("/"))

    def _headers_for(self, target: httpx.URL, extra: Mapping[str, str] | None) -> dict[str, str]:
        headers = dict(extra or {})
        same_origin = (target.scheme, target.host, target.port) == (
            self._api.scheme,
            self._api.host,
            self._api.port,
        )
        if self._token is not None and same_origin:
            headers["Authorization"] = f"Bearer {self._token.get_secret_value()}"
        return headers

    def _note_rate_limit(self, response: httpx.Response) -> None:
        limit = RateLimit.from_headers(response.headers)
        if limit is not None:
            self.rate_limit = limit

    def _wait_for_budget(self) -> None:
        """Don't spend a request we know will be refused: wait for the reset first."""
        if self.rate_limit is None:
            return
        wait = self.rate_limit.exhausted_wait(self._clock())
        if wait is not None:
            self._pause(wait, None)

    def _pause(self, wait: float, status: int | None) -> None:
        if wait > self.max_wait:
            raise self._rate_limited(
                wait, f"the wait exceeds max_wait of {self.max_wait:.0f} s", status
            )
        self._sleep(wait)

    def _rate_limited(self, wait: float, why: str, status: int | None) -> RateLimited:
        retry_at = datetime.fromtimestamp(self._clock() + wait, UTC)
        resource = self.rate_limit.resource if self.rate_limit else None
        label = f" ({resource})" if resource else ""
        return RateLimited(
            f"GitHub rate limit{label} reached: next request allowed at "
            f"{retry_at.isoformat(timespec='seconds')}, in {wait:.0f} s; {why}",
            retry_at=retry_at,
            wait_seconds=wait,
            status=status,
        )

    def _error_for(self, response: httpx.Response, what: str, message: str | None) -> GitHubError:
        status = response.status_code
        said = f"{status} {self._scrub(message)}" if message else str(status)
        if status == 401:
            if self._token is None:
                return GitHubAuthError(
                    f"GitHub requires authentication for {what} ({said}): set "
                    f"EPICSTAR_GITHUB_TOKEN; {PERMISSIONS_HELP}",
                    status=status,
                )
            return GitHubAuthError(
                f"GitHub rejected the token ({said}): it is invalid, expired or revoked; "
                f"check EPICSTAR_GITHUB_TOKEN; {PERMISSIONS_HELP}",
                status=status,
            )
        if status == 403:
            advice = (
                "the token lacks a permission; check EPICSTAR_GITHUB_TOKEN"
                if self._token is not None
                else "no token is set; set EPICSTAR_GITHUB_TOKEN"
            )
            return GitHubForbidden(
                f"GitHub refused access to {what} ({said}): {advice}; {PERMISSIONS_HELP}",
                status=status,
            )
        if status == 404:
            return SourceGone(
                f"GitHub {what} not found ({said}): deleted, private and not visible to "
                "the token, or never existed",
                status=status,
            )
        if status == 451:
            reason, html_url = _block_details(response)
            details = f"reason: {reason}" if reason else "no reason given"
            where = f"; see {html_url}" if html_url else ""
            return SourceBlocked(
                f"GitHub {what} is blocked for legal reasons ({said}, {details}){where}",
                reason=reason,
                html_url=html_url,
                status=status,
            )
        return GitHubError(f"GitHub answered {said} for {what}", status=status)

    def _scrub(self, text: str) -> str:
        """One line, bounded, and never the token."""
        if self._token is not None:
            text = text.replace(self._token.get_secret_value(), "***")
        return _one_line(text)


# ------------------------------------------------------------------------ helpers


def _quoted_etag(etag: str) -> str:
    etag = etag.strip()
    if etag.startswith(('"', 'W/"')):
        return etag
    return f'"{etag}"'


def _starred_list_owner(url: httpx.URL) -> str | None:
    """The ``{user}`` of a ``…/users/{user}/starred`` URL, else ``None``."""
    parts = url.path.rstrip("/").split("/")
    if len(parts) >= 3 and parts[-1] == "starred" and parts[-3] == "users" and parts[-2]:
        return unquote(parts[-2])
    return None


def _one_line(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _json_body(response: httpx.Response) -> Any:
    try:
        return response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None


def _json_object(response: httpx.Response) -> Mapping[str, Any]:
    body = _json_body(response)
    if not isinstance(body, dict):
        raise ValueError("the body is not a JSON object")
    return body


def _error_message(response: httpx.Response) -> str | None:
    body = _json_body(response)
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        return str(body["message"])
    return None


def _block_details(response: httpx.Response) -> tuple[str | None, str | None]:
    body = _json_body(response)
    block = body.get("block") if isinstance(body, dict) else None
    if not isinstance(block, dict):
        return None, None
    reason = block.get("reason")
    html_url = block.get("html_url")
    return (
        reason if isinstance(reason, str) else None,
        html_url if isinstance(html_url, str) else None,
    )
