"""``GET /api/v1/summary``: everything tracked at a glance, with the starred list's polls, the
queue and GitHub's budget."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from functools import partial
from typing import Annotated, Any

import anyio
import structlog
from fastapi import APIRouter, Depends

from epicstar.auth.scopes import Scope
from epicstar.discovery.ratelimit import RateLimit
from epicstar.state import star_lists, summary
from epicstar.sync.stars import list_key
from epicstar.web.api.context import ApiContext, api_context
from epicstar.web.authentication import Caller, require

router = APIRouter(tags=["summary"])

log = structlog.get_logger("epicstar.api")

QUEUE_TIMEOUT = 2.0
"""Seconds the summary waits for the queue's depth before reporting it unknown."""


@router.get("/summary", summary="Counts, star polls, queue depth and GitHub's budget")
async def get_summary(
    _caller: Annotated[Caller, Depends(require(Scope.READ))],
    api: Annotated[ApiContext, Depends(api_context)],
) -> dict[str, Any]:
    """Repositories by state and by sync status (every value listed, 0 when none), the last
    and next poll of the starred list (null before the first), the jobs waiting in the queue
    and GitHub's rate limit as last seen (null when unknown)."""
    counts, last_poll = await anyio.to_thread.run_sync(partial(_from_database, api))
    next_poll = last_poll + timedelta(seconds=api.settings.poll_interval) if last_poll else None
    return {
        "total": counts.total,
        "by_state": counts.by_state,
        "by_sync_status": counts.by_sync_status,
        "last_star_poll_at": _iso(last_poll),
        "next_star_poll_at": _iso(next_poll),
        "queue_depth": await _queue_depth(api.queue_depth),
        "github_rate_limit": _rate_limit_view(api.rate_limit),
    }


def _from_database(api: ApiContext) -> tuple[summary.Counts, datetime | None]:
    with api.database.session() as session:
        counts = summary.repository_counts(session)
        return counts, star_lists.last_poll(session, list_key(api.settings.github_user))


async def _queue_depth(depth: Callable[[], int] | None) -> int | None:
    """The queue's length; None without a queue, or when it fails or is slow to answer."""
    if depth is None:
        return None
    try:
        with anyio.fail_after(QUEUE_TIMEOUT):
            return int(await anyio.to_thread.run_sync(depth, abandon_on_cancel=True))
    except Exception as error:  # any queue backend, or the timeout
        log.warning("summary.queue_depth_unknown", error=type(error).__name__)
        return None


def _rate_limit_view(rate_limit: Callable[[], RateLimit | None] | None) -> dict[str, Any] | None:
    try:
        budget = rate_limit() if rate_limit is not None else None
    except Exception as error:  # what the workers' client saw: never worth a failed summary
        log.warning("summary.rate_limit_unknown", error=type(error).__name__)
        return None
    if budget is None:
        return None
    return {"remaining": budget.remaining, "limit": budget.limit, "reset": budget.reset.isoformat()}


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None
