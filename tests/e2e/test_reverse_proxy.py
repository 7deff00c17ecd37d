"""The reverse-proxy configurations shipped in deploy/proxy/, checked by their own servers, and
nginx's run for real in front of `epicstar serve`: HTTPS, the webhook path, the client's
address through X-Forwarded-For, server-sent events unbuffered, plain HTTP redirected."""

from __future__ import annotations

import os
import shutil
import ssl
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import ONE_DATABASE, World
from tests.e2e.helpers import wait_for
from tests.e2e.served import SECRET, Served
from tests.http_fakes import free_port
from tests.web.conftest import signed

PROXY = Path(__file__).resolve().parents[2] / "deploy" / "proxy"
HOST = "epicstar.example.com"
CLIENT = "203.0.113.7"  # TEST-NET-3: the address a browser far away would have


def tool(name: str, package: str) -> str:
    found = shutil.which(name)
    if found is None or os.geteuid() != 0:
        reason = f"{name} (Debian package {package}) as root"
        if os.environ.get("CI"):
            pytest.fail(f"this test needs {reason} in CI (.ci/run installs it)")
        pytest.skip(f"this test needs {reason}")
    return found


def test_the_caddyfile_is_valid_for_caddy() -> None:
    caddy = tool("caddy", "caddy")
    result = subprocess.run(
        [caddy, "validate", "--adapter", "caddyfile", "--config", str(PROXY / "Caddyfile")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    adapted = subprocess.run(
        [caddy, "adapt", "--adapter", "caddyfile", "--config", str(PROXY / "Caddyfile")],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert '"flush_interval":-1' in adapted  # the events, unbuffered
    assert '"dial":"127.0.0.1:8000"' in adapted


@pytest.fixture
def nginx_in_front(tmp_path: Path) -> Iterator[tuple[Path, int, int, int]]:
    """The shipped server blocks, with a self-signed certificate and free ports, in an nginx
    of their own; yields (prefix, https port, http port, upstream port)."""
    nginx = tool("nginx", "nginx")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", f"/CN={HOST}", "-keyout", str(tmp_path / "key.pem"),
         "-out", str(tmp_path / "cert.pem")],
        capture_output=True, check=True,
    )  # fmt: skip
    https, http, upstream = free_port(), free_port(), free_port()
    site = (PROXY / "nginx.conf").read_text()
    site = site.replace(f"/etc/letsencrypt/live/{HOST}/fullchain.pem", str(tmp_path / "cert.pem"))
    site = site.replace(f"/etc/letsencrypt/live/{HOST}/privkey.pem", str(tmp_path / "key.pem"))
    site = site.replace("listen 443 ssl http2;", f"listen 127.0.0.1:{https} ssl http2;")
    site = site.replace("listen 80;", f"listen 127.0.0.1:{http};")
    site = "\n".join(line for line in site.splitlines() if "[::]" not in line)
    site = site.replace("127.0.0.1:8000", f"127.0.0.1:{upstream}")
    (tmp_path / "site.conf").write_text(site)
    (tmp_path / "logs").mkdir()
    (tmp_path / "nginx.conf").write_text(
        f"pid {tmp_path / 'nginx.pid'};\nerror_log stderr;\nevents {{}}\nhttp {{\n"
        f"access_log off;\nclient_body_temp_path {tmp_path / 'body'};\n"
        f"proxy_temp_path {tmp_path / 'proxy'};\ninclude {tmp_path / 'site.conf'};\n}}\n"
    )
    base = [nginx, "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf")]
    checked = subprocess.run([*base, "-t"], capture_output=True, text=True, check=False)
    assert checked.returncode == 0, checked.stderr
    server = subprocess.Popen([*base, "-g", "daemon off;"], stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: (tmp_path / "nginx.pid").exists() or server.poll() is not None, 20)
        assert server.poll() is None, server.stderr.read() if server.stderr else ""
        yield tmp_path, https, http, upstream
    finally:
        server.terminate()
        server.wait(timeout=20)


@ONE_DATABASE  # what it checks lives in HTTP
def test_nginx_in_front_passes_webhooks_events_and_the_clients_address(
    world: World, nginx_in_front: tuple[Path, int, int, int]
) -> None:
    prefix, https, http, upstream = nginx_in_front
    # The proxy's own certificate is trusted; its name is the site's, the address loopback.
    tls = ssl.create_default_context(cafile=str(prefix / "cert.pem"))
    tls.check_hostname = False
    env = {"EPICSTAR_TRUSTED_PROXIES": "127.0.0.1", "EPICSTAR_TRUSTED_HEADER": "Remote-User"}
    served = Served(world, env, port=upstream)
    try:
        with httpx.Client(
            base_url=f"https://127.0.0.1:{https}", headers={"Host": HOST}, verify=tls, timeout=10
        ) as through:
            assert through.get("/ready").status_code == 200

            body, headers = signed("ping", {"zen": "Keep it logically awesome."}, secret=SECRET,
                                   delivery=str(uuid.uuid4()))  # fmt: skip
            answered = through.post("/webhooks/github", content=body, headers=headers)
            assert answered.status_code < 300, answered.text

            refused = through.get("/api/v1/repositories", headers={"X-Forwarded-For": CLIENT})
            assert refused.status_code == 401
            wait_for(lambda: bool(served.events("api request")), 10)
            assert [event["client"] for event in served.events("api request")] == [CLIENT]

            # The stream never ends: a proxy that buffered it would pass on nothing at all.
            signed_in = {"Remote-User": "alice"}  # as an authenticating proxy would say
            prompt = httpx.Timeout(10, read=3)  # epicstar sends its first line at once
            with through.stream("GET", "/events", headers=signed_in, timeout=prompt) as events:
                assert events.status_code == 200
                assert events.headers["content-type"].startswith("text/event-stream")
                first = next(events.iter_text())
                assert first.startswith("retry: ")
        redirected = httpx.get(f"http://127.0.0.1:{http}/ready", headers={"Host": HOST})
        assert redirected.status_code == 301
        assert redirected.headers["location"] == f"https://{HOST}/ready"
    finally:
        served.stop()
