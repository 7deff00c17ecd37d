"""How a request hands a repository's pass to the workers: made due in its transaction, then,
once that is committed, queued."""

from __future__ import annotations

from datetime import datetime

import structlog

from epicstar.state.models import utcnow
from epicstar.sync.context import claim_period
from epicstar.web.api.context import ApiContext

log = structlog.get_logger("epicstar.api")


def due_time(api: ApiContext) -> datetime:
    """Handed to the workers: claimed as the tick claims what it hands out, so the tick
    does not hand it out too; without workers in this process, due for the next tick."""
    now = utcnow()
    return now + claim_period(api.settings) if api.work is not None else now


def hand_to_workers(api: ApiContext, github_id: int, *, trigger: str, force: bool = False) -> None:
    if api.work is None:
        return
    try:
        api.work.mirror_now(github_id, trigger=trigger, force=force)
    except Exception as error:  # any queue backend: the repository stays due for the tick
        log.warning("api.hand_off_failed", github_id=github_id, error=type(error).__name__)
