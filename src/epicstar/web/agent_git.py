"""``/agent/git/{github_id}.git/…``: git's smart HTTP for agents, served by ``git http-backend``
from the repository's cache, the one the mirror pass pushes to OneDev from.

Everything is decided before git runs: the key (HTTP Basic, its password; the bad-key budget
of the API applies) must have the ``agent`` scope, the repository must be tracked and in
``agent`` mode, and a push may only update ``refs/heads/*`` and ``refs/tags/*`` (its command
list is read before git sees the body). The cache is locked while git works in it, so a pass
and a push never overlap; a push that changed refs asks for a pass (trigger ``agent``).
"""

from __future__ import annotations

import base64
import binascii
from contextlib import ExitStack
from dataclasses import dataclass
from functools import partial

import anyio
import structlog
from fastapi import FastAPI, HTTPException
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.types import Message, Receive, Scope, Send

from epicstar.auth.scopes import Scope as KeyScope
from epicstar.config import ENV_PREFIX
from epicstar.mirror.cache import MIRRORED_NAMESPACES, RepoCache, diff_refs
from epicstar.mirror.process import GitError, base_environment
from epicstar.mirror.push_commands import CommandList, MalformedPush
from epicstar.state import repositories
from epicstar.state.models import Repository, RepoState, SyncMethod
from epicstar.sync.context import repository_cache
from epicstar.web.api.context import ApiContext
from epicstar.web.api.hand_off import due_time, hand_to_workers
from epicstar.web.api.params import MAX_GITHUB_ID
from epicstar.web.api.servers_own import mirrored_by_the_server
from epicstar.web.authentication import Authenticator
from epicstar.web.githttp import git_http_backend, requested_service, smart_suffix

__all__ = ["PATH", "REALM", "AgentGit", "add_agent_git"]

PATH = "/agent/git/{github_id}.git/{rest:path}"
REALM = 'Basic realm="epicstar agent"'
UNAUTHENTICATED = "a valid agent key is required, as the password of HTTP Basic authentication"

# Settings for http-backend and the git it runs, in its environment (never the cache's
# config file). No automatic gc after a push: the pass that mirrors it tidies the cache
# (epicstar.mirror.cache.RepoCache.tidy), never repacking the whole history at once. The
# old tips kept of rewritten refs (epicstar.mirror.rewrites) are neither shown nor writable.
_CONFIG = {
    "transfer.hideRefs": "refs/epicstar/",
    "core.logAllRefUpdates": "false",
    "gc.auto": "0",
    "receive.autoGc": "false",
    "http.getanyfile": "false",
}

log = structlog.get_logger("epicstar.agent")


def add_agent_git(app: FastAPI) -> None:
    app.router.routes.append(Route(PATH, AgentGit(), include_in_schema=False))


@dataclass(frozen=True)
class _Target:
    github_id: int
    full_name: str
    size_kb: int


class AgentGit:
    """The ASGI endpoint (one per app); the app's state gives it everything else."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await self._serve(scope, receive, send)
        except HTTPException as refusal:
            answer = JSONResponse(
                {"detail": refusal.detail}, refusal.status_code, headers=refusal.headers
            )
            await answer(scope, receive, send)

    async def _serve(self, scope: Scope, receive: Receive, send: Send) -> None:
        query = scope.get("query_string", b"").decode("latin-1")
        if smart_suffix(scope["path"], scope["method"], query) is None:
            raise HTTPException(404, "only git's smart HTTP protocol is served here")
        service = requested_service(scope["path"], scope["method"], query)
        state = scope["app"].state
        api: ApiContext = state.api
        authenticator: Authenticator = state.authenticator
        request = Request(scope)
        caller = await anyio.to_thread.run_sync(
            partial(
                authenticator.caller,
                request,
                _password(request.headers.get("authorization")),
                KeyScope.AGENT,
                challenge=REALM,
                unauthenticated=UNAUTHENTICATED,
            )
        )
        target = await anyio.to_thread.run_sync(
            _agent_repository, api, scope["path_params"]["github_id"]
        )
        limit = api.settings.agent_max_push_mb * 1024 * 1024
        pushing = scope["method"] == "POST" and service == "git-receive-pack"
        if pushing:
            receive = await _judge_push(scope, receive, limit)
        cache = repository_cache(api.settings, target.github_id, target.size_kb)
        with ExitStack() as held:
            await _lock(cache, held, wait=float(api.settings.lease_seconds))
            try:
                await anyio.to_thread.run_sync(cache.ensure)
                before = await anyio.to_thread.run_sync(cache.local_refs) if pushing else {}
                status = await git_http_backend(
                    scope,
                    receive,
                    send,
                    repo_dir=cache.path,
                    push_allowed=True,
                    environment=_environment(),
                    config=_CONFIG,
                    pass_fds=() if cache.lock_fd is None else (cache.lock_fd,),
                    max_body=limit,
                    answer_after_body=pushing,
                )
                after = await anyio.to_thread.run_sync(cache.local_refs) if pushing else {}
            finally:
                with anyio.CancelScope(shield=True):
                    await anyio.to_thread.run_sync(held.close)
        changed = diff_refs(before, after)
        log.info(
            "agent.git",
            github_id=target.github_id,
            service=service,
            method=scope["method"],
            status=status,
            refs_changed=changed,
            key_prefix=caller.principal.prefix,
        )
        if changed:
            await anyio.to_thread.run_sync(_mirror_soon, api, target.github_id)


def _password(header: str | None) -> str | None:
    """The key: the password of HTTP Basic credentials (any user name), or a Bearer token."""
    scheme, _, value = (header or "").strip().partition(" ")
    if scheme.lower() == "bearer":
        return value.strip() or None
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        return None
    _user, colon, password = decoded.partition(":")
    return password.strip() or None if colon else None


def _agent_repository(api: ApiContext, text: str) -> _Target:
    github_id = int(text) if text.isdigit() and len(text) <= 19 else 0
    with api.database.reading() as session:
        row = session.get(Repository, github_id) if 0 < github_id <= MAX_GITHUB_ID else None
        if row is None:
            raise HTTPException(404, f"no tracked repository has the GitHub id {text}")
        if row.sync_method != SyncMethod.AGENT:
            refusal = mirrored_by_the_server(
                github_id,
                "it takes no push from an agent until `epicstar method OWNER/NAME agent` "
                "switches it",
            )
            raise HTTPException(403, refusal)
        return _Target(row.github_id, row.full_name, row.size_kb)


async def _judge_push(scope: Scope, receive: Receive, limit: int) -> Receive:
    """Read the push's command list and refuse what is not for this server; a ``receive``
    that gives what was read again, then the rest of the body."""
    headers = Headers(scope=scope)
    length = headers.get("content-length", "")
    if length.isdigit() and int(length) > limit:
        raise HTTPException(413, f"the push is over this server's limit of {limit} bytes")
    commands = CommandList(gzip=headers.get("content-encoding", "").lower() in ("gzip", "x-gzip"))
    read: list[Message] = []
    try:
        while not commands.complete:
            message = await receive()
            read.append(message)
            if message["type"] == "http.disconnect":
                raise MalformedPush("the client went away")
            commands.feed(message.get("body", b""))
            if not message.get("more_body", False):
                commands.end()
    except MalformedPush as error:
        raise HTTPException(400, f"not a push this server can read: {error}") from None
    refused = sorted({u.ref for u in commands.updates if not u.ref.startswith(MIRRORED_NAMESPACES)})
    if refused:
        raise HTTPException(
            403,
            "only branches (refs/heads/*) and tags (refs/tags/*) are accepted; refused: "
            + ", ".join(refused[:10])
            + (f" and {len(refused) - 10} more" if len(refused) > 10 else ""),
        )
    return _replaying(read, receive)


def _replaying(messages: list[Message], receive: Receive) -> Receive:
    pending = list(messages)

    async def replay() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replay


async def _lock(cache: RepoCache, held: ExitStack, *, wait: float) -> None:
    try:
        await anyio.to_thread.run_sync(held.enter_context, cache.locked(wait))
    except GitError:
        raise HTTPException(
            503,
            "the repository's cache is busy (a mirror pass or another push); retry later",
            headers={"Retry-After": "30"},
        ) from None


def _environment() -> dict[str, str]:
    """git's environment as epicstar gives it (no prompts, nothing redirecting it), without
    epicstar's own settings: they hold tokens git has no business seeing."""
    return {
        name: value
        for name, value in base_environment({}).items()
        if not name.startswith(ENV_PREFIX)
    }


def _mirror_soon(api: ApiContext, github_id: int) -> None:
    """A pass (trigger ``agent``) of an active repository the push changed."""
    with api.database.session() as session:
        row = repositories.locked(session, github_id)
        if row is None or row.state != RepoState.ACTIVE or row.sync_method != SyncMethod.AGENT:
            return
        row.next_due_at = due_time(api)
    hand_to_workers(api, github_id, trigger="agent")
