"""``/api/v1/commits``: the feed of new commits, tags and first mirrors across all mirrors;
``/api/v1/repositories/{github_id}/commits`` and ``.../ingestion``: commit metadata posted by
the agent (or any other tool) and what it has posted so far.

Commits are posted only for repositories in ``agent`` mode. The feed of a repository in
``server`` mode is what the server's own passes record: a posted commit would be stored next to
them, and one posted with a real commit's sha before the pass found it would stand in for the
real entry (a sha already in the feed is skipped). So every key is refused there, an ``admin``
key too (:mod:`epicstar.web.api.servers_own`)."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from datetime import datetime
from typing import Annotated, Any

import structlog
from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BeforeValidator

from epicstar.auth.scopes import Scope
from epicstar.feed import FeedFilter, entry_view, ingestion_of, page_of, store
from epicstar.state.models import FeedKind, FeedSource, SyncMethod, utcnow
from epicstar.web.api.attempts import in_utc
from epicstar.web.api.commit_batch import CommitBatch
from epicstar.web.api.context import ApiContext, api_context
from epicstar.web.api.paging import Paging, paging
from epicstar.web.api.params import MAX_GITHUB_ID, NOT_FOUND, GitHubId
from epicstar.web.api.repositories import tracked
from epicstar.web.api.servers_own import refusal_response, servers_own
from epicstar.web.authentication import Caller, require

log = structlog.get_logger("epicstar.api")

MAX_BATCH_BYTES = 32 * 1024 * 1024
"""The largest body a batch may have: 1,000 commits whose messages are as long as the feed
keeps them (16,384 characters) fit, JSON escapes included."""

Api = Annotated[ApiContext, Depends(api_context)]

_FEED_IS_THE_SERVERS = (
    "the server records its commits from its own mirror passes; nothing of the batch was stored"
)
_POSTED_IS_THE_SERVERS = "what its feed holds is shown to keys of scope read only"


def _iso_moment(value: object) -> object:
    """ISO 8601 text with a time zone offset (``Z`` counts), as a time in UTC."""
    if not isinstance(value, str):
        return value
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise ValueError("not an ISO 8601 date and time") from None
    if moment.tzinfo is None:
        raise ValueError("the time needs a time zone offset, e.g. Z or +02:00")
    return in_utc(moment)


Since = Annotated[
    datetime | None,
    BeforeValidator(_iso_moment),
    Query(
        description="only entries first seen at or after this ISO 8601 time (with an offset)",
        examples=["2024-06-01T12:00:00Z"],
    ),
]
Until = Annotated[
    datetime | None,
    BeforeValidator(_iso_moment),
    Query(
        description="only entries first seen before this ISO 8601 time (with an offset)",
        examples=["2024-06-02T12:00:00Z"],
    ),
]


# ------------------------------------------------------------------------------ the feed

feed_router = APIRouter(tags=["commits"])


@feed_router.get(
    "/commits",
    summary="List new commits, tags and first mirrors across all mirrors",
    responses={422: {"description": "a parameter is malformed (e.g. a time without offset)"}},
)
def list_commits(
    _caller: Annotated[Caller, Depends(require(Scope.READ))],
    api: Api,
    page: Annotated[Paging, Depends(paging)],
    *,
    repository: Annotated[
        int | None, Query(ge=1, le=MAX_GITHUB_ID, description="only this repository's GitHub id")
    ] = None,
    author: Annotated[
        str | None,
        Query(
            max_length=320,
            description="only this author: an email address (it has an @), else a name; any case",
        ),
    ] = None,
    q: Annotated[
        str | None,
        Query(max_length=200, description="only entries whose title or body holds this text"),
    ] = None,
    since: Since = None,
    until: Until = None,
    kind: Annotated[
        list[FeedKind] | None,
        Query(description="only these kinds (repeat for several): commit, tag, mirror"),
    ] = None,
) -> dict[str, Any]:
    """Entries newest first, by when epicstar first saw them. The answer says whether more
    pages follow (`has_more`) rather than how many entries match: counting every match of a
    feed of millions of commits would cost far more than the page itself."""
    wanted = FeedFilter(
        repository=repository,
        author=author,
        words=q,
        since=since,
        until=until,
        kinds=frozenset(kind) if kind else None,
    )
    with api.database.reading() as session:
        found = page_of(session, wanted, offset=page.offset, limit=page.per_page)
        items = [entry_view(entry.commit, entry.full_name) for entry in found.entries]
    return page.answer_uncounted(items, found.has_more)


# ------------------------------------------------------------------------------ ingestion


class BatchRoute(APIRoute):
    """A route whose refusals name the first invalid commit in one sentence: ``commits[3].sha:
    …`` as ``detail`` (what every other error of the API has), every problem under
    ``errors``."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def refusing_clearly(request: Request) -> Response:
            try:
                return await handler(request)
            except RequestValidationError as error:
                return JSONResponse(batch_refusal(error.errors()), status_code=422)

        return refusing_clearly


def batch_refusal(errors: Any) -> dict[str, Any]:
    problems = [
        {
            "loc": [part for part in error["loc"] if part != "body"] or ["body"],
            "msg": str(error["msg"]).removeprefix("Value error, "),
            "type": error["type"],
        }
        for error in errors
    ]
    first = problems[0]
    where = _location(first["loc"])
    return {"detail": f"{where}: {first['msg']}", "errors": problems}


def _location(loc: list[str | int]) -> str:
    """``["commits", 3, "sha"]`` as ``commits[3].sha``."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


ingestion_router = APIRouter(tags=["commits"], route_class=BatchRoute)


@ingestion_router.post(
    "/repositories/{github_id}/commits",
    summary="Post new commits of a repository (the agent, or another tool)",
    status_code=201,
    max_body_size=MAX_BATCH_BYTES,
    responses={
        **NOT_FOUND,
        201: {"description": "stored; commits already in the feed were skipped"},
        **refusal_response(
            "the repository is in `server` mode (for every key): nothing was stored",
            _FEED_IS_THE_SERVERS,
        ),
        413: {"description": f"the body is larger than {MAX_BATCH_BYTES} bytes"},
        422: {
            "description": "a commit is invalid: `detail` names the first one as "
            "`commits[<index>].<field>: <why>`; nothing of the batch was stored",
            "content": {
                "application/json": {
                    "example": {
                        "detail": "commits[3].sha: not a commit id of 40 hexadecimal digits",
                        "errors": [
                            {
                                "loc": ["commits", 3, "sha"],
                                "msg": "not a commit id of 40 hexadecimal digits",
                                "type": "value_error",
                            }
                        ],
                    }
                }
            },
        },
    },
)
def ingest_commits(
    caller: Annotated[Caller, Depends(require(Scope.AGENT, Scope.WRITE))],
    api: Api,
    github_id: GitHubId,
    batch: CommitBatch,
    response: Response,
) -> dict[str, Any]:
    """Adds 1 to 1,000 commits, newest first, to the feed of a repository in `agent` mode, all
    or none: one invalid commit refuses the batch. A commit already in the feed (by its sha)
    is skipped. `last_ingested_sha` is the newest commit posted for the repository so far.
    A repository in `server` mode is refused (403) whatever the key: its feed is what the
    server's own passes record."""
    with api.database.session() as session:
        row = tracked(session, github_id)
        if row.sync_method != SyncMethod.AGENT:
            log.warning(
                "commits.refused",
                github_id=github_id,
                reason=f"sync_method {row.sync_method}",
                total=len(batch.commits),
                key_prefix=caller.principal.prefix,
            )
            response.status_code = 403
            return servers_own(github_id, _FEED_IS_THE_SERVERS)
        stored = store(
            session, github_id, batch.rows(), source=FeedSource.INGESTED, seen_at=utcnow()
        )
        last = ingestion_of(session, github_id).last_ingested_sha
    log.info(
        "commits.ingested",
        github_id=github_id,
        total=len(batch.commits),
        inserted=stored.inserted,
        skipped=stored.skipped,
        key_prefix=caller.principal.prefix,
        client_version=batch.client_version,
    )
    return {
        "total": len(batch.commits),
        "inserted": stored.inserted,
        "skipped": stored.skipped,
        "last_ingested_sha": last,
    }


@feed_router.get(
    "/repositories/{github_id}/ingestion",
    summary="What has been posted of a repository's commits",
    responses={
        **NOT_FOUND,
        **refusal_response(
            "a key of scope `agent` (without `read`) asks about a repository in `server` mode",
            _POSTED_IS_THE_SERVERS,
        ),
    },
)
def ingestion_summary(
    caller: Annotated[Caller, Depends(require(Scope.READ, Scope.AGENT))],
    api: Api,
    github_id: GitHubId,
    response: Response,
) -> dict[str, Any]:
    """The repository's sync method, the commits its feed holds (posted or found by a
    pass), and the newest commit posted, with when it was stored. An `agent` key learns only
    the sync method of a repository in `server` mode (403)."""
    with api.database.reading() as session:
        row = tracked(session, github_id)
        if row.sync_method != SyncMethod.AGENT and not caller.principal.may(Scope.READ):
            response.status_code = 403
            return servers_own(github_id, _POSTED_IS_THE_SERVERS)
        summary = ingestion_of(session, github_id)
        return {
            "github_id": github_id,
            "sync_method": row.sync_method,
            "total_commits": summary.total_commits,
            "last_ingested_sha": summary.last_ingested_sha,
            "last_ingested_at": (
                summary.last_ingested_at.isoformat() if summary.last_ingested_at else None
            ),
        }
