"""ASGI app of the GitHub stand-in: REST API (auth, rate limits, ETags), git smart HTTP for
repositories and wikis, and Git LFS (:mod:`.github_lfs`).

REST endpoints are plain functions ``(ctx: ApiContext) -> ApiResult`` registered in
``API_ROUTES``; :func:`api_response` wraps them with GitHub's cross-cutting behaviour, so
further endpoints (like ``GET /user/starred``) are added by writing one function and one route.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from epicstar.sandbox.github_lfs import lfs_kind, serve_batch, serve_media
from epicstar.sandbox.github_model import (
    GitHubRepo,
    RateLimit,
    TokenUser,
    iso,
    iso_datetime,
    repo_json,
)
from epicstar.sandbox.gitrepo import git_env
from epicstar.sandbox.reqlog import RecordingMiddleware
from epicstar.web.githttp import (
    git_http_backend,
    repo_prefix,
    requested_service,
    smart_suffix,
)

if TYPE_CHECKING:
    from epicstar.sandbox.github import FakeGitHub

DOCS = "https://docs.github.com/rest"
JSON_TYPE = "application/json; charset=utf-8"
GIT_REALM = 'Basic realm="GitHub"'


@dataclass
class Caller:
    """Who is calling: ``token``/``user`` are None for anonymous requests."""

    token: str | None
    user: TokenUser | None


@dataclass
class ApiContext:
    request: Request
    github: FakeGitHub
    caller: Caller
    params: dict[str, str]

    @property
    def base(self) -> str:
        return str(self.request.base_url).rstrip("/")


@dataclass
class ApiResult:
    """A handler's answer.  On a 200 ``headers`` (e.g. ``link``) are repeated on the 304;
    only the media type among them goes into the ETag."""

    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


ApiHandler = Callable[[ApiContext], ApiResult]


def error(status: int, message: str, **extra: Any) -> ApiResult:
    body: dict[str, Any] = {"message": message, **extra}
    body.setdefault("documentation_url", DOCS)
    body["status"] = str(status)
    return ApiResult(status, body)


def not_found() -> ApiResult:
    return error(404, "Not Found", documentation_url=f"{DOCS}/repos/repos#get-a-repository")


def visible(repo: GitHubRepo, caller: Caller) -> bool:
    return not repo.private or caller.user is not None


def repository_result(ctx: ApiContext, repo: GitHubRepo | None) -> ApiResult:
    if repo is None or not visible(repo, ctx.caller):
        return not_found()
    if repo.block is not None:
        return error(
            451,
            "Repository access blocked",
            block={
                "reason": repo.block.reason,
                "created_at": iso(repo.block.created_at),
                "html_url": repo.block.html_url,
            },
        )
    return ApiResult(200, repository_json(ctx, repo))


def repository_json(ctx: ApiContext, repo: GitHubRepo) -> dict[str, Any]:
    """The repository as ``GET /repos/{owner}/{name}`` shows it to this caller."""
    return repo_json(
        repo,
        owner_id=ctx.github.owner_id(repo.owner),
        size_kib=ctx.github.size_kib(repo),
        base=ctx.base,
        authenticated=ctx.caller.user is not None,
    )


# ---------------------------------------------------------------------------- endpoints


def get_repo(ctx: ApiContext) -> ApiResult:
    full = f"{ctx.params['owner']}/{ctx.params['name']}"
    repo = ctx.github.find(full)
    if repo is None:
        moved = ctx.github.find_redirect(full)
        if moved is not None and visible(moved, ctx.caller):
            url = f"{ctx.base}/repositories/{moved.id}"
            result = error(
                301,
                "Moved Permanently",
                url=url,
                documentation_url="https://docs.github.com/rest/guides/best-practices-for-using-the-rest-api#follow-redirects",
            )
            result.headers["location"] = url
            return result
    return repository_result(ctx, repo)


def get_repository_by_id(ctx: ApiContext) -> ApiResult:
    return repository_result(ctx, ctx.github.by_id(int(ctx.params["id"])))


def get_user(ctx: ApiContext) -> ApiResult:
    user = ctx.caller.user
    if user is None:
        return error(401, "Requires authentication", documentation_url=f"{DOCS}/users/users")
    return ApiResult(
        200,
        {
            "login": user.login,
            "id": user.id,
            "node_id": "U_" + base64.b64encode(f"user:{user.id}".encode()).decode(),
            "type": "User",
            "site_admin": False,
            "url": f"{ctx.base}/users/{user.login}",
            "html_url": f"{ctx.base}/{user.login}",
        },
    )


def get_rate_limit(ctx: ApiContext) -> ApiResult:
    """``GET /rate_limit``: the caller's budget; asking costs nothing (see ``FREE_HANDLERS``)."""
    bucket = ctx.github.limits.snapshot(ctx.caller.token)
    core = {
        "limit": bucket.limit,
        "remaining": bucket.remaining,
        "reset": bucket.reset,
        "used": bucket.used,
        "resource": "core",
    }
    return ApiResult(200, {"resources": {"core": core}, "rate": core})


# ---------------------------------------------------------------------------- starred lists

STAR_MEDIA_TYPES = frozenset(
    {"application/vnd.github.star+json", "application/vnd.github.v3.star+json"}
)
DEFAULT_PER_PAGE = 30
MAX_PER_PAGE = 100
STARRING_DOCS = f"{DOCS}/activity/starring"


def list_starred(ctx: ApiContext) -> ApiResult:
    """``GET /user/starred``: the token's user's stars (private ones included)."""
    user = ctx.caller.user
    if user is None:
        return error(
            401,
            "Requires authentication",
            documentation_url=f"{STARRING_DOCS}#list-repositories-starred-by-the-authenticated-user",
        )
    return starred_page(ctx, user.login, own=True)


def star_repo(ctx: ApiContext) -> ApiResult:
    """``PUT /user/starred/{owner}/{repo}``: 204, also when starred already."""
    return _change_star(ctx, star=True)


def unstar_repo(ctx: ApiContext) -> ApiResult:
    """``DELETE /user/starred/{owner}/{repo}``: 204, also when not starred."""
    return _change_star(ctx, star=False)


def _change_star(ctx: ApiContext, *, star: bool) -> ApiResult:
    user = ctx.caller.user
    if user is None:
        return error(401, "Requires authentication", documentation_url=STARRING_DOCS)
    repo = ctx.github.find(f"{ctx.params['owner']}/{ctx.params['name']}")
    if repo is None or not visible(repo, ctx.caller):
        return error(404, "Not Found", documentation_url=STARRING_DOCS)
    if star:
        ctx.github.star(user.login, repo.full_name)
    else:
        ctx.github.unstar(user.login, repo.full_name)
    return ApiResult(204)


def list_user_starred(ctx: ApiContext) -> ApiResult:
    """``GET /users/{username}/starred``: public repositories only, unless the caller is that
    user (then as ``/user/starred``)."""
    login = ctx.params["user"]
    if not ctx.github.user_exists(login):
        return error(
            404,
            "Not Found",
            documentation_url=f"{STARRING_DOCS}#list-repositories-starred-by-a-user",
        )
    caller = ctx.caller.user
    own = caller is not None and caller.login.lower() == login.lower()
    return starred_page(ctx, login, own=own)


def starred_page(ctx: ApiContext, login: str, *, own: bool) -> ApiResult:
    """One page of ``login``'s stars: ``sort`` (``created`` | ``updated`` = pushed_at),
    ``direction`` (``desc`` | ``asc``), ``per_page`` (30, at most 100), ``page`` (from 1);
    other or malformed parameters are ignored.  More pages only show in the ``link`` header."""
    stars = [
        (repo, starred_at)
        for repo, starred_at in ctx.github.stars(login)
        if (visible(repo, ctx.caller) if own else not repo.private)
    ]
    query = ctx.request.query_params
    # ``stars`` is in starring order, so the index is the tie-breaker for equal pushed_at.
    order = list(range(len(stars)))
    if query.get("sort") == "updated":
        order.sort(key=lambda i: (stars[i][0].pushed_at, i))
    if query.get("direction") != "asc":
        order.reverse()
    per_page = min(int_param(query.get("per_page"), DEFAULT_PER_PAGE), MAX_PER_PAGE)
    page = int_param(query.get("page"), 1)
    last_page = max((len(stars) + per_page - 1) // per_page, 1)
    chunk = order[(page - 1) * per_page : page * per_page]
    star_media = wants_star_media(ctx.request.headers.get("accept", ""))
    items = [starred_item(ctx, *stars[i], star_media=star_media) for i in chunk]
    headers: dict[str, str] = {}
    if star_media:
        headers["x-github-media-type"] = "github.v3; param=star; format=json"
    link = link_header(ctx, page, last_page)
    if link:
        headers["link"] = link
    return ApiResult(200, items, headers)


def starred_item(
    ctx: ApiContext, repo: GitHubRepo, starred_at: datetime, *, star_media: bool
) -> dict[str, Any]:
    body = repository_json(ctx, repo)
    return {"starred_at": iso_datetime(starred_at), "repo": body} if star_media else body


def wants_star_media(accept: str) -> bool:
    """Whether ``Accept`` names the star media type (which adds ``starred_at``)."""
    return any(
        part.split(";", 1)[0].strip().lower() in STAR_MEDIA_TYPES for part in accept.split(",")
    )


def int_param(value: str | None, default: int) -> int:
    """A positive integer query parameter; anything else means ``default``."""
    try:
        number = int(value) if value is not None else default
    except ValueError:
        return default
    return number if number >= 1 else default


def link_header(ctx: ApiContext, page: int, last_page: int) -> str | None:
    """GitHub's ``link``: ``prev``, ``next``, ``last``, ``first`` (those that apply), absolute
    URLs that keep the caller's query parameters and change only ``page``."""
    rels: list[tuple[str, int]] = []
    if page > 1:
        rels.append(("prev", page - 1))
    if page < last_page:
        rels += [("next", page + 1), ("last", last_page)]
    if page > 1:
        rels.append(("first", 1))
    if not rels:
        return None
    url = f"{ctx.base}{ctx.request.url.path}"
    sent = ctx.request.query_params.multi_items()
    links = []
    for rel, number in rels:
        items = [(k, str(number) if k == "page" else v) for k, v in sent]
        if all(k != "page" for k, _ in sent):
            items.append(("page", str(number)))
        links.append(f'<{url}?{urlencode(items)}>; rel="{rel}"')
    return ", ".join(links)


API_ROUTES: list[tuple[str, re.Pattern[str], ApiHandler]] = [
    ("GET", re.compile(r"^/rate_limit/?$"), get_rate_limit),
    ("GET", re.compile(r"^/repos/(?P<owner>[^/]+)/(?P<name>[^/]+)/?$"), get_repo),
    ("GET", re.compile(r"^/repositories/(?P<id>[0-9]+)/?$"), get_repository_by_id),
    ("GET", re.compile(r"^/user/?$"), get_user),
    ("GET", re.compile(r"^/user/starred/?$"), list_starred),
    ("PUT", re.compile(r"^/user/starred/(?P<owner>[^/]+)/(?P<name>[^/]+)/?$"), star_repo),
    ("DELETE", re.compile(r"^/user/starred/(?P<owner>[^/]+)/(?P<name>[^/]+)/?$"), unstar_repo),
    ("GET", re.compile(r"^/users/(?P<user>[^/]+)/starred/?$"), list_user_starred),
]

# GitHub does not count these against the primary rate limit.
FREE_HANDLERS: frozenset[ApiHandler] = frozenset({get_rate_limit})


# ---------------------------------------------------------------------------- cross-cutting


def parse_api_auth(request: Request, github: FakeGitHub) -> Caller | None:
    """``token X`` / ``Bearer X`` / Basic with the token as password.  None = bad credentials."""
    header = request.headers.get("authorization")
    if not header:
        return Caller(None, None)
    scheme, _, value = header.partition(" ")
    scheme = scheme.lower()
    token: str | None
    if scheme in ("token", "bearer"):
        token = value.strip()
    elif scheme == "basic":
        token = basic_token(value, github)
        if token is None:
            return None
    else:
        return Caller(None, None)
    user = github.tokens.get(token)
    return Caller(token, user) if user is not None else None


def basic_token(value: str, github: FakeGitHub) -> str | None:
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, _, password = decoded.partition(":")
    for candidate in (password, user):
        if candidate in github.tokens:
            return candidate
    return None


def rate_headers(bucket: RateLimit) -> dict[str, str]:
    return {
        "x-ratelimit-limit": str(bucket.limit),
        "x-ratelimit-remaining": str(bucket.remaining),
        "x-ratelimit-used": str(bucket.used),
        "x-ratelimit-reset": str(bucket.reset),
        "x-ratelimit-resource": "core",
    }


def etag_of(body: bytes, media_type: str | None = None) -> str:
    """ETag of a representation: a digest of the body and its media type (so ``[]`` in two
    media types never match). Like GitHub's, it does not cover the ``link`` header: a page
    whose items stay the same answers 304 even when pages were added or removed after it."""
    digest = hashlib.sha256(body)
    if media_type:
        digest.update(b"\0" + media_type.encode())
    return '"' + digest.hexdigest() + '"'


def etag_matches(if_none_match: str | None, etag: str) -> bool:
    if not if_none_match:
        return False
    for raw in if_none_match.split(","):
        candidate = raw.strip()
        if candidate == "*" or candidate.removeprefix("W/") == etag:
            return True
    return False


def json_response(result: ApiResult, extra: dict[str, str]) -> Response:
    body = b"" if result.body is None else json.dumps(result.body, indent=2).encode()
    headers = {**extra, **result.headers}
    return Response(body, status_code=result.status, headers=headers, media_type=JSON_TYPE)


def api_response(
    request: Request, github: FakeGitHub, handler: ApiHandler, params: dict[str, str]
) -> Response:
    common = {
        "x-github-media-type": "github.v3; format=json",
        "x-github-api-version-selected": "2022-11-28",
        "vary": "Accept, Authorization, Cookie, X-GitHub-OTP",
    }
    caller = parse_api_auth(request, github)
    if caller is None:
        bucket = github.limits.consume(None) or github.limits.snapshot(None)
        return json_response(error(401, "Bad credentials"), {**common, **rate_headers(bucket)})
    if handler in FREE_HANDLERS:
        counted: RateLimit | None = github.limits.snapshot(caller.token)
    else:
        counted = github.limits.consume(caller.token)
    if counted is None:
        return json_response(
            rate_limited(request, caller),
            {**common, **rate_headers(github.limits.snapshot(caller.token))},
        )
    result = handler(ApiContext(request, github, caller, params))
    if result.status != 200:
        return json_response(result, {**common, **rate_headers(counted)})
    body = json.dumps(result.body, indent=2).encode()
    etag = etag_of(body, result.headers.get("x-github-media-type"))
    if etag_matches(request.headers.get("if-none-match"), etag):
        # A 304 is free: it does not count against the primary rate limit.
        refunded = github.limits.refund(caller.token)
        headers = {**common, **rate_headers(refunded), **result.headers, "etag": etag}
        return Response(status_code=304, headers=headers)
    headers = {
        **common,
        **rate_headers(counted),
        **result.headers,
        "etag": etag,
        "cache-control": "private, max-age=60, s-maxage=60",
    }
    return Response(body, status_code=200, headers=headers, media_type=JSON_TYPE)


def rate_limited(request: Request, caller: Caller) -> ApiResult:
    if caller.user is not None:
        message = f"API rate limit exceeded for user ID {caller.user.id}."
    else:
        host = request.client.host if request.client else "127.0.0.1"
        message = (
            f"API rate limit exceeded for {host}. (But here's the good news: Authenticated"
            " requests get a higher rate limit. Check out the documentation for more details.)"
        )
    return error(403, message, documentation_url=f"{DOCS}/overview/rate-limits-for-the-rest-api")


# ---------------------------------------------------------------------------- git


_GIT_PATH = re.compile(r"^/(?P<owner>[^/]+)/(?P<name>[^/]+)$")
WIKI_SUFFIX = ".wiki"


@dataclass(frozen=True)
class GitTarget:
    """What a git URL serves: a repository, or its wiki (``<owner>/<name>.wiki.git``)."""

    repo: GitHubRepo
    wiki: bool

    @property
    def git_dir(self) -> Path:
        return self.repo.wiki_path if self.wiki else self.repo.path

    @property
    def full_name(self) -> str:
        return self.repo.full_name + (WIKI_SUFFIX if self.wiki else "")


def git_target(github: FakeGitHub, prefix: str) -> GitTarget | None:
    """The repository or wiki ``<owner>/<name>[.wiki][.git]`` names; an old name of a renamed
    repository keeps serving (its wiki too).  A wiki that is disabled or has no page yet does
    not exist, as on GitHub.  (A ``.wiki`` name always means a wiki.)"""
    match = _GIT_PATH.match("/" + prefix)
    if match is None:
        return None
    name = match["name"].removesuffix(".git")
    wiki = name.endswith(WIKI_SUFFIX)
    full = f"{match['owner']}/{name.removesuffix(WIKI_SUFFIX) if wiki else name}"
    repo = github.find(full) or github.find_redirect(full)
    if repo is None or (wiki and not (repo.has_wiki and repo.wiki)):
        return None
    return GitTarget(repo, wiki)


def _text(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    return Response(message, status_code=status, headers=headers, media_type="text/plain")


class GitHubApp:
    """The ASGI entry point (wrapped in the recording/fault middleware by :func:`build_app`)."""

    def __init__(self, github: FakeGitHub) -> None:
        self.github = github

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        request = Request(scope, receive)
        method, path = request.method, request.url.path
        query = scope.get("query_string", b"").decode("latin-1")
        suffix = smart_suffix(path, method, query)
        if suffix is not None:
            await self.serve_git(scope, receive, send, suffix)
            return
        lfs = lfs_kind(path)
        if lfs == "batch" and method == "POST":
            token = git_token(request, self.github)
            bad_credentials = token is None and bool(request.headers.get("authorization"))
            response = await serve_batch(
                self.github, request, token, bad_credentials=bad_credentials
            )
            await response(scope, receive, send)
            return
        if lfs == "download" and method in ("GET", "HEAD"):
            await serve_media(self.github, request)(scope, receive, send)
            return
        for route_method, pattern, handler in API_ROUTES:
            match = pattern.match(path)
            if match and method in (route_method, "HEAD"):
                response = api_response(request, self.github, handler, match.groupdict())
                break
        else:
            response = api_response(request, self.github, lambda _ctx: not_found(), {})
        await response(scope, receive, send)

    async def serve_git(self, scope: Scope, receive: Receive, send: Send, suffix: str) -> None:
        request = Request(scope, receive)
        response = self.refuse_git(request, suffix)
        if response is not None:
            await response(scope, receive, send)
            return
        token = git_token(request, self.github)
        target = git_target(self.github, repo_prefix(request.url.path, suffix))
        assert target is not None  # refuse_git() checked it
        user = self.github.tokens[token].login if token is not None else None
        await git_http_backend(
            scope,
            receive,
            send,
            repo_dir=target.git_dir,
            push_allowed=False,
            remote_user=user,
            environment=git_env(),
        )

    def refuse_git(self, request: Request, suffix: str) -> Response | None:
        """GitHub's answers before any git runs: bad credentials, unknown or private repository
        (401 to anonymous callers, so git asks for credentials), blocked, or a push."""
        github = self.github
        challenge = {"www-authenticate": GIT_REALM}
        token = git_token(request, github)
        if token is None and request.headers.get("authorization"):
            msg = (
                "Invalid username or token."
                " Password authentication is not supported for Git operations.\n"
            )
            return _text(401, msg, challenge)
        target = git_target(github, repo_prefix(request.url.path, suffix))
        if target is None or (target.repo.private and token is None):
            if token is None:
                return _text(401, "", challenge)
            return _text(404, "Repository not found.\n")
        repo = target.repo
        if repo.block is not None:
            reason = "DMCA takedown" if repo.block.reason == "dmca" else repo.block.reason
            msg = (
                f"Repository unavailable due to {reason}.\n"
                f"See the takedown notice for more details:\n  {repo.block.html_url}\n"
            )
            return _text(451, msg)
        service = requested_service(request.url.path, request.method, request.url.query)
        if service == "git-receive-pack":
            if token is None:
                return _text(401, "", challenge)
            login = github.tokens[token].login
            return _text(403, f"Permission to {target.full_name}.git denied to {login}.\n")
        return None


def git_token(request: Request, github: FakeGitHub) -> str | None:
    """The valid token of a git request (Basic with the token as password or user, or a
    ``token``/``Bearer`` header), else None."""
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "basic":
        return basic_token(value, github)
    if scheme.lower() in ("token", "bearer") and value.strip() in github.tokens:
        return value.strip()
    return None


def build_app(github: FakeGitHub) -> ASGIApp:
    return RecordingMiddleware(GitHubApp(github), github.log, github.faults)
