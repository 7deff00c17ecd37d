"""RecordingMiddleware: when a request is logged, relative to the response."""

from __future__ import annotations

import asyncio

import pytest
from starlette.types import Message, Receive, Scope, Send

from epicstar.sandbox.reqlog import FaultInjector, RecordingMiddleware, RequestLog

SCOPE: Scope = {
    "type": "http",
    "method": "POST",
    "path": "/octo/x.git/git-upload-pack",
    "query_string": b"",
    "headers": [(b"authorization", b"Basic c2VjcmV0")],
}


async def no_body() -> Message:
    return {"type": "http.request", "body": b"", "more_body": False}


def test_logged_before_the_response_ends() -> None:
    """An app may keep running after its last body message (githttp reaps the backend); the
    client must still find its request in the log as soon as it has the whole response."""
    log = RequestLog()
    seen_at_send: list[tuple[bool, int]] = []
    finish = asyncio.Event()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"data", "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})
        await finish.wait()  # cleanup after the response

    async def send(message: Message) -> None:
        seen_at_send.append((bool(message.get("more_body")), len(log)))

    async def main() -> None:
        task = asyncio.create_task(
            RecordingMiddleware(app, log, FaultInjector())(SCOPE, no_body, send)
        )
        while len(seen_at_send) < 3:
            await asyncio.sleep(0)
        assert len(log) == 1  # while the app is still cleaning up
        finish.set()
        await task

    asyncio.run(main())
    # Not yet while streaming; already when the final message goes out.
    assert seen_at_send == [(False, 0), (True, 0), (False, 1)]
    (entry,) = log.entries()
    assert (entry.status, entry.git_service, entry.auth_scheme) == (200, "git-upload-pack", "basic")
    assert len(log) == 1  # the app's return does not log it twice


def test_error_logged_before_its_headers_go_out() -> None:
    """git (curl with FAILONERROR) returns as soon as it has an error status, body unread."""
    log = RequestLog()
    seen_at_send: list[tuple[str, int]] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 401, "headers": []})
        await send({"type": "http.response.body", "body": b"denied", "more_body": False})

    async def send(message: Message) -> None:
        seen_at_send.append((message["type"], len(log)))

    asyncio.run(RecordingMiddleware(app, log, FaultInjector())(SCOPE, no_body, send))
    assert seen_at_send == [("http.response.start", 1), ("http.response.body", 1)]
    (entry,) = log.entries()
    assert entry.status == 401


def test_unfinished_response_is_logged_once() -> None:
    log = RequestLog()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        raise OSError("client gone")

    async def send(message: Message) -> None:
        pass

    with pytest.raises(OSError, match="client gone"):
        asyncio.run(RecordingMiddleware(app, log, FaultInjector())(SCOPE, no_body, send))
    (entry,) = log.entries()
    assert entry.status == 200
