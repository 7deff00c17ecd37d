"""``POST /api/v1/stars/poll``: read the starred list now rather than at the next interval."""

from __future__ import annotations

from typing import Annotated, Any

import structlog
from fastapi import APIRouter, Body, Depends, HTTPException
from pydantic import BaseModel, ConfigDict, Field

from epicstar.auth.scopes import Scope
from epicstar.state import star_lists
from epicstar.state.audit import record_change
from epicstar.sync.stars import list_key
from epicstar.web.api.context import ApiContext, ApiWork, api_context
from epicstar.web.authentication import Caller, require

router = APIRouter(tags=["stars"])

log = structlog.get_logger("epicstar.api")

NO_LIST = (
    "no starred list to poll: set EPICSTAR_GITHUB_TOKEN (the token's user's stars) "
    "or EPICSTAR_GITHUB_USER"
)


class PollRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    full: bool = Field(
        default=False,
        description="read every page of the list, so unstars are noticed for certain",
    )


@router.post(
    "/stars/poll",
    status_code=202,
    summary="Poll the starred list now",
    responses={409: {"description": "neither a GitHub token nor a user names a starred list"}},
)
def poll_stars(
    caller: Annotated[Caller, Depends(require(Scope.WRITE))],
    api: Annotated[ApiContext, Depends(api_context)],
    poll: Annotated[PollRequest | None, Body()] = None,
) -> dict[str, Any]:
    """The workers poll the list at once; new stars are then mirrored without waiting for a
    tick. Without workers in this process, the next tick polls."""
    full = poll.full if poll is not None else False
    settings = api.settings
    if not settings.github_user and settings.github_token is None:
        raise HTTPException(409, NO_LIST)
    key = list_key(settings.github_user)
    with api.database.session() as session:
        record_change(session, caller.actor, "stars.poll_requested", key, {"full": full})
        if api.work is None:
            star_lists.make_poll_due(session, key, full=full)
    if api.work is not None and not _queued(api.work, full=full):
        with api.database.session() as session:
            star_lists.make_poll_due(session, key, full=full)
    return {"status": "accepted", "full": full}


def _queued(work: ApiWork, *, full: bool) -> bool:
    """Hand the poll to the workers; False (logged) when the queue refuses it."""
    try:
        work.poll_now(full=full)
    except Exception as error:  # any queue backend: the tick polls instead
        log.warning("stars.poll_not_queued", full=full, error=type(error).__name__)
        return False
    return True
