"""Who may see a page or act from one: the dashboard's side of :mod:`epicstar.web.authentication`.

A page depends on :func:`viewer`; an action (a form POST) on :func:`acting`, which also
refuses requests a browser marks as cross-site and forms without the session's CSRF token.
A browser that is not signed in is sent to ``/login``; a refusal (scope, budget, token) is a
page saying why, or JSON for the dashboard's own script.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import quote, urlsplit

from fastapi import FastAPI, HTTPException, Request
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.responses import JSONResponse, RedirectResponse, Response

from epicstar.auth.scopes import Scope
from epicstar.web.authentication import (
    Authenticator,
    SignInRequired,
    Visitor,
    csrf_matches,
)
from epicstar.web.dashboard.rendering import page, secured, set_flash

T = TypeVar("T")

SCRIPT_HEADER = "x-epicstar-script"
"""Sent by the dashboard's script: the answer to an action is JSON, not a redirect."""
MAX_FORM_FIELDS = 2000


class Refusal(Exception):
    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}

    @classmethod
    def of(cls, error: HTTPException) -> Refusal:
        """The page saying what an API route function refused, and why."""
        return cls(error.status_code, str(error.detail), dict(error.headers or {}))


@dataclass(frozen=True)
class Action:
    visitor: Visitor
    form: FormData

    def text(self, name: str) -> str:
        value = self.form.get(name)
        return value.strip() if isinstance(value, str) else ""

    def texts(self, name: str) -> list[str]:
        return [value for value in self.form.getlist(name) if isinstance(value, str)]


def _authenticator(request: Request) -> Authenticator:
    authenticator: Authenticator = request.app.state.authenticator
    return authenticator


def _visitor(request: Request, scope: Scope) -> Visitor:
    try:
        return _authenticator(request).visitor(request, scope)
    except HTTPException as error:
        raise Refusal.of(error) from None


def viewer(scope: Scope = Scope.READ) -> Callable[[Request], Visitor]:
    """A page's dependency: the signed-in browser, if its key holds ``scope``."""

    def dependency(request: Request) -> Visitor:
        return _visitor(request, scope)

    return dependency


def refuse_other_sites(request: Request) -> None:
    """403 for a request the browser says another site made (``Sec-Fetch-Site``)."""
    if request.headers.get("sec-fetch-site", "same-origin") not in ("same-origin", "none"):
        raise Refusal(403, "a request from another site is refused")


def acting(scope: Scope) -> Callable[[Request], Awaitable[Action]]:
    """An action's dependency: a same-site form with the session's CSRF token, from a
    browser whose key holds ``scope``."""

    async def dependency(request: Request) -> Action:
        refuse_other_sites(request)
        form = await request.form(max_fields=MAX_FORM_FIELDS, max_files=0)
        visitor = await run_in_threadpool(_visitor, request, scope)
        token = form.get("csrf")
        if not csrf_matches(visitor, token if isinstance(token, str) else None):
            raise Refusal(403, "the form is out of date or forged (its CSRF token is wrong)")
        return Action(visitor, form)

    return dependency


async def via_api(route: Callable[..., T], *arguments: Any) -> T:
    """An API route function run as the API runs it (in a thread), its refusal a page's."""
    try:
        return await run_in_threadpool(route, *arguments)
    except HTTPException as error:
        raise Refusal.of(error) from None


def local_path(target: str | None, fallback: str) -> str:
    """``target`` when it is a path on this site, else ``fallback`` (no open redirects)."""
    if not target:
        return fallback
    parts = urlsplit(target)
    # "///host" has no netloc here, yet browsers follow it to host: refused as "//host" is.
    if parts.scheme or parts.netloc or target.startswith("//") or "\\" in target:
        return fallback
    return target if parts.path.startswith("/") else fallback


def answer(request: Request, action: Action, message: str, *, status: int = 200) -> Response:
    """What an action says: JSON to the dashboard's script, else a redirect back to the page
    the form was on, showing ``message`` there."""
    if request.headers.get(SCRIPT_HEADER):
        return secured(request, JSONResponse({"message": message}, status_code=status))
    back = local_path(action.text("next"), "/")
    response = RedirectResponse(back, status_code=303)
    set_flash(request, response, message)
    return secured(request, response)


def refused(request: Request, refusal: Refusal) -> Response:
    if request.headers.get(SCRIPT_HEADER):
        response: Response = JSONResponse(
            {"message": refusal.message}, status_code=refusal.status, headers=refusal.headers
        )
    else:
        response = page(
            request,
            "refused.html",
            None,
            status_code=refusal.status,
            status=refusal.status,
            message=refusal.message,
        )
        response.headers.update(refusal.headers)
    return secured(request, response)


def add_access_handlers(app: FastAPI) -> None:
    async def sign_in_first(request: Request, _error: Exception) -> Response:
        if request.headers.get(SCRIPT_HEADER) or request.url.path == "/events":
            response: Response = JSONResponse({"message": "sign in again"}, status_code=401)
        else:
            here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            target = "/login" if here == "/" else f"/login?next={quote(here, safe='')}"
            response = RedirectResponse(target, status_code=303)
        return secured(request, response)

    async def refusal(request: Request, error: Exception) -> Response:
        assert isinstance(error, Refusal)
        return refused(request, error)

    app.add_exception_handler(SignInRequired, sign_in_first)
    app.add_exception_handler(Refusal, refusal)
