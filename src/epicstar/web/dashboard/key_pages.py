"""``/keys`` (admin only): the API keys, a form creating one (shown once, on the page that
answers the form) and revoking one. Each calls the API's own route function, so keys are
made, bounded by the creator's scopes and audited exactly as through the API."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from epicstar.auth.scopes import Scope, may_grant
from epicstar.web.api.context import ApiContext, api_context
from epicstar.web.api.keys import (
    MAX_KEY_ID,
    NewKeyRequest,
    create_api_key,
    list_api_keys,
    revoke_api_key,
)
from epicstar.web.api.paging import Paging
from epicstar.web.authentication import Visitor
from epicstar.web.dashboard.access import Action, Refusal, acting, answer, via_api, viewer
from epicstar.web.dashboard.listing import page_count, page_number
from epicstar.web.dashboard.live import Seen
from epicstar.web.dashboard.rendering import page

router = APIRouter(include_in_schema=False)

Admin = Annotated[Action, Depends(acting(Scope.ADMIN))]
Api = Annotated[ApiContext, Depends(api_context)]

PER_PAGE = 50
EXPIRY_CHOICES: dict[str, tuple[str, timedelta | None]] = {
    "never": ("never", None),
    "30": ("in 30 days", timedelta(days=30)),
    "90": ("in 90 days", timedelta(days=90)),
    "365": ("in a year", timedelta(days=365)),
}
DEFAULT_EXPIRY = "90"
PRESETS: dict[str, dict[str, Any]] = {
    # What's new links here to make a key for a feed reader.
    Scope.FEED.value: {"name": "feed reader", "scopes": [Scope.FEED.value], "expiry": "365"},
}


@router.get("/keys")
def keys_page(
    request: Request,
    visitor: Annotated[Visitor, Depends(viewer(Scope.ADMIN))],
    api: Api,
    fingerprint: Seen,
) -> Response:
    preset = request.query_params.get("scope")
    if preset in PRESETS:
        return _render(request, visitor, api, fingerprint, entered=PRESETS[preset])
    return _render(request, visitor, api, fingerprint)


@router.post("/keys")
async def create(request: Request, action: Admin, api: Api, fingerprint: Seen) -> Response:
    """Answered with the keys page itself (not a redirect): the new key lives only in this
    answer, so it is shown here once and never stored in a cookie or a URL."""
    entered = {
        "name": action.text("name"),
        "scopes": action.texts("scopes"),
        "expiry": action.text("expiry"),
    }
    try:
        new_key = _new_key_request(entered)
    except ValueError as error:
        return await run_in_threadpool(
            _render, request, action.visitor, api, fingerprint, error=str(error), entered=entered
        )

    created = await via_api(create_api_key, action.visitor.caller, api, new_key, Response())
    return await run_in_threadpool(
        _render, request, action.visitor, api, fingerprint, created=created, status_code=201
    )


@router.post("/keys/{key_id}/revoke")
async def revoke(request: Request, action: Admin, api: Api, key_id: str) -> Response:
    if not key_id.isdigit() or not 1 <= int(key_id) <= MAX_KEY_ID:
        raise Refusal(404, f"'{key_id[:40]}' is not an API key's id")
    number = int(key_id)
    await via_api(revoke_api_key, action.visitor.caller, api, number)
    return answer(request, action, f"Key {number} is revoked: it is refused from now on.")


def _new_key_request(entered: dict[str, Any]) -> NewKeyRequest:
    """The API's request body from the form, or ValueError saying what to correct."""
    if entered["expiry"] not in EXPIRY_CHOICES:
        raise ValueError("choose when the key expires")
    lifetime = EXPIRY_CHOICES[entered["expiry"]][1]
    if not entered["scopes"]:
        raise ValueError("choose at least one scope")
    try:
        return NewKeyRequest(
            name=entered["name"],
            scopes=entered["scopes"],
            expires_in_seconds=int(lifetime.total_seconds()) if lifetime else None,
        )
    except ValidationError as error:
        first = error.errors()[0]
        field = ".".join(str(part) for part in first["loc"][:1]) or "form"
        reason = str(first["msg"]).removeprefix("Value error, ")
        raise ValueError(f"{field}: {reason}") from None


def _render(
    request: Request,
    visitor: Visitor,
    api: ApiContext,
    fingerprint: str,
    *,
    created: dict[str, Any] | None = None,
    error: str | None = None,
    entered: dict[str, Any] | None = None,
    status_code: int = 200,
) -> Response:
    paging = Paging(page_number(request.query_params.get("page")), PER_PAGE)
    listed = list_api_keys(visitor.caller, api, paging)
    return page(
        request,
        "keys.html",
        visitor,
        status_code=status_code,  # a form shown again with its error is a 200, as /login's
        fingerprint=fingerprint,
        listed=listed,
        pages=page_count(listed),
        created=created,
        error=error,
        entered=entered or {"name": "", "scopes": [Scope.READ.value], "expiry": DEFAULT_EXPIRY},
        scopes=list(Scope),
        grantable={scope for scope in Scope if may_grant(visitor.caller.principal.scopes, scope)},
        expiry_choices=[(value, label) for value, (label, _length) in EXPIRY_CHOICES.items()],
        own_key_id=visitor.caller.principal.key_id,
    )
