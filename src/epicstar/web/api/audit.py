"""``/api/v1/audit``: who changed what, through the API or the key commands (admin scope)."""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from epicstar.auth.scopes import Scope
from epicstar.state import audit
from epicstar.web.api.context import ApiContext, api_context
from epicstar.web.api.paging import Paging, paging
from epicstar.web.authentication import Caller, require

router = APIRouter(tags=["audit"])

_ACTION = "^(" + "|".join(re.escape(action) for action in audit.ACTIONS) + ")$"


@router.get("/audit", summary="Read the audit log, newest first")
def audit_log(
    _caller: Annotated[Caller, Depends(require(Scope.ADMIN))],
    api: Annotated[ApiContext, Depends(api_context)],
    page: Annotated[Paging, Depends(paging)],
    action: Annotated[
        str | None,
        Query(pattern=_ACTION, description="only this action: " + ", ".join(audit.ACTIONS)),
    ] = None,
) -> dict[str, Any]:
    """Each entry: when, who (an API key by id, name and prefix, or ``cli``), from which
    address, the action, its target and details. Never a key."""
    with api.database.session() as session:
        entries, total = audit.entries(
            session, action=action, offset=page.offset, limit=page.per_page
        )
        return page.answer([audit.entry_view(entry) for entry in entries], total)
