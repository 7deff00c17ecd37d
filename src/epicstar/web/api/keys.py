"""``/api/v1/keys``: the API's keys, as ``epicstar keys`` manages them (admin scope)."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Response
from pydantic import BaseModel, ConfigDict, Field, field_validator

from epicstar.auth.scopes import Scope
from epicstar.auth.store import (
    MAX_EXPIRY,
    MAX_NAME_LENGTH,
    ScopeNotHeld,
    check_name,
    create_key,
    key_view,
    page_of_keys,
    revoke_key,
)
from epicstar.state.models import ApiKey
from epicstar.web.api.context import ApiContext, api_context
from epicstar.web.api.paging import Paging, paging
from epicstar.web.authentication import Caller, require

router = APIRouter(tags=["keys"])

MAX_KEY_ID = 2**31 - 1  # the column is a 32-bit integer on PostgreSQL


class NewKeyRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[
        str, Field(min_length=1, max_length=MAX_NAME_LENGTH, description="what the key is for")
    ]
    scopes: Annotated[
        list[Scope],
        Field(
            min_length=1,
            max_length=len(Scope),
            description="at most the scopes of the key making it",
        ),
    ]
    expires_in_seconds: Annotated[
        int | None,
        Field(
            strict=True,
            ge=1,
            le=int(MAX_EXPIRY.total_seconds()),
            description="lifetime in seconds; none: the key never expires",
        ),
    ] = None

    @field_validator("name")
    @classmethod
    def _printable_name(cls, value: str) -> str:
        return check_name(value)


@router.get("/keys", summary="List API keys (never the keys themselves)")
def list_api_keys(
    _caller: Annotated[Caller, Depends(require(Scope.ADMIN))],
    api: Annotated[ApiContext, Depends(api_context)],
    page: Annotated[Paging, Depends(paging)],
) -> dict[str, Any]:
    """Oldest first, with status (active, expired, revoked) and usage; prefixes only."""
    with api.database.session() as session:
        rows, total = page_of_keys(session, offset=page.offset, limit=page.per_page)
        return page.answer([key_view(row) for row in rows], total)


@router.post(
    "/keys",
    status_code=201,
    summary="Create an API key",
    responses={403: {"description": "a scope the calling key does not hold was asked for"}},
)
def create_api_key(
    caller: Annotated[Caller, Depends(require(Scope.ADMIN))],
    api: Annotated[ApiContext, Depends(api_context)],
    request: NewKeyRequest,
    response: Response,
) -> dict[str, Any]:
    """The answer holds the full ``key``, shown this once and never again; a key cannot
    create a key with a scope it lacks. Audited as ``key.created``."""
    expires_in = (
        timedelta(seconds=request.expires_in_seconds)
        if request.expires_in_seconds is not None
        else None
    )
    with api.database.session() as session:
        try:
            row, new = create_key(
                session,
                name=request.name,
                scopes=[scope.value for scope in request.scopes],
                expires_in=expires_in,
                actor=caller.actor,
                actor_scopes=caller.principal.scopes,
            )
        except ScopeNotHeld as error:
            raise HTTPException(403, str(error)) from None
        view = key_view(row)
    response.headers["Cache-Control"] = "no-store"
    return {**view, "key": new.full}


@router.delete(
    "/keys/{key_id}",
    status_code=204,
    response_class=Response,
    summary="Revoke an API key",
    responses={404: {"description": "no key has this id"}},
)
def revoke_api_key(
    caller: Annotated[Caller, Depends(require(Scope.ADMIN))],
    api: Annotated[ApiContext, Depends(api_context)],
    key_id: Annotated[int, Path(ge=1, le=MAX_KEY_ID, description="the key's id")],
) -> Response:
    """Refused from the next request on, in every process; revoking a revoked key changes
    nothing (204 again). A key may revoke itself. Audited as ``key.revoked``."""
    with api.database.session() as session:
        row = session.get(ApiKey, key_id)
        if row is None:
            raise HTTPException(404, f"no API key has the id {key_id}")
        revoke_key(session, row.prefix, actor=caller.actor)
    return Response(status_code=204)
