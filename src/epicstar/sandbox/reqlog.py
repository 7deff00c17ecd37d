"""Request log and fault injection shared by the GitHub and OneDev stand-ins.

Both fakes wrap their ASGI app in :class:`RecordingMiddleware`, which

* answers with an injected fault when one matches: a canned answer instead of the real one
  (or after the real app did the work, its answer lost), a connection reset, or a delay, and
* records every request (method, path, query, status, git service or Git LFS request, auth
  *scheme*), at the latest just before the last byte of its response is sent -- an error
  response (4xx/5xx) before its headers -- so a client finds its request in the log as soon as
  the request returns.  Credentials are never recorded, only the scheme word.
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from starlette.types import ASGIApp, Message, Receive, Scope, Send

GIT_SERVICES = ("git-upload-pack", "git-receive-pack")

FaultBody = str | bytes | Mapping[str, Any] | Sequence[Any] | None
FaultKind = Literal["answer", "reset", "delay"]

RESET_EXTENSION = "epicstar.sandbox.reset"
"""ASGI scope extension: a callable that resets the request's TCP connection (the sandbox's
server provides it)."""


@dataclass(frozen=True)
class LoggedRequest:
    """One request as seen by a fake server."""

    method: str
    path: str
    query: str
    status: int
    git_service: str | None
    auth_scheme: str | None
    injected: bool
    started: float
    duration: float
    lfs: str | None = None
    """The Git LFS request this was (see :func:`lfs_request_of`), None for anything else."""
    request_bytes: int = 0
    """Bytes of request body the stand-in read (a push's pack, say)."""

    @property
    def is_git(self) -> bool:
        return self.git_service is not None


class RequestLog:
    """Thread-safe list of :class:`LoggedRequest` with small query helpers."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: list[LoggedRequest] = []

    def add(self, entry: LoggedRequest) -> None:
        with self._lock:
            self._entries.append(entry)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def entries(
        self,
        method: str | None = None,
        path_prefix: str | None = None,
        git_service: str | None = None,
        status: int | None = None,
        *,
        git: bool | None = None,
        lfs: str | None = None,
    ) -> list[LoggedRequest]:
        """Entries matching every given filter, oldest first."""
        with self._lock:
            snapshot = list(self._entries)
        return [
            e
            for e in snapshot
            if (method is None or e.method == method.upper())
            and (path_prefix is None or e.path.startswith(path_prefix))
            and (git_service is None or e.git_service == git_service)
            and (status is None or e.status == status)
            and (git is None or e.is_git == git)
            and (lfs is None or e.lfs == lfs)
        ]

    def count(
        self,
        method: str | None = None,
        path_prefix: str | None = None,
        git_service: str | None = None,
        status: int | None = None,
        *,
        git: bool | None = None,
        lfs: str | None = None,
    ) -> int:
        return len(self.entries(method, path_prefix, git_service, status, git=git, lfs=lfs))

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)


@dataclass
class Fault:
    """What happens to the next ``times`` matching requests (None: forever).

    ``answer``: a canned response instead of the real one; ``reset``: the connection is
    reset with no answer; ``delay``: the real app answers ``seconds`` late. With
    ``take_effect`` the real app handles an answered or reset request first, so its effects
    happen and only its answer is lost."""

    method: str
    pattern: re.Pattern[str]
    status: int
    headers: dict[str, str]
    body: bytes
    times: int | None
    hits: int = 0
    kind: FaultKind = "answer"
    take_effect: bool = False
    seconds: float = 0.0

    def matches(self, method: str, path: str) -> bool:
        return (self.method in ("*", method)) and self.pattern.search(path) is not None


def encode_fault_body(
    body: FaultBody, headers: Mapping[str, str] | None, default_text_type: str
) -> tuple[bytes, dict[str, str]]:
    """Serialise a fault body and pick a content type unless the caller gave one."""
    out_headers = {k.lower(): v for k, v in (headers or {}).items()}
    if body is None:
        data = b""
        content_type = None
    elif isinstance(body, bytes):
        data = body
        content_type = "application/octet-stream"
    elif isinstance(body, str):
        data = body.encode()
        looks_html = body.lstrip().startswith("<")
        content_type = "text/html; charset=utf-8" if looks_html else default_text_type
    else:
        data = json.dumps(body, indent=2).encode()
        content_type = "application/json; charset=utf-8"
    if content_type is not None:
        out_headers.setdefault("content-type", content_type)
    return data, out_headers


class FaultInjector:
    """Ordered list of pending faults; the first matching one wins."""

    def __init__(self, default_text_type: str = "text/plain; charset=utf-8") -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []
        self._default_text_type = default_text_type

    def inject(
        self,
        method: str,
        path_regex: str,
        status: int,
        *,
        headers: Mapping[str, str] | None = None,
        body: FaultBody = None,
        times: int | None = 1,
        kind: FaultKind = "answer",
        take_effect: bool = False,
        seconds: float = 0.0,
    ) -> Fault:
        """Answer the next ``times`` requests whose method matches (``"*"`` = any) and whose
        path matches ``path_regex`` (``re.search``) with ``status``/``headers``/``body``, or
        treat them as ``kind`` says (see :class:`Fault`)."""
        data, hdrs = encode_fault_body(body, headers, self._default_text_type)
        fault = Fault(
            method.upper(),
            re.compile(path_regex),
            status,
            hdrs,
            data,
            times,
            kind=kind,
            take_effect=take_effect,
            seconds=seconds,
        )
        with self._lock:
            self._faults.append(fault)
        return fault

    def take(self, method: str, path: str) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.matches(method, path):
                    fault.hits += 1
                    if fault.times is not None:
                        fault.times -= 1
                        if fault.times <= 0:
                            self._faults.remove(fault)
                    return fault
        return None

    def pending(self) -> list[Fault]:
        with self._lock:
            return list(self._faults)

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()


def auth_scheme(headers: Iterable[tuple[bytes, bytes]], names: Sequence[bytes]) -> str | None:
    """The scheme word of the first present header in ``names`` (lower-case), never the value."""
    found: dict[bytes, bytes] = {}
    for key, value in headers:
        lowered = key.lower()
        if lowered in names and lowered not in found:
            found[lowered] = value
    for name in names:
        if name in found:
            scheme = found[name].split(b" ", 1)[0].decode("latin-1").lower()
            return scheme or None
    return None


def git_service_of(method: str, path: str, query: str) -> str | None:
    """Which smart-HTTP service a request addresses, if any."""
    if method == "GET" and path.endswith("/info/refs"):
        for part in query.split("&"):
            if part.startswith("service="):
                service = part[len("service=") :]
                return service if service in GIT_SERVICES else None
        return None
    if method == "POST":
        for service in GIT_SERVICES:
            if path.endswith("/" + service):
                return service
    return None


LFS_REQUESTS = ("batch", "locks", "upload", "download")
LFS_MEDIA_PREFIX = "/_lfs-media/"
"""Where the GitHub stand-in serves LFS objects, as GitHub's media host does."""


def lfs_request_of(method: str, path: str, query: str) -> str | None:
    """Which Git LFS request a request is, if any: ``batch`` (the Batch API), ``locks`` (the
    File Locking API), or an object transfer, ``upload`` / ``download``, recognised by the
    ``lfs-objects=true`` that OneDev puts in its object URLs."""
    if "lfs-objects=true" in query.split("&"):
        return "download" if method == "GET" else "upload"
    if path.startswith(LFS_MEDIA_PREFIX):  # the GitHub stand-in's media host
        return "download"
    if "/info/lfs/objects/batch" in path:
        return "batch"
    if "/info/lfs/locks" in path:
        return "locks"
    return None


@dataclass
class _Capture:
    status: int = 0
    request_bytes: int = 0
    length: int | None = None  # the response's Content-Length, when it has one
    sent: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


class RecordingMiddleware:
    """ASGI middleware: fault injection first, then the app; every request is logged."""

    def __init__(
        self,
        app: ASGIApp,
        log: RequestLog,
        faults: FaultInjector,
        auth_headers: Sequence[bytes] = (b"authorization",),
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.app = app
        self.log = log
        self.faults = faults
        self.auth_headers = auth_headers
        self.clock = clock

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method: str = scope["method"]
        path: str = scope["path"]
        query = scope.get("query_string", b"").decode("latin-1")
        started = time.time()
        t0 = self.clock()
        capture = _Capture()
        fault = self.faults.take(method, path)
        logged = False

        async def counting_receive() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                capture.request_bytes += len(message.get("body", b""))
            return message

        def record() -> None:
            nonlocal logged
            if logged:
                return
            logged = True
            self.log.add(
                LoggedRequest(
                    method=method,
                    path=path,
                    query=query,
                    status=capture.status,
                    git_service=git_service_of(method, path, query),
                    auth_scheme=auth_scheme(scope.get("headers", []), self.auth_headers),
                    injected=fault is not None,
                    started=started,
                    duration=self.clock() - t0,
                    lfs=lfs_request_of(method, path, query),
                    request_bytes=capture.request_bytes,
                )
            )

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                capture.status = int(message["status"])
                capture.length = _content_length(message)
                if capture.status >= 400:
                    # An error is final with its status line: git (curl with FAILONERROR)
                    # returns as soon as it has the headers, without reading the body.
                    record()
            elif message["type"] == "http.response.body":
                capture.sent += len(message.get("body", b""))
                complete = capture.length is not None and capture.sent >= capture.length
                if complete or not message.get("more_body"):
                    # Recorded *before* the client can see the response end, so whoever made
                    # the request finds it in the log as soon as the request returns (the app
                    # may still be cleaning up, e.g. reaping ``git http-backend``). A body of
                    # known length ends with its last byte: a client (git-lfs) may be done
                    # before the app sends the empty message that closes the stream.
                    record()
            await send(message)

        try:
            if fault is None:
                await self.app(scope, counting_receive, send_wrapper)
            elif fault.kind == "delay":
                await self.app(scope, await _slow(counting_receive, fault.seconds), send_wrapper)
            else:
                if fault.take_effect:
                    await self.app(scope, counting_receive, _discard)
                if fault.kind == "reset":
                    await _reset(scope, counting_receive)
                else:
                    await _send_fault(fault, send_wrapper)
        finally:
            record()  # a response that never completed (error, client gone)


def _content_length(start: Message) -> int | None:
    for name, value in start.get("headers", []):
        if bytes(name).lower() == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _slow(receive: Receive, seconds: float) -> Receive:
    """Take the whole request in, then sit on it: a server slow to answer, not to read."""
    messages: list[Message] = []
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request" or not message.get("more_body"):
            break
    await asyncio.sleep(seconds)

    async def replay() -> Message:
        return messages.pop(0) if messages else await receive()

    return replay


async def _discard(message: Message) -> None:
    pass


async def _reset(scope: Scope, receive: Receive) -> None:
    """Reset the connection, then wait until the server has noticed the client is gone."""
    reset = scope.get("extensions", {}).get(RESET_EXTENSION)
    if reset is None:
        raise RuntimeError("a reset fault needs the sandbox's server (epicstar.sandbox.Sandbox)")
    reset()
    while (await receive())["type"] != "http.disconnect":
        pass


async def _send_fault(fault: Fault, send: Send) -> None:
    headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in fault.headers.items()]
    headers.append((b"content-length", str(len(fault.body)).encode()))
    await send({"type": "http.response.start", "status": fault.status, "headers": headers})
    await send({"type": "http.response.body", "body": fault.body, "more_body": False})


class ObservableServer:
    """Request-log and fault-injection helpers shared by both fakes."""

    log: RequestLog
    faults: FaultInjector

    def inject(
        self,
        method: str,
        path_regex: str,
        status: int,
        *,
        headers: Mapping[str, str] | None = None,
        body: FaultBody = None,
        times: int | None = 1,
        take_effect: bool = False,
    ) -> Fault:
        """Answer the next ``times`` matching requests (API *and* git paths; ``method`` may
        be ``"*"``; ``path_regex`` is searched in the path) with a canned response.  A dict or
        list body is sent as JSON, a str as text (HTML when it starts with ``<``).  With
        ``take_effect`` the request is carried out first and only its answer replaced."""
        return self.faults.inject(
            method,
            path_regex,
            status,
            headers=headers,
            body=body,
            times=times,
            take_effect=take_effect,
        )

    def inject_reset(
        self, method: str, path_regex: str, *, times: int | None = 1, take_effect: bool = False
    ) -> Fault:
        """Reset the connection of the next ``times`` matching requests without an answer
        (after carrying them out, with ``take_effect``)."""
        return self.faults.inject(
            method, path_regex, 0, times=times, kind="reset", take_effect=take_effect
        )

    def inject_delay(
        self, method: str, path_regex: str, seconds: float, *, times: int | None = 1
    ) -> Fault:
        """Hold the next ``times`` matching requests ``seconds`` before the real answer."""
        return self.faults.inject(method, path_regex, 0, times=times, kind="delay", seconds=seconds)

    def requests(
        self,
        method: str | None = None,
        path_prefix: str | None = None,
        git_service: str | None = None,
        status: int | None = None,
        *,
        git: bool | None = None,
        lfs: str | None = None,
    ) -> list[LoggedRequest]:
        """Logged requests matching every given filter, oldest first (``lfs``: one of
        :data:`LFS_REQUESTS`)."""
        return self.log.entries(method, path_prefix, git_service, status, git=git, lfs=lfs)

    def count(
        self,
        method: str | None = None,
        path_prefix: str | None = None,
        git_service: str | None = None,
        status: int | None = None,
        *,
        git: bool | None = None,
        lfs: str | None = None,
    ) -> int:
        return self.log.count(method, path_prefix, git_service, status, git=git, lfs=lfs)

    def clear_log(self) -> None:
        self.log.clear()
