"""Pages from templates: Jinja2 with autoescaping everywhere, the filters the templates use,
and the headers every dashboard answer carries (a Content-Security-Policy without inline
scripts or styles, no framing, no sniffing, no caching of pages that show state)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlencode

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from epicstar import __version__
from epicstar.auth.scopes import Scope
from epicstar.web.authentication import SESSION_COOKIE, Visitor

HERE = Path(__file__).parent
STATIC_PATH = "/static"
FLASH_COOKIE = "epicstar_flash"

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}

_templates = Environment(
    loader=FileSystemLoader(HERE / "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    trim_blocks=True,
    lstrip_blocks=True,
)


def _moment(value: str | datetime | None) -> datetime | None:
    if value is None or value == "":
        return None
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(value)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def ago(value: str | datetime | None, now: datetime | None = None) -> str:
    """'3 min ago', 'in 2 h', 'just now'; '—' for no time."""
    moment = _moment(value)
    if moment is None:
        return "—"
    seconds = ((now or datetime.now(UTC)) - moment).total_seconds()
    future = seconds < 0
    seconds = abs(seconds)
    if seconds >= 30 * 86400:
        return moment.astimezone(UTC).strftime("%Y-%m-%d")
    if seconds < 45:
        return "just now" if not future else "in a moment"
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size or unit == "min":
            amount = max(1, round(seconds / size))
            return f"in {amount} {unit}" if future else f"{amount} {unit} ago"
    return "—"  # pragma: no cover - the loop always returns


def exact_time(value: str | datetime | None) -> str:
    moment = _moment(value)
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC") if moment else ""


def iso(value: str | datetime | None) -> str:
    moment = _moment(value)
    return moment.isoformat() if moment else ""


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes} min {rest} s"


def size(count: int | None) -> str:
    if count is None:
        return "—"
    amount = float(count)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if amount < 1024 or unit == "GiB":
            return f"{amount:.0f} {unit}" if unit == "B" else f"{amount:.1f} {unit}"
        amount /= 1024
    return f"{amount:.1f} TiB"  # pragma: no cover


def words(value: str | None) -> str:
    """``permanent_failure`` → ``permanent failure``."""
    return (value or "").replace("_", " ")


def short_ref(ref: str | None) -> str:
    """``refs/heads/main`` → ``main``, ``refs/tags/v1`` → ``v1``; any other ref as it is."""
    for prefix in ("refs/heads/", "refs/tags/"):
        if ref and ref.startswith(prefix):
            return ref.removeprefix(prefix)
    return ref or ""


def thousands(count: int) -> str:
    """``100000`` → ``100,000``."""
    return f"{count:,}"


def segment(value: str | int) -> str:
    """``value`` as one segment of a URL's path: every reserved character escaped."""
    return quote(str(value), safe="")


def as_json(value: Any) -> str:
    """Structured data as indented JSON text (escaped like any other text)."""
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False, default=str)


_templates.filters.update(
    ago=ago,
    exact_time=exact_time,
    iso=iso,
    duration=duration,
    size=size,
    words=words,
    short_ref=short_ref,
    thousands=thousands,
    segment=segment,
    as_json=as_json,
)
_templates.globals.update(static=STATIC_PATH, version=__version__, Scope=Scope)


def url_with(request: Request, **changes: Any) -> str:
    """This page's URL with some query parameters changed (None or "" removes one)."""
    params = dict(request.query_params)
    for name, value in changes.items():
        if value is None or value == "":
            params.pop(name, None)
        else:
            params[name] = str(value)
    query = urlencode(params)
    return f"{request.url.path}?{query}" if query else request.url.path


def page(
    request: Request,
    template: str,
    visitor: Visitor | None,
    *,
    status_code: int = 200,
    **context: Any,
) -> Response:
    """The template rendered for ``visitor`` (None on the sign-in page), with the flash
    message of the previous action, if any, shown once."""
    flash = request.cookies.get(FLASH_COOKIE)
    body = _templates.get_template(template).render(
        request=request,
        visitor=visitor,
        flash=unquote(flash) if flash else None,
        url_with=lambda **changes: url_with(request, **changes),
        **context,
    )
    response = HTMLResponse(body, status_code=status_code)
    if flash:
        response.delete_cookie(FLASH_COOKIE, path="/")
    return secured(request, response)


def secured(request: Request, response: Response) -> Response:
    """The security headers, and the session cookie a proxy's user was just given."""
    response.headers.update(SECURITY_HEADERS)
    new_token = getattr(request.state, "new_session_token", None)
    if new_token:
        set_session_cookie(request, response, new_token)
    return response


def is_https(request: Request) -> bool:
    if request.url.scheme == "https":
        return True
    authenticator = request.app.state.authenticator
    forwarded = request.headers.get("x-forwarded-proto", "").split(",")[0].strip().lower()
    return forwarded == "https" and authenticator.addresses.from_trusted_proxy(request)


def set_session_cookie(request: Request, response: Response, token: str) -> None:
    authenticator = request.app.state.authenticator
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=int(authenticator.session_lifetime.total_seconds()),
        path="/",
        httponly=True,
        samesite="lax",
        secure=is_https(request),
    )


def set_flash(request: Request, response: Response, message: str) -> None:
    response.set_cookie(
        FLASH_COOKIE,
        quote(message[:1000]),
        max_age=60,
        path="/",
        httponly=True,
        samesite="strict",
        secure=is_https(request),
    )
