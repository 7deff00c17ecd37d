"""``/events``: server-sent events telling open pages that something changed.

The database is the one place every process writes to, so a change anywhere (a pass in any
worker, a webhook, an action) shows in a fingerprint of four indexed maxima: the newest
attempt, the latest repository change, the newest delivery and the newest audit entry. It
is read at most every :data:`INTERVAL` seconds per process, however many pages listen; each
page fetches itself again when the fingerprint moves. A browser reconnects by itself when
``serve`` restarts, and is told the fingerprint at once, so nothing is missed. A stopping
server (``app.state.stopping``) ends its streams, so they do not hold the stop up.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from sqlalchemy import func, select
from starlette.concurrency import run_in_threadpool
from starlette.responses import StreamingResponse

from epicstar.auth.scopes import Scope
from epicstar.state.database import Database
from epicstar.state.models import AuditEntry, Repository, SyncAttempt, WebhookDelivery
from epicstar.web.authentication import SignInRequired, Visitor
from epicstar.web.dashboard.access import viewer
from epicstar.web.dashboard.rendering import SECURITY_HEADERS

router = APIRouter(include_in_schema=False)

INTERVAL = 0.5
"""Seconds between two reads of the fingerprint (a pass shows within a second)."""
KEEP_ALIVE = 15.0
"""Seconds of silence after which a comment keeps proxies from closing the stream."""
RECHECK = 30.0
"""Seconds after which the stream checks the session is still valid."""
RECONNECT_MS = 1000

_FINGERPRINT = select(
    select(func.max(SyncAttempt.id)).scalar_subquery(),
    select(func.max(Repository.updated_at)).scalar_subquery(),
    select(func.max(WebhookDelivery.received_at)).scalar_subquery(),
    select(func.max(AuditEntry.id)).scalar_subquery(),
)


class Changes:
    """The database's fingerprint, shared by every stream of the process."""

    def __init__(self, database: Database, interval: float = INTERVAL) -> None:
        self._database = database
        self._interval = interval
        self._lock = asyncio.Lock()
        self._read_at = float("-inf")
        self._current = ""

    async def fingerprint(self) -> str:
        async with self._lock:
            if time.monotonic() - self._read_at >= self._interval:
                self._current = await run_in_threadpool(self._read)
                self._read_at = time.monotonic()
            return self._current

    def _read(self) -> str:
        with self._database.reading() as session:
            row = session.execute(_FINGERPRINT).one()
        return "|".join("" if value is None else str(value) for value in row)


def changes_of(request: Request) -> Changes:
    changes: Changes = request.app.state.changes  # made by add_dashboard, one per app
    return changes


async def seen(request: Request) -> str:
    """A page's dependency: the fingerprint its data is at least as new as."""
    return await changes_of(request).fingerprint()


Seen = Annotated[str, Depends(seen)]


@router.get("/events")
async def events(
    request: Request,
    _visitor: Annotated[Visitor, Depends(viewer())],
    changes: Annotated[Changes, Depends(changes_of)],
) -> StreamingResponse:
    headers = {**SECURITY_HEADERS, "X-Accel-Buffering": "no"}
    return StreamingResponse(
        _stream(request, changes), media_type="text/event-stream", headers=headers
    )


async def _stream(request: Request, changes: Changes) -> AsyncIterator[str]:
    yield f"retry: {RECONNECT_MS}\n\n"
    sent: str | None = None
    quiet_since = checked_at = time.monotonic()
    stopping = getattr(request.app.state, "stopping", None)
    while not await request.is_disconnected():
        if stopping is not None and stopping():
            return  # the server is stopping: end the stream so the stop need not wait for it
        current = await changes.fingerprint()
        now = time.monotonic()
        if current != sent:
            yield f"event: change\ndata: {current}\n\n"
            sent, quiet_since = current, now
        elif now - quiet_since >= KEEP_ALIVE:
            yield ": still here\n\n"
            quiet_since = now
        if now - checked_at >= RECHECK:
            if not await _still_signed_in(request):
                yield "event: signed-out\ndata: \n\n"
                return
            checked_at = now
        await asyncio.sleep(INTERVAL)


async def _still_signed_in(request: Request) -> bool:
    try:
        await run_in_threadpool(request.app.state.authenticator.visitor, request, Scope.READ)
    except SignInRequired:
        return False
    except Exception:  # a budget or a database hiccup: keep the page, ask again later
        return True
    return True
