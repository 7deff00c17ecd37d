"""One JSON log line per API (and Atom feed) request: method, path, query (a key in it
masked), status, duration, the key's prefix (never the key), and the client's address as the
budgets see it (``EPICSTAR_TRUSTED_PROXIES``)."""

from __future__ import annotations

import time
from urllib.parse import parse_qsl, urlencode

import structlog
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from epicstar.logs import mask_keys
from epicstar.web.ratelimit import ClientAddress

_log = structlog.get_logger("epicstar.api")

KEY_PREFIX_STATE = "api_key_prefix"
"""Where authentication leaves the caller's key prefix in the request's state."""


class ApiAccessLog:
    def __init__(
        self,
        app: ASGIApp,
        path_prefix: str | tuple[str, ...],
        addresses: ClientAddress | None = None,
    ) -> None:
        self.app = app
        self.path_prefix = path_prefix
        self.addresses = addresses or ClientAddress([])

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not str(scope["path"]).startswith(self.path_prefix):
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what the client sees if the app fails before answering

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            state = scope.get("state") or {}
            fields = {
                "method": scope["method"],
                "path": scope["path"],
                "query": _masked_query(scope),
                "status": status,
                "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                "key_prefix": state.get(KEY_PREFIX_STATE),
                "client": self.addresses.of(Request(scope)),
            }
            if status >= 500:
                _log.error("api request", **fields)
            elif status in (401, 403, 429):
                _log.warning("api request", **fields)
            else:
                _log.info("api request", **fields)


def _masked_query(scope: Scope) -> str | None:
    """The query string, any ``key=`` parameter's value masked (the feed's key)."""
    raw = scope.get("query_string", b"")
    if not raw:
        return None
    pairs = parse_qsl(raw.decode("latin-1"), keep_blank_values=True)
    return urlencode(
        [
            (name, "***" if name.strip().lower() == "key" else mask_keys(value))
            for name, value in pairs
        ],
        safe="*",
    )
