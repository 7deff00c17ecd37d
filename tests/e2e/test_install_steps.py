"""What the Containerfile does, done here step by step (no container registry is reachable from
this machine for its base image): epicstar's wheel built from the checkout, installed into a new,
empty environment, and `epicstar serve` run from it as a user without privileges, against
PostgreSQL for both the database and the queue, answering /ready, and stopping cleanly."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import postgres_schema_url
from tests.e2e.conftest import ONE_DATABASE, World
from tests.http_fakes import free_port

ROOT = Path(__file__).resolve().parents[2]
UNPRIVILEGED = "nobody"

pytestmark = pytest.mark.timeout(600)


@pytest.fixture
def shared_folder() -> Iterator[Path]:
    """A folder another user can read (pytest's own are private to this one)."""
    folder = Path(tempfile.mkdtemp(prefix="epicstar-install-"))
    folder.chmod(0o755)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def run(*args: str | Path) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([str(arg) for arg in args], capture_output=True, text=True, check=False)
    assert result.returncode == 0, f"{args[:3]}: {result.stdout[-2000:]}{result.stderr[-2000:]}"
    return result


def as_unprivileged() -> list[str]:
    if os.geteuid() != 0:
        if os.environ.get("CI"):
            pytest.fail("this test switches to an unprivileged user: it runs as root in CI")
        pytest.skip("switching to an unprivileged user needs root")
    return ["setpriv", f"--reuid={UNPRIVILEGED}", "--regid=nogroup", "--clear-groups", "--"]


@ONE_DATABASE  # the world gives the sandbox; the service's own database is PostgreSQL
def test_the_wheel_installed_afresh_serves_as_an_unprivileged_user(
    shared_folder: Path, world: World
) -> None:
    switch = as_unprivileged()
    dist = shared_folder / "dist"
    run(sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", dist, ROOT)
    [wheel] = dist.glob("epicstar-*.whl")
    venv = shared_folder / "venv"
    # The system's Python, as a Debian image or server has it: the unprivileged user cannot
    # reach one installed under /root, as this test's own may be.
    run(system_python(), "-m", "venv", venv)
    run(venv / "bin" / "pip", "install", "--quiet", wheel)
    assert not (venv / "lib").joinpath("python3.11", "site-packages", "tests").exists()

    data = shared_folder / "data"
    data.mkdir()
    shutil.chown(data, UNPRIVILEGED)
    port = free_port()
    databases = postgres_schema_url()
    database = next(databases)  # the database and the queue, as compose.yaml has them
    sandbox = {
        k: v for k, v in world.env().items() if k.startswith(("EPICSTAR_GITHUB", "EPICSTAR_ONEDEV"))
    }
    env = {
        "PATH": f"{venv / 'bin'}:/usr/bin:/bin",
        "HOME": str(data),
        "EPICSTAR_DATA_DIR": str(data),
        "EPICSTAR_DATABASE_URL": database,
        "EPICSTAR_QUEUE_URL": database,
        "EPICSTAR_HOST": "127.0.0.1",
        "EPICSTAR_PORT": str(port),
        "EPICSTAR_SHUTDOWN_GRACE": "5",
        **sandbox,
    }
    process = subprocess.Popen(
        [*switch, str(venv / "bin" / "epicstar"), "serve"],
        env=env,
        cwd=data,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        ready = wait_ready(f"http://127.0.0.1:{port}/ready", process)
        assert ready.status_code == 200, ready.text
        owner = Path(f"/proc/{process.pid}/status").read_text()
        uid = next(line.split()[1] for line in owner.splitlines() if line.startswith("Uid:"))
        assert int(uid) == int(run("id", "-u", UNPRIVILEGED).stdout)
        assert {path.owner() for path in data.rglob("*")} == {UNPRIVILEGED}
    finally:
        process.send_signal(signal.SIGTERM)
        _, errors = process.communicate(timeout=60)
        for _ in databases:  # drops the PostgreSQL schema
            pass
    assert process.returncode == 0, errors[-3000:]
    events = [json.loads(line).get("event") for line in errors.splitlines() if line.startswith("{")]
    assert "serve.listening" in events


def system_python() -> str:
    python = shutil.which("python3", path="/usr/bin:/bin")
    if python is None:
        if os.environ.get("CI"):
            pytest.fail("the system's python3 (Debian packages python3, python3-venv) is missing")
        pytest.skip("no system python3 in /usr/bin")
    return python


def wait_ready(url: str, process: subprocess.Popen[str]) -> httpx.Response:
    deadline = time.monotonic() + 60
    while True:
        if process.poll() is not None:
            assert process.stderr is not None
            pytest.fail(f"serve exited {process.returncode}: {process.stderr.read()[-800:]}")
        try:
            return httpx.get(url, timeout=5)
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
