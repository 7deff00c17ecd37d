"""The Containerfile, built and run for real with Podman: the image answers /ready against
PostgreSQL as its unprivileged user, keeps its health check, and stops cleanly.

No container registry is reachable from this machine, so the base image (Debian bookworm, as
the Containerfile's default base) is made here with debootstrap from Debian's own packages and
given as ``BASE``. The build reaches Debian's and PyPI's mirrors through the host's network and
CA bundle. This VM has cgroups v1 beside v2 and limits on setrlimit, which Podman's default
runtime refuses: runc with cgroupfs and explicit ulimits are used here; a usual machine needs
none of that.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import postgres_schema_url
from tests.e2e.conftest import ONE_DATABASE, World
from tests.http_fakes import free_port

ROOT = Path(__file__).resolve().parents[2]
PODMAN = ["podman", "--runtime", "runc", "--cgroup-manager", "cgroupfs"]
LIMITS = ["--ulimit", "nofile=1024:1024", "--ulimit", "nproc=4096:4096"]

pytestmark = pytest.mark.timeout(900)


def needed_tools() -> None:
    missing = [tool for tool in ("podman", "runc", "debootstrap") if shutil.which(tool) is None]
    reason = (
        f"missing {', '.join(missing)} (Debian packages podman, runc, debootstrap)"
        if missing
        else ("building images needs root here" if os.geteuid() != 0 else "")
    )
    if reason:
        if os.environ.get("CI"):
            pytest.fail(f"the container test must run in CI: {reason}")
        pytest.skip(reason)


def podman(*args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [*PODMAN, *args], capture_output=True, text=True, timeout=timeout, check=False
    )
    assert result.returncode == 0, f"podman {args[0]}: {result.stderr[-3000:]}"
    return result


@pytest.fixture
def base_image(tmp_path: Path) -> Iterator[str]:
    """Debian bookworm (minbase), imported as a local image."""
    needed_tools()
    rootfs = tmp_path / "rootfs"
    subprocess.run(
        [
            "debootstrap",
            "--variant=minbase",
            "bookworm",
            str(rootfs),
            "http://deb.debian.org/debian",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    name = f"localhost/epicstar-test-base:{uuid.uuid4().hex[:8]}"
    archive = subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE)
    subprocess.run(
        [*PODMAN, "import", "-", name], stdin=archive.stdout, capture_output=True, check=True
    )
    assert archive.wait() == 0
    shutil.rmtree(rootfs, ignore_errors=True)
    try:
        yield name
    finally:
        subprocess.run([*PODMAN, "rmi", "--force", name], capture_output=True, check=False)


@pytest.fixture
def image(base_image: str, tmp_path: Path) -> Iterator[str]:
    name = f"localhost/epicstar-test:{uuid.uuid4().hex[:8]}"
    pip_conf = tmp_path / "pip.conf"  # pip inside the build trusts what the host trusts
    pip_conf.write_text("[global]\ncert = /run/host-ca.crt\n")
    podman(
        "build", "--format", "docker", "--network", "host", *LIMITS,
        "--volume", "/etc/ssl/certs/ca-certificates.crt:/run/host-ca.crt:ro",
        "--volume", f"{pip_conf}:/etc/pip.conf:ro",
        "--build-arg", f"BASE={base_image}",
        "--tag", name, "--file", str(ROOT / "Containerfile"), str(ROOT),
    )  # fmt: skip
    try:
        yield name
    finally:
        subprocess.run([*PODMAN, "rmi", "--force", name], capture_output=True, check=False)


@ONE_DATABASE  # the world gives the sandbox; the container's database is PostgreSQL
def test_the_image_serves_as_its_own_user_and_stops_cleanly(world: World, image: str) -> None:
    [config] = json.loads(podman("image", "inspect", image).stdout)
    assert config["Config"]["User"] == "epicstar"
    assert config["Config"]["Cmd"] == ["epicstar", "serve"]
    assert "/health" in " ".join(config["Healthcheck"]["Test"])  # kept: docker format
    assert not any("TOKEN" in variable for variable in config["Config"]["Env"])

    databases = postgres_schema_url()
    database = next(databases)
    port = free_port()
    sandbox = {
        k: v for k, v in world.env().items() if k.startswith(("EPICSTAR_GITHUB", "EPICSTAR_ONEDEV"))
    }
    settings = {**sandbox, "EPICSTAR_DATABASE_URL": database, "EPICSTAR_QUEUE_URL": database}
    settings.update(EPICSTAR_HOST="127.0.0.1", EPICSTAR_PORT=str(port))
    name = f"epicstar-test-{uuid.uuid4().hex[:8]}"
    environment = [part for key, value in settings.items() for part in ("--env", f"{key}={value}")]
    podman("run", "--detach", "--name", name, "--network", "host", *LIMITS, *environment, image)
    try:
        ready = wait_ready(f"http://127.0.0.1:{port}/ready", name)
        assert ready.status_code == 200, ready.text
        assert podman("exec", name, "id", "-un").stdout.strip() == "epicstar"
        assert podman("exec", name, "git", "lfs", "version").stdout.startswith("git-lfs/")
        owners = podman("exec", name, "find", "/data", "-not", "-user", "epicstar").stdout
        assert owners.strip() == ""
        stopped = time.monotonic()
        podman("stop", "--time", "40", name)
        assert time.monotonic() - stopped < 30, "SIGTERM did not stop serve"
        [state] = json.loads(podman("inspect", name).stdout)
        assert state["State"]["ExitCode"] == 0
        logs = podman("logs", name).stderr + podman("logs", name).stdout
        assert world.github_token not in logs
        assert world.onedev_token not in logs
    finally:
        subprocess.run([*PODMAN, "rm", "--force", name], capture_output=True, check=False)
        for _ in databases:  # drops the PostgreSQL schema
            pass


def wait_ready(url: str, container: str) -> httpx.Response:
    deadline = time.monotonic() + 90
    while True:
        try:
            return httpx.get(url, timeout=5)
        except httpx.TransportError:
            if time.monotonic() > deadline:
                logs = subprocess.run(
                    [*PODMAN, "logs", container], capture_output=True, text=True, check=False
                )
                pytest.fail(f"the container never answered:\n{logs.stderr[-3000:]}")
            time.sleep(0.5)
