"""One JSON log line per API request: method, path, status, duration, and the key's prefix
(never the key)."""

from __future__ import annotations

import time

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

_log = structlog.get_logger("epicstar.api")

KEY_PREFIX_STATE = "api_key_prefix"
"""Where authentication leaves the caller's key prefix in the request's state."""


class ApiAccessLog:
    def __init__(self, app: ASGIApp, path_prefix: str) -> None:
        self.app = app
        self.path_prefix = path_prefix

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
                "status": status,
                "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                "key_prefix": state.get(KEY_PREFIX_STATE),
                "client": scope["client"][0] if scope.get("client") else None,
            }
            if status >= 500:
                _log.error("api request", **fields)
            elif status in (401, 403, 429):
                _log.warning("api request", **fields)
            else:
                _log.info("api request", **fields)
