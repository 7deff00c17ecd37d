"""Run the GitHub and OneDev stand-ins with uvicorn on free local ports.

    with Sandbox(tmp_path, github_tokens=["ghp_x"], onedev_tokens={"od": Role.ADMIN}) as sb:
        sb.github.create_repo("octo", "hello")
        httpx.get(f"{sb.github_api_url}/repos/octo/hello")

Each server runs in its own thread with its own event loop; :meth:`Sandbox.close` stops both
and joins the threads.  :func:`serve` runs a sandbox in the foreground (``epicstar demo --serve``).
"""

from __future__ import annotations

import contextlib
import http.client
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Self

import uvicorn
from starlette.types import ASGIApp, Receive, Scope, Send

from epicstar.sandbox.github import FakeGitHub
from epicstar.sandbox.onedev import FakeOneDev, Role
from epicstar.sandbox.reqlog import RESET_EXTENSION
from epicstar.web import githttp
from epicstar.web.listener import tcp_listener

STARTUP_TIMEOUT = 15.0
SHUTDOWN_TIMEOUT = 10.0
GRACEFUL_SHUTDOWN_TIMEOUT = 5
# Cleanup of git backends still running after the graceful shutdown: within SHUTDOWN_TIMEOUT.
BACKEND_SHUTDOWN_TIMEOUT = 3.0


class _Server(uvicorn.Server):
    """uvicorn, plus: no ``git http-backend`` (process or asyncio transport) outlives the loop.

    uvicorn gives in-flight requests their graceful time, then cancels them; a cancelled git
    handler may still be reaping its backend then, and ``asyncio.run`` would close the loop
    under it.  So once uvicorn is done, the remaining backends are killed and their cleanup is
    waited for (bounded), all before :meth:`run` closes the loop.  Connections still open then
    (a client that stopped reading: its response can never be flushed, so closing it never
    completes) are aborted, for the same reason."""

    async def serve(self, sockets: list[socket.socket] | None = None) -> None:
        try:
            await super().serve(sockets)
        finally:
            await githttp.shutdown_backends(BACKEND_SHUTDOWN_TIMEOUT)
            for connection in list(self.server_state.connections):
                connection.transport.abort()


class _Resettable:
    """Gives each request a way to reset its own connection (for injected faults): a TCP
    RST, as when a proxy or the server's host drops it, not an orderly close."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.server: uvicorn.Server | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            client = scope.get("client")

            def reset() -> None:
                assert self.server is not None, "the server is set before it runs"
                for connection in list(self.server.server_state.connections):
                    if getattr(connection, "client", None) == client:
                        sock = connection.transport.get_extra_info("socket")
                        if sock is not None:
                            linger = struct.pack("ii", 1, 0)
                            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
                        connection.transport.abort()

            scope = {**scope, "extensions": {**scope.get("extensions", {}), RESET_EXTENSION: reset}}
        await self.app(scope, receive, send)


class ServerThread:
    """One uvicorn server on an already-bound socket, in a background thread."""

    def __init__(self, app: ASGIApp, host: str, port: int, name: str) -> None:
        self.sock = tcp_listener(host, port)
        self.host = host
        self.port: int = self.sock.getsockname()[1]
        resettable = _Resettable(app)
        config = uvicorn.Config(
            resettable,
            log_level="warning",
            access_log=False,
            lifespan="off",
            loop="asyncio",
            http="h11",
            ws="none",
            timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_TIMEOUT,
        )
        self.server: uvicorn.Server = _Server(config)
        resettable.server = self.server
        self.thread = threading.Thread(target=self._run, name=f"sandbox-{name}", daemon=True)
        self.error: BaseException | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def _run(self) -> None:
        try:
            self.server.run(sockets=[self.sock])
        except BaseException as exc:  # reported by wait_ready()
            self.error = exc

    def start(self) -> None:
        self.thread.start()

    def wait_ready(self, deadline: float) -> None:
        while not self.server.started:
            if self.error is not None or not self.thread.is_alive():
                raise RuntimeError(f"sandbox server {self.url} failed to start") from self.error
            if time.monotonic() > deadline:
                raise TimeoutError(f"sandbox server {self.url} did not start")
            time.sleep(0.01)
        # Started means listening; make sure a request really gets an answer.
        conn = http.client.HTTPConnection(self.host, self.port, timeout=5)
        try:
            conn.request("GET", "/__sandbox_ready__")
            conn.getresponse().read()
        finally:
            conn.close()

    def stop(self) -> None:
        self.server.should_exit = True
        if self.thread.is_alive():
            self.thread.join(SHUTDOWN_TIMEOUT)
            if self.thread.is_alive():
                self.server.force_exit = True
                self.thread.join(SHUTDOWN_TIMEOUT)
        with contextlib.suppress(OSError):
            self.sock.close()


class Sandbox:
    """Both stand-ins, served on ``host`` (OS-chosen ports unless given)."""

    def __init__(
        self,
        root: Path,
        github_tokens: Iterable[str] = (),
        onedev_tokens: Mapping[str, Role | str] | None = None,
        *,
        host: str = "127.0.0.1",
        github_port: int = 0,
        onedev_port: int = 0,
    ) -> None:
        root = Path(root)
        self.github = FakeGitHub(root / "github", github_tokens)
        self.onedev = FakeOneDev(root / "onedev", onedev_tokens or {})
        self._host = host
        self._ports = (github_port, onedev_port)
        self._servers: list[ServerThread] = []

    @property
    def github_url(self) -> str:
        """Base URL of the fake GitHub (git: ``<github_url>/<owner>/<name>.git``)."""
        return self._server(0).url

    @property
    def github_api_url(self) -> str:
        """REST API base (same server as git, like a GitHub Enterprise at the root)."""
        return self._server(0).url

    @property
    def onedev_url(self) -> str:
        """OneDev server URL (API under ``/~api``, git under ``/<project path>.git``)."""
        return self._server(1).url

    def _server(self, index: int) -> ServerThread:
        if len(self._servers) != 2:
            raise RuntimeError("sandbox is not running")
        return self._servers[index]

    def start(self) -> Self:
        if self._servers:
            return self
        try:
            self._servers = [
                ServerThread(self.github.app, self._host, self._ports[0], "github"),
                ServerThread(self.onedev.app, self._host, self._ports[1], "onedev"),
            ]
            for server in self._servers:
                server.start()
            deadline = time.monotonic() + STARTUP_TIMEOUT
            for server in self._servers:
                server.wait_ready(deadline)
        except BaseException:
            self.close()
            raise
        # The readiness probes must not show up in logs nor count against rate limits.
        self.github.clear_log()
        self.github.reset_rate_limits()
        self.onedev.clear_log()
        return self

    def close(self) -> None:
        servers, self._servers = self._servers, []
        for server in servers:
            server.server.should_exit = True
        for server in servers:
            server.stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def serve_forever(self, stop: threading.Event | None = None) -> None:
        """Block until ``stop`` is set or Ctrl-C, then shut down."""
        stop = stop or threading.Event()
        self.start()
        try:
            while not stop.wait(0.5):
                if any(not s.thread.is_alive() for s in self._servers):
                    break
        except KeyboardInterrupt:
            pass
        finally:
            self.close()


def serve(
    root: Path,
    github_tokens: Iterable[str] = (),
    onedev_tokens: Mapping[str, Role | str] | None = None,
    *,
    host: str = "127.0.0.1",
    github_port: int = 0,
    onedev_port: int = 0,
    on_ready: Callable[[Sandbox], None] | None = None,
    stop: threading.Event | None = None,
) -> None:
    """Run a sandbox in the foreground until Ctrl-C (or ``stop`` is set); ``on_ready(sandbox)``
    is called once both servers answer (e.g. to print the URLs or seed repositories)."""
    sandbox = Sandbox(
        root,
        github_tokens,
        onedev_tokens,
        host=host,
        github_port=github_port,
        onedev_port=onedev_port,
    )
    sandbox.start()
    try:
        if on_ready is not None:
            on_ready(sandbox)
        sandbox.serve_forever(stop)
    finally:
        sandbox.close()
