"""A reverse proxy in front of a served epicstar that keeps every request whole (headers and
body) and can make the server fail for a moment: what the server received, byte for byte."""

from __future__ import annotations

import gzip
import zlib
from dataclasses import dataclass
from types import TracebackType
from typing import Self

import httpx
from starlette.types import Message, Receive, Scope, Send

from epicstar.sandbox.reqlog import FaultInjector, RecordingMiddleware, RequestLog
from epicstar.sandbox.server import ServerThread

_HOP_BY_HOP = {b"connection", b"keep-alive", b"transfer-encoding", b"host", b"content-length"}


@dataclass(frozen=True)
class Captured:
    method: str
    path: str
    query: str
    headers: tuple[tuple[bytes, bytes], ...]
    body: bytes

    def raw(self) -> bytes:
        """Everything the server was sent, with gzip-encoded bodies (git's) decoded too."""
        head = f"{self.method} {self.path}?{self.query}\n".encode()
        lines = b"".join(name + b": " + value + b"\n" for name, value in self.headers)
        return head + lines + self.body + _decoded(self.body)


class Tap:
    """``url`` leads to ``upstream``; :attr:`captured` holds each request, :attr:`log` their
    answers, :attr:`faults` what to answer instead (see the sandbox's fault injection)."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.captured: list[Captured] = []
        self.log = RequestLog()
        self.faults = FaultInjector()
        app = RecordingMiddleware(self._forward, self.log, self.faults)
        self._server = ServerThread(app, "127.0.0.1", 0, "tap")

    @property
    def url(self) -> str:
        return self._server.url

    def __enter__(self) -> Self:
        self._server.start()
        self._server.wait_ready(float("inf"))
        self.captured.clear()
        self.log.clear()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._server.stop()

    def requests(self, method: str, path_part: str) -> list[Captured]:
        return [c for c in self.captured if c.method == method and path_part in c.path]

    async def _forward(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = bytearray()
        while True:
            message: Message = await receive()
            body.extend(message.get("body", b""))
            if not message.get("more_body"):
                break
        query = scope.get("query_string", b"").decode("latin-1")
        headers = tuple((bytes(k), bytes(v)) for k, v in scope["headers"])
        self.captured.append(Captured(scope["method"], scope["path"], query, headers, bytes(body)))
        if scope["path"] == "/__sandbox_ready__":
            await send({"type": "http.response.start", "status": 204, "headers": []})
            await send({"type": "http.response.body", "body": b""})
            return
        forwarded = [(k, v) for k, v in headers if k.lower() not in _HOP_BY_HOP]
        url = f"{self.upstream}{scope['path']}" + (f"?{query}" if query else "")
        async with httpx.AsyncClient(timeout=120) as client:
            request = client.build_request(
                scope["method"], url, headers=forwarded, content=bytes(body)
            )
            response = await client.send(request, stream=True)
            try:
                await send(
                    {
                        "type": "http.response.start",
                        "status": response.status_code,
                        "headers": [
                            (k, v) for k, v in response.headers.raw if k.lower() not in _HOP_BY_HOP
                        ],
                    }
                )
                async for chunk in response.aiter_raw():
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
                await send({"type": "http.response.body", "body": b""})
            finally:
                await response.aclose()


def _decoded(body: bytes) -> bytes:
    for decode in (gzip.decompress, zlib.decompress):
        try:
            return decode(body)
        except (OSError, zlib.error, EOFError):
            continue
    return b""
