"""``/login`` and ``/logout``: a browser signs in with an API key and out again."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response

from epicstar.auth.scopes import Scope
from epicstar.web.authentication import SESSION_COOKIE, Authenticator, SignInRefused
from epicstar.web.dashboard.access import Action, acting, local_path, refuse_other_sites
from epicstar.web.dashboard.rendering import page, secured, set_session_cookie

router = APIRouter(include_in_schema=False)

MAX_KEY_LENGTH = 200


@router.get("/login")
def login_page(request: Request, next: str | None = None) -> Response:
    return page(request, "login.html", None, next=local_path(next, "/"), error=None)


@router.post("/login")
async def sign_in(request: Request) -> Response:
    refuse_other_sites(request)
    form = await request.form(max_fields=10, max_files=0)
    key = form.get("key")
    target = form.get("next")
    next_path = local_path(target if isinstance(target, str) else None, "/")
    authenticator: Authenticator = request.app.state.authenticator
    try:
        if not isinstance(key, str) or not key.strip() or len(key) > MAX_KEY_LENGTH:
            raise SignInRefused("paste an API key: esk_<prefix>_<secret>")
        token = await run_in_threadpool(authenticator.sign_in, request, key)
    except SignInRefused as error:
        # 200, as the form shown again: a 4xx would be a console error in every browser.
        return page(request, "login.html", None, next=next_path, error=str(error))
    response = RedirectResponse(next_path, status_code=303)
    set_session_cookie(request, response, token)
    return secured(request, response)


@router.post("/logout")
async def sign_out(
    request: Request, _signed_in: Annotated[Action, Depends(acting(Scope.READ))]
) -> Response:
    authenticator: Authenticator = request.app.state.authenticator
    await run_in_threadpool(authenticator.sign_out, request)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return secured(request, response)
