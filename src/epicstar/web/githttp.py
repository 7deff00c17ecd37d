"""Git smart HTTP served by the real ``git http-backend`` (CGI), streamed both ways: the
sandbox's GitHub and OneDev, and the server's endpoint for agents (:mod:`epicstar.web.agent_git`).

:func:`git_http_backend` is a plain ASGI coroutine: it spawns ``git http-backend`` without a
shell, feeds the request body into its stdin while the CGI output is streamed back, and always
reaps the child (also when the client disconnects mid-transfer).  Only the smart protocol is
served: ``GET …/info/refs?service=…``, ``POST …/git-upload-pack`` and ``POST …/git-receive-pack``;
anything else (dumb HTTP) gets 404.

Every backend is reaped *and* its asyncio subprocess transport closed before its handler
returns, whichever way the request ends.  A server shutting down calls
:func:`shutdown_backends` before its event loop closes: it kills whatever is still running and
waits (bounded) for those cleanups, so no transport outlives its loop (its ``__del__`` would
then fail with "Event loop is closed").
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path

import anyio
from starlette.types import Message, Receive, Scope, Send

log = logging.getLogger(__name__)

CHUNK = 64 * 1024
SERVICES = ("git-upload-pack", "git-receive-pack")
# git http-backend buffers upload-pack requests (wants/haves) in memory up to this size.
MAX_REQUEST_BUFFER = str(256 * 1024 * 1024)
# How long a backend that was not killed may take to exit after its response was streamed.
REAP_TIMEOUT = 30.0
# How long pipes may take to reach EOF once the backend's process group was SIGKILLed.
KILLED_REAP_TIMEOUT = 5.0
# How long a server's shutdown waits for the cleanup of backends still running then.
SHUTDOWN_TIMEOUT = 5.0


def smart_suffix(path: str, method: str, query: str) -> str | None:
    """``info/refs`` / ``git-upload-pack`` / ``git-receive-pack`` when ``path`` is a smart-HTTP
    request, else None.  ``info/refs`` without a known ``service`` parameter is dumb HTTP."""
    if method == "GET" and path.endswith("/info/refs"):
        services = [p[len("service=") :] for p in query.split("&") if p.startswith("service=")]
        return "info/refs" if len(services) == 1 and services[0] in SERVICES else None
    if method == "POST":
        for service in SERVICES:
            if path.endswith("/" + service):
                return service
    return None


def requested_service(path: str, method: str, query: str) -> str | None:
    suffix = smart_suffix(path, method, query)
    if suffix == "info/refs":
        return next(p[len("service=") :] for p in query.split("&") if p.startswith("service="))
    return suffix


def repo_prefix(path: str, suffix: str) -> str:
    """The part of ``path`` before the smart-HTTP suffix, without slashes at either end."""
    return path[: -len(suffix)].strip("/")


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return None


def cgi_environment(
    scope: Scope,
    repo_dir: Path,
    suffix: str,
    *,
    environment: Mapping[str, str],
    config: Mapping[str, str],
    push_allowed: bool,
    remote_user: str | None,
) -> dict[str, str]:
    """``environment`` plus the CGI variables; ``config`` (and ``http.receivepack``) goes in
    ``GIT_CONFIG_*`` variables, replacing any such variables ``environment`` holds."""
    query = scope.get("query_string", b"").decode("latin-1")
    env = {key: value for key, value in environment.items() if not key.startswith("GIT_CONFIG_")}
    # http.receivepack comes from the environment, never argv or a config file (and is
    # explicit either way, because http-backend would otherwise enable it for any REMOTE_USER).
    settings = {**config, "http.receivepack": "true" if push_allowed else "false"}
    env["GIT_CONFIG_COUNT"] = str(len(settings))
    for index, (name, setting) in enumerate(settings.items()):
        env[f"GIT_CONFIG_KEY_{index}"] = name
        env[f"GIT_CONFIG_VALUE_{index}"] = setting
    env.update(
        GIT_PROJECT_ROOT=str(repo_dir.parent),
        PATH_INFO=f"/{repo_dir.name}/{suffix}",
        GIT_HTTP_EXPORT_ALL="1",
        GIT_HTTP_MAX_REQUEST_BUFFER=MAX_REQUEST_BUFFER,
        REQUEST_METHOD=scope["method"],
        QUERY_STRING=query,
        GATEWAY_INTERFACE="CGI/1.1",
        SERVER_PROTOCOL=f"HTTP/{scope.get('http_version', '1.1')}",
    )
    client = scope.get("client")
    env["REMOTE_ADDR"] = client[0] if client else "127.0.0.1"
    if remote_user:
        env["REMOTE_USER"] = remote_user
    for header, var in (
        (b"content-type", "CONTENT_TYPE"),
        (b"content-length", "CONTENT_LENGTH"),
        (b"content-encoding", "HTTP_CONTENT_ENCODING"),
        (b"git-protocol", "GIT_PROTOCOL"),
    ):
        value = _header(scope, header)
        if value is not None:
            env[var] = value
    return env


async def _read_cgi_headers(
    stdout: asyncio.StreamReader,
) -> tuple[int, list[tuple[bytes, bytes]]]:
    status = 200
    headers: list[tuple[bytes, bytes]] = []
    while True:
        line = await stdout.readline()
        if not line:
            # The backend died before finishing its headers.
            return 502, [(b"content-type", b"text/plain")]
        line = line.rstrip(b"\r\n")
        if not line:
            return status, headers
        name, _, value = line.partition(b":")
        value = value.strip()
        if name.lower() == b"status":
            status = int(value.split(b" ", 1)[0])
        else:
            headers.append((name.lower(), value))


class _Exchange:
    """Shared flags between the request pump and the response streamer."""

    def __init__(self, max_body: int | None) -> None:
        self.disconnected = anyio.Event()
        self.body_done = anyio.Event()  # the body was written whole, cut short or refused
        self.response_done = False
        self.max_body = max_body
        self.received = 0
        self.too_large = False

    def client_gone(self, proc: asyncio.subprocess.Process) -> None:
        # After the last body chunk uvicorn reports "disconnect" for a finished response;
        # that is not a client going away, and the backend must be allowed to finish.
        if not self.response_done:
            self.disconnected.set()
            self.body_done.set()
            _kill(proc)

    def count(self, chunk: bytes, proc: asyncio.subprocess.Process) -> bool:
        """Count ``chunk``; False (the backend killed) once the body is over its limit."""
        self.received += len(chunk)
        if self.max_body is None or self.received <= self.max_body:
            return True
        self.too_large = True
        self.body_done.set()
        _kill(proc)
        return False


class _Backend:
    """One running ``git http-backend``: its process, its transport and its cleanup.

    Registered per event loop from spawn until :meth:`_cleanup` has reaped the process and
    closed the transport, so :func:`shutdown_backends` can find (and wait for) it."""

    def __init__(
        self,
        proc: asyncio.subprocess.Process,
        transport: asyncio.SubprocessTransport,
        loop: asyncio.AbstractEventLoop,
    ) -> None:
        self.proc = proc
        self.transport = transport
        self.loop = loop
        self.finished = asyncio.Event()
        self._cleanup_task: asyncio.Task[None] | None = None
        _register(self)

    def kill(self) -> None:
        _kill(self.proc)

    async def finish(self, *, kill: bool) -> None:
        """Reap the backend and close its transport.

        The work runs in a task of its own: when the handler is cancelled natively (uvicorn
        cancels requests that outlive its graceful shutdown, which pierces anyio's shielded
        scopes), the cleanup still runs to its end, and :func:`shutdown_backends` waits for it.
        """
        if self.finished.is_set():
            return  # closed already, by shutdown_backends()
        if self._cleanup_task is None:
            self._cleanup_task = self.loop.create_task(self._cleanup(kill=kill))
        await asyncio.shield(self._cleanup_task)

    async def _cleanup(self, *, kill: bool) -> None:
        try:
            await _reap(self.proc, kill=kill)
        finally:
            self.close()

    def close(self) -> None:
        """Close the transport (idempotent; kills the group if it still runs) and unregister."""
        if self.finished.is_set():
            return
        if self.proc.returncode is None:
            self.kill()
        self.transport.close()
        self.finished.set()
        _unregister(self)


_backends: dict[asyncio.AbstractEventLoop, set[_Backend]] = {}
_backends_lock = threading.Lock()


def _register(backend: _Backend) -> None:
    with _backends_lock:
        _backends.setdefault(backend.loop, set()).add(backend)


def _unregister(backend: _Backend) -> None:
    with _backends_lock:
        running = _backends.get(backend.loop)
        if running is not None:
            running.discard(backend)
            if not running:
                del _backends[backend.loop]


def running_backends() -> int:
    """How many backends of the current event loop are not reaped and closed yet."""
    with _backends_lock:
        return len(_backends.get(asyncio.get_running_loop(), ()))


async def shutdown_backends(timeout: float = SHUTDOWN_TIMEOUT) -> None:
    """Kill every ``git http-backend`` still running on the current event loop and wait (at
    most ``timeout`` seconds) until each is reaped and its transport closed.

    For a server that stops, after its requests had their graceful time and before the loop
    closes: handlers that were cancelled then are still cleaning up, and a handler still
    streaming ends as soon as its backend dies.  Whatever does not finish in time gets its
    transport closed here, so that none outlives the loop."""
    loop = asyncio.get_running_loop()
    with _backends_lock:
        backends = list(_backends.get(loop, ()))
    if not backends:
        return
    for backend in backends:
        backend.kill()
    with anyio.move_on_after(timeout):
        for backend in backends:
            await backend.finished.wait()
    for backend in backends:
        if not backend.finished.is_set():
            log.warning("git http-backend %d not reaped at shutdown", backend.proc.pid)
            backend.close()


async def _pump_request(
    receive: Receive,
    stdin: asyncio.StreamWriter,
    proc: asyncio.subprocess.Process,
    exchange: _Exchange,
) -> None:
    """Copy the request body into stdin, close it, then keep listening for a disconnect."""
    writing = True
    more_body = True
    while more_body:
        message = await receive()
        if message["type"] == "http.disconnect":
            exchange.client_gone(proc)
            return
        more_body = bool(message.get("more_body", False))
        chunk = message.get("body", b"")
        if chunk and not exchange.count(chunk, proc):
            writing = more_body = False
        if chunk and writing:
            try:
                stdin.write(chunk)
                await stdin.drain()
            except (BrokenPipeError, ConnectionResetError):
                writing = False  # the backend stopped reading (it answered early)
    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
        stdin.close()
        await stdin.wait_closed()
    exchange.body_done.set()
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            exchange.client_gone(proc)
            return


async def _drain_stderr(stderr: asyncio.StreamReader, sink: list[bytes]) -> None:
    while chunk := await stderr.read(CHUNK):
        if sum(map(len, sink)) < 16 * 1024:
            sink.append(chunk)


def _kill(proc: asyncio.subprocess.Process) -> None:
    """Kill the backend *and* its children (upload-pack, pack-objects, receive-pack, hooks):
    they share the backend's process group and would otherwise keep the stdout pipe open."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)


async def git_http_backend(
    scope: Scope,
    receive: Receive,
    send: Send,
    *,
    repo_dir: Path,
    push_allowed: bool,
    environment: Mapping[str, str],
    config: Mapping[str, str] | None = None,
    remote_user: str | None = None,
    pass_fds: Sequence[int] = (),
    max_body: int | None = None,
    answer_after_body: bool = False,
) -> int:
    """Serve one smart-HTTP request for the bare repository ``repo_dir``; return the status.

    ``environment`` is ``git http-backend``'s (and so ``receive-pack``'s and its hooks'), with
    ``config`` in ``GIT_CONFIG_*`` variables; ``pass_fds`` are inherited by it. A body over
    ``max_body`` bytes kills the backend; with ``answer_after_body`` (for receive-pack, which
    answers only once it has read the whole pack) the answer waits for the whole body, so such
    a body gets a clean 413.
    """
    query = scope.get("query_string", b"").decode("latin-1")
    suffix = smart_suffix(scope["path"], scope["method"], query)
    if suffix is None:
        await _plain(send, 404, b"Not Found")
        return 404
    env = cgi_environment(
        scope,
        repo_dir,
        suffix,
        environment=environment,
        config=config or {},
        push_allowed=push_allowed,
        remote_user=remote_user,
    )
    backend = await _spawn(env, repo_dir.parent, pass_fds)
    proc = backend.proc
    assert proc.stdin is not None
    assert proc.stdout is not None
    assert proc.stderr is not None
    exchange = _Exchange(max_body)
    errors: list[bytes] = []
    status = 0
    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(_pump_request, receive, proc.stdin, proc, exchange)
            tg.start_soon(_drain_stderr, proc.stderr, errors)
            status = await _stream_response(
                proc.stdout, send, exchange, after_body=answer_after_body
            )
            tg.cancel_scope.cancel()
    finally:
        with anyio.CancelScope(shield=True):
            await backend.finish(kill=exchange.disconnected.is_set() or not exchange.response_done)
    if errors:
        log.debug("git http-backend stderr: %s", b"".join(errors).decode(errors="replace"))
    return status


async def _spawn(env: Mapping[str, str], cwd: Path, pass_fds: Sequence[int]) -> _Backend:
    """Start ``git http-backend`` in a process group of its own, keeping its transport."""
    loop = asyncio.get_running_loop()
    transport, protocol = await loop.subprocess_exec(
        lambda: asyncio.subprocess.SubprocessStreamProtocol(limit=CHUNK, loop=loop),
        "git",
        "http-backend",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=dict(env),
        cwd=os.fspath(cwd),
        process_group=0,
        pass_fds=tuple(pass_fds),
    )
    return _Backend(asyncio.subprocess.Process(transport, protocol, loop), transport, loop)


async def _reap(proc: asyncio.subprocess.Process, *, kill: bool) -> None:
    """Wait for the backend (killing its process group first when ``kill``), reading its pipes
    to EOF meanwhile; a backend still running after :data:`REAP_TIMEOUT` is killed."""
    assert proc.stdin is not None
    if kill:
        _kill(proc)
    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
        proc.stdin.close()
    with anyio.move_on_after(KILLED_REAP_TIMEOUT if kill else REAP_TIMEOUT) as scope:
        await _wait_drained(proc)
    if scope.cancelled_caught and not kill:  # a hung backend: kill it for good
        log.warning("git http-backend %d still running; killing it", proc.pid)
        _kill(proc)
        with anyio.move_on_after(KILLED_REAP_TIMEOUT):
            await _wait_drained(proc)


async def _wait_drained(proc: asyncio.subprocess.Process) -> None:
    """``proc.wait()``, reading stdout and stderr to EOF meanwhile.

    asyncio resolves ``wait()`` only once the process has exited *and* every pipe reached EOF.
    After a client went away mid-pack the response streamer has stopped reading stdout, whose
    reader is then paused with a full buffer: without draining it here ``wait()`` never returns
    (even after the whole group was SIGKILLed) and the transport stays open."""
    assert proc.stdout is not None
    assert proc.stderr is not None
    async with anyio.create_task_group() as tg:
        tg.start_soon(_discard, proc.stdout)
        tg.start_soon(_discard, proc.stderr)
    await proc.wait()


async def _discard(stream: asyncio.StreamReader) -> None:
    while await stream.read(CHUNK):
        pass


async def _stream_response(
    stdout: asyncio.StreamReader, send: Send, exchange: _Exchange, *, after_body: bool
) -> int:
    if after_body:
        await exchange.body_done.wait()
    if exchange.too_large:
        limit = exchange.max_body or 0
        detail = f"the request body is over this server's limit of {limit} bytes"
        await _json(send, 413, {"detail": detail})
        exchange.response_done = True
        return 413
    if exchange.disconnected.is_set():
        return 0
    status, headers = await _read_cgi_headers(stdout)
    await send({"type": "http.response.start", "status": status, "headers": headers})
    while not exchange.disconnected.is_set():
        chunk = await stdout.read(CHUNK)
        if not chunk:
            break
        await send({"type": "http.response.body", "body": chunk, "more_body": True})
    if not exchange.disconnected.is_set():
        exchange.response_done = True
        await send({"type": "http.response.body", "body": b"", "more_body": False})
    return status


async def _json(send: Send, status: int, document: dict[str, str]) -> None:
    body = json.dumps(document).encode()
    start: Message = {
        "type": "http.response.start",
        "status": status,
        "headers": [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))],
    }
    await send(start)
    await send({"type": "http.response.body", "body": body, "more_body": False})


async def _plain(send: Send, status: int, body: bytes) -> None:
    start: Message = {
        "type": "http.response.start",
        "status": status,
        "headers": [(b"content-type", b"text/plain"), (b"content-length", b"%d" % len(body))],
    }
    await send(start)
    await send({"type": "http.response.body", "body": body, "more_body": False})
