"""Sandbox lifecycle: free ports, both servers answering, clean shutdown, blocking mode."""

from __future__ import annotations

import threading
from pathlib import Path

import httpx
import pytest

from epicstar.sandbox import Role, Sandbox, serve


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
