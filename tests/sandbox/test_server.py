"""Sandbox lifecycle: free ports, both servers answering, clean shutdown, blocking mode."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import httpx
import pytest

from epicstar.sandbox import Role, Sandbox, serve
from epicstar.sandbox.reqlog import ObservableServer
from tests.sandbox.conftest import GH_TOKEN, OD_ADMIN


def sandbox_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("sandbox-")]


def test_start_and_stop_cleanly(tmp_path: Path) -> None:
    before = set(sandbox_threads())
    with Sandbox(tmp_path, github_tokens=["t"], onedev_tokens={"a": "admin"}) as sb:
        assert sb.github_url != sb.onedev_url
        assert sb.github_api_url == sb.github_url
        assert httpx.get(f"{sb.github_api_url}/repos/x/y").status_code == 404
        version = httpx.get(
            f"{sb.onedev_url}/~api/version/server", headers={"Authorization": "Bearer a"}
        )
        assert version.text == "16.5.6"
        assert sb.onedev.principals["a"].role is Role.ADMIN
        # Readiness probes are neither logged nor counted.
        assert sb.github.count() == 1
        assert sb.github.rate_limit(None).remaining == 59
        urls = (sb.github_url, sb.onedev_url)
    assert set(sandbox_threads()) == before
    for url in urls:
        with pytest.raises(httpx.ConnectError):
            httpx.get(url, timeout=2)
    with pytest.raises(RuntimeError, match="not running"):
        _ = sb.onedev_url


def test_serve_blocks_until_stopped(tmp_path: Path) -> None:
    stop = threading.Event()
    seen: list[str] = []

    def on_ready(sb: Sandbox) -> None:
        sb.github.create_repo("octo", "demo")
        seen.append(sb.github_api_url)
        stop.set()

    runner = threading.Thread(
        target=serve, args=(tmp_path,), kwargs={"on_ready": on_ready, "stop": stop}
    )
    runner.start()
    runner.join(20)
    assert not runner.is_alive()
    assert seen
    assert sandbox_threads() == []


@pytest.mark.parametrize("which", ["github", "onedev"])
def test_kept_alive_connections_answer_without_delay(sandbox: Sandbox, which: str) -> None:
    """Regression: without TCP_NODELAY on accepted sockets every response after the first
    on a kept-alive connection (headers and body are separate writes) waited for the
    client's delayed ACK, ~40 ms on Linux.  The client's time for a request must stay close
    to the server-side time the request log measured."""
    server: ObservableServer
    if which == "github":
        server, url, auth = sandbox.github, f"{sandbox.github_api_url}/user", GH_TOKEN
    else:
        server, url, auth = sandbox.onedev, f"{sandbox.onedev_url}/~api/version/server", OD_ADMIN
    overheads: list[float] = []
    with httpx.Client(headers={"Authorization": f"Bearer {auth}"}, timeout=10) as client:
        for _ in range(6):
            server.clear_log()
            started = time.perf_counter()
            assert client.get(url).status_code == 200
            elapsed = time.perf_counter() - started
            (entry,) = server.requests()  # logged before the response ended
            overheads.append(elapsed - entry.duration)
    # The first request (new connection, TCP quick-ACK mode) never showed the stall. The stall
    # hit every later one, so even the quickest shows it; the others may also have waited for
    # a CPU that parallel tests share (a median of 22 ms was seen).
    assert min(overheads[1:]) < 0.020, [round(o * 1000, 1) for o in overheads]
