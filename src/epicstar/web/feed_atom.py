"""``GET /feed.atom``: the newest entries of the feed as Atom, for feed readers.

A feed reader cannot send a header, so the key comes in the URL (``?key=``), and only a key
whose one scope is ``feed`` is accepted there: a URL ends up in bookmarks, proxies and
logs, and such a key can read nothing but the feed. Every log line masks it
(:mod:`epicstar.logs`). Readers poll: an unchanged feed answers 304 to ``If-None-Match``
before anything is written.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from starlette.responses import Response

from epicstar.auth.scopes import Scope
from epicstar.feed import FeedFilter, page_of
from epicstar.feed.atom import CONTENT_TYPE, AtomFeed
from epicstar.state.database import Database
from epicstar.state.models import Repository
from epicstar.web.api.params import MAX_GITHUB_ID, refuse_nul_characters
from epicstar.web.authentication import Authenticator, Caller

PATH = "/feed.atom"
ENTRIES = 50
KEY_PARAMETER = "key"
HOW_TO_GET_A_KEY = "create one with 'epicstar keys create --name reader --scope feed'"
NO_FEED_KEY = f"the feed needs a valid feed key: {PATH}?key=esk_…; {HOW_TO_GET_A_KEY}"
NOT_A_FEED_KEY = (
    "only a key whose one scope is 'feed' is accepted in a URL (a URL is copied, logged "
    f"and kept by feed readers); {HOW_TO_GET_A_KEY} and revoke the key just used"
)
HEADERS = {
    "Cache-Control": "private, no-cache",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}

router = APIRouter(dependencies=[Depends(refuse_nul_characters)])


def feed_reader(
    request: Request,
    key: Annotated[
        str | None, Query(description="a key of scope `feed` (no other key is accepted here)")
    ] = None,
) -> Caller:
    """The caller of a feed key given in the URL; 401 without a valid key, 403 for a key
    that can do more than read the feed."""
    authenticator: Authenticator = request.app.state.authenticator
    try:
        caller = authenticator.caller(request, key.strip() if key else None, Scope.FEED)
    except HTTPException as error:
        if error.status_code == 401:
            raise HTTPException(401, NO_FEED_KEY) from None
        if error.status_code == 403:
            raise HTTPException(403, NOT_A_FEED_KEY) from None
        raise
    if caller.principal.scopes != {Scope.FEED}:
        raise HTTPException(403, NOT_A_FEED_KEY)
    return caller


@router.get(
    PATH,
    summary="The feed of new commits, tags and mirrors as Atom",
    response_class=Response,
    responses={
        200: {"content": {"application/atom+xml": {}}, "description": "an Atom 1.0 feed"},
        304: {"description": "unchanged since the ETag given in If-None-Match"},
        401: {"description": "no key, or not a valid one"},
        403: {"description": "a key of another scope than 'feed' (never accepted in a URL)"},
    },
)
def atom_feed(
    request: Request,
    _reader: Annotated[Caller, Depends(feed_reader)],
    repository: Annotated[
        int | None, Query(ge=1, le=MAX_GITHUB_ID, description="only this repository (GitHub id)")
    ] = None,
    author: Annotated[
        str | None, Query(max_length=320, description="only this author (email or name)")
    ] = None,
    q: Annotated[
        str | None, Query(max_length=200, description="only entries whose message has these words")
    ] = None,
) -> Response:
    """The newest 50 entries of the feed (same filters as `GET /api/v1/commits`), newest
    first. The key goes in the URL as `?key=`; only keys of scope `feed` are accepted."""
    database: Database = request.app.state.database
    author = author.strip() if author else None
    q = q.strip() if q else None
    filters = [
        (name, str(value))
        for name, value in (("repository", repository), ("author", author), ("q", q))
        if value
    ]
    wanted = FeedFilter(repository=repository, author=author or None, words=q or None)
    with database.reading() as session:
        found = page_of(session, wanted, offset=0, limit=ENTRIES)
        named = session.get(Repository, repository) if repository is not None else None
        title = "What's new in " + (named.full_name if named else "your starred repositories")
    feed = AtomFeed(
        title=f"{title} · epicstar",
        self_url=str(request.url.remove_query_params(KEY_PARAMETER)),
        filters=filters,
        entries=found.entries,
    )
    etag = feed.etag()
    headers = {**HEADERS, "ETag": etag}
    if _matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=headers)
    return Response(feed.render(), headers={**headers, "Content-Type": CONTENT_TYPE})


def _matches(if_none_match: str | None, etag: str) -> bool:
    """``If-None-Match`` names ``etag`` (weakly compared, as RFC 9110 says for it) or is ``*``."""
    if not if_none_match:
        return False
    offered = [tag.strip().removeprefix("W/") for tag in if_none_match.split(",")]
    return "*" in offered or etag in offered
