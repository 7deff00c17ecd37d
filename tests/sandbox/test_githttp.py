"""git http-backend bridge: streaming both ways, gzip/chunked bodies, reaping children."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import gzip
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from starlette.types import Message, Scope

from epicstar.sandbox import Sandbox, server
from epicstar.sandbox.github import FakeGitHub
from epicstar.web import githttp
from epicstar.web.githttp import git_http_backend, smart_suffix
from tests.sandbox.conftest import OD_ADMIN, git, git_env, with_credentials


def pkt(line: str) -> bytes:
    data = line.encode()
    return b"%04x" % (len(data) + 4) + data


def upload_request(sha: str) -> bytes:
    return pkt(f"want {sha} side-band-64k ofs-delta\n") + b"0000" + pkt("done\n")


def child_processes() -> list[tuple[int, str, str]]:
    """(pid, command, state) of this process's direct children."""
    me = os.getpid()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        command = stat[stat.index("(") + 1 : stat.rindex(")")]
        state, ppid = stat[stat.rindex(")") + 2 :].split()[:2]
        if int(ppid) == me:
            found.append((int(entry.name), command, state))
    return found


def wait_for_no_children(timeout: float = 10.0) -> list[tuple[int, str, str]]:
    deadline = time.monotonic() + timeout
    while True:
        children = child_processes()
        if not children or time.monotonic() > deadline:
            return children
        time.sleep(0.05)


def test_smart_suffix() -> None:
    assert smart_suffix("/a/b.git/info/refs", "GET", "service=git-upload-pack") == "info/refs"
    assert smart_suffix("/a/b.git/info/refs", "GET", "") is None
    assert smart_suffix("/a/b.git/info/refs", "GET", "service=git-foo") is None
    assert smart_suffix("/a/b/git-receive-pack", "POST", "") == "git-receive-pack"
    assert smart_suffix("/a/b/git-receive-pack", "GET", "") is None
    assert smart_suffix("/a/b.git/objects/info/packs", "GET", "") is None


def test_thousands_of_objects_stream_through(sandbox: Sandbox, tmp_path: Path) -> None:
    gh = sandbox.github
    gh.create_repo("octo", "big")
    gh.generate_history("octo/big", commits=150, files_per_commit=25, file_size=2048)
    mirror = tmp_path / "big.git"
    started = time.monotonic()
    git("clone", "--mirror", f"{sandbox.github_url}/octo/big.git", str(mirror))
    objects = git("count-objects", "-v", cwd=mirror).stdout
    assert "in-pack: " in objects
    in_pack = int(objects.split("in-pack: ")[1].split()[0])
    assert in_pack > 4000
    sandbox.onedev.add_project("github/octo/big")
    target = with_credentials(f"{sandbox.onedev_url}/github/octo/big.git", OD_ADMIN)
    # > http.postBuffer, so git streams the pack with chunked transfer encoding.
    git("push", target, "+refs/heads/*:refs/heads/*", "+refs/pull/*:refs/pull/*", cwd=mirror)
    elapsed = time.monotonic() - started
    pushed = sandbox.onedev.refs("github/octo/big")
    assert pushed == gh.refs("octo/big")
    assert elapsed < 20
    assert wait_for_no_children() == []


def test_gzip_and_chunked_request_bodies(sandbox: Sandbox) -> None:
    repo = sandbox.github.create_repo("octo", "hello")
    sha = sandbox.github.refs("octo/hello")["refs/heads/main"]
    url = f"{sandbox.github_url}/octo/hello.git/git-upload-pack"
    headers = {"Content-Type": "application/x-git-upload-pack-request"}
    plain = httpx.post(url, content=upload_request(sha), headers=headers)
    assert plain.status_code == 200
    assert plain.headers["content-type"] == "application/x-git-upload-pack-result"
    assert b"PACK" in plain.content
    compressed = gzip.compress(upload_request(sha))

    def chunks() -> Iterator[bytes]:
        for i in range(0, len(compressed), 7):
            yield compressed[i : i + 7]

    zipped = httpx.post(
        url, content=chunks(), headers={**headers, "Content-Encoding": "gzip"}
    )  # chunked transfer encoding, no Content-Length
    assert zipped.status_code == 200
    assert b"PACK" in zipped.content
    assert repo.path.exists()


def test_client_disconnect_reaps_the_backend(sandbox: Sandbox) -> None:
    gh = sandbox.github
    gh.create_repo("octo", "huge")
    tip = gh.generate_history("octo/huge", commits=100, files_per_commit=40, file_size=8192)
    body = upload_request(tip)
    request = (
        b"POST /octo/huge.git/git-upload-pack HTTP/1.1\r\n"
        + f"Host: 127.0.0.1\r\nContent-Length: {len(body)}\r\n".encode()
        + b"Content-Type: application/x-git-upload-pack-request\r\n\r\n"
        + body
    )
    host, port = sandbox.github_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as conn:
        conn.sendall(request)
        first = conn.recv(1024)
        assert first.startswith(b"HTTP/1.1 200")
        assert child_processes(), "the backend should still be producing the pack"
    # The client went away mid-pack: the backend is killed and reaped, no zombies left.
    assert wait_for_no_children() == []
    assert "refs/heads/main" in git("ls-remote", f"{sandbox.github_url}/octo/huge.git").stdout


def post_client_seconds(trace: str) -> float:
    """From a ``GIT_TRACE_CURL`` log: the time from sending the (only) POST until the last
    bytes of its response arrived, by git's own timestamps."""
    lines = trace.splitlines()
    sent = next(i for i, line in enumerate(lines) if "=> Send header: POST " in line)
    received = [line for line in lines[sent:] if "<= Recv data" in line]
    assert received, trace

    def seconds(line: str) -> float:
        hours, minutes, secs = line.split(" ", 1)[0].split(":")
        return int(hours) * 3600 + int(minutes) * 60 + float(secs)

    return (seconds(received[-1]) - seconds(lines[sent])) % 86400


def test_v2_ls_remote_post_is_not_held_back(sandbox: Sandbox) -> None:
    """Regression: the server's sockets had Nagle on, so the POST of a v2 ls-remote (on the
    kept-alive connection, its response written as headers, body, chunk terminator) waited for
    the client's delayed ACK: +40 ms on Linux, for every POST.

    What git sees of the POST must be close to what the server spent on it (request log).
    The stall hit every POST, so even the quickest of a few runs shows it; the others may also
    have waited for a CPU that parallel tests share."""
    sandbox.github.create_repo("octo", "fast")
    url = f"{sandbox.github_url}/octo/fast.git"
    env = {**git_env(), "GIT_TRACE_CURL": "1"}
    overheads: list[float] = []
    for _ in range(5):
        sandbox.github.clear_log()
        proc = subprocess.run(
            ["git", "-c", "protocol.version=2", "ls-remote", "--heads", url],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        assert "refs/heads/main" in proc.stdout
        (post,) = sandbox.github.requests("POST")  # logged before the response ended
        assert (post.git_service, post.status) == ("git-upload-pack", 200)
        overheads.append(post_client_seconds(proc.stderr) - post.duration)
    assert min(overheads) < 0.020, [round(o * 1000, 1) for o in overheads]


def sandbox_backends(root: Path) -> list[tuple[int, str]]:
    """(pid, command line) of live processes started by a sandbox under ``root``: every
    ``git http-backend`` and its children (upload-pack, pack-objects) carry its project root."""
    marker = f"GIT_PROJECT_ROOT={root}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if any(var.startswith(marker) for var in environ.split(b"\0")):
            found.append((int(entry.name), cmdline.replace(b"\0", b" ").decode(errors="replace")))
    return found


def start_stalled_clone(sb: Sandbox, dest: Path) -> subprocess.Popen[bytes]:
    """A ``git clone`` of a big repository, frozen (SIGSTOP, whole process group) in the middle
    of its pack, once the server has backed up behind it: socket buffers full, the backend's
    stdout reader paused with a full buffer."""
    sb.github.create_repo("octo", "big")
    sb.github.generate_history("octo/big", commits=400, files_per_commit=20, file_size=4096)
    url = f"{sb.github_url}/octo/big.git"
    clone = subprocess.Popen(
        ["git", "-c", "credential.helper=", "clone", "--mirror", "--quiet", url, str(dest)],
        env=git_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 30
        while clone.poll() is None:
            packs = list(dest.glob("objects/pack/tmp_pack_*"))
            with contextlib.suppress(OSError):
                if packs and max(p.stat().st_size for p in packs) >= 1024 * 1024:
                    break
            assert time.monotonic() < deadline, "the clone never got into its pack"
            time.sleep(0.005)
        assert clone.poll() is None, "the clone finished before it could be interrupted"
        os.killpg(clone.pid, signal.SIGSTOP)
        time.sleep(0.2)
    except BaseException:
        kill_group(clone)
        raise
    return clone


def kill_group(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def closed_in(sb: Sandbox) -> float:
    started = time.monotonic()
    sb.close()
    return time.monotonic() - started


@pytest.mark.filterwarnings("error::pytest.PytestUnraisableExceptionWarning")
@pytest.mark.filterwarnings("error::ResourceWarning")
def test_clone_killed_mid_pack_then_sandbox_closed_at_once(tmp_path: Path) -> None:
    """Regression: a backend whose client was SIGKILLed mid-pack (as the git engine does at a
    deadline) was never reaped: ``proc.wait()`` only returns once stdout is at EOF, but the
    handler had stopped reading it, leaving its reader paused with a full buffer.  Closing the
    sandbox then sat out uvicorn's graceful timeout, cancelled the handler and closed the loop
    under a live subprocess transport, whose ``__del__`` failed later: "Event loop is closed"."""
    root = tmp_path / "sb"
    sb = Sandbox(root, github_tokens=["t"]).start()
    try:
        kill_group(start_stalled_clone(sb, tmp_path / "clone.git"))
    finally:
        seconds = closed_in(sb)
    gc.collect()  # a transport that outlived its loop fails here, in __del__
    assert sandbox_backends(root) == []
    assert wait_for_no_children() == []
    assert seconds < 2, "the handler was still busy with the dead client's backend"


@pytest.mark.filterwarnings("error::pytest.PytestUnraisableExceptionWarning")
@pytest.mark.filterwarnings("error::ResourceWarning")
def test_sandbox_closed_under_a_stalled_clone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The client is still connected (frozen) when the sandbox closes: after the graceful
    timeout uvicorn cancels the handler, and the backend is still killed, reaped and its
    transport closed before the loop closes."""
    monkeypatch.setattr(server, "GRACEFUL_SHUTDOWN_TIMEOUT", 0.3)
    root = tmp_path / "sb"
    sb = Sandbox(root, github_tokens=["t"]).start()
    clone = None
    try:
        clone = start_stalled_clone(sb, tmp_path / "clone.git")
        seconds = closed_in(sb)
        assert sandbox_backends(root) == []
    finally:
        sb.close()
        if clone is not None:
            kill_group(clone)
    gc.collect()
    assert wait_for_no_children() == []
    assert seconds < 0.3 + 2


@pytest.mark.filterwarnings("error::pytest.PytestUnraisableExceptionWarning")
@pytest.mark.filterwarnings("error::ResourceWarning")
def test_shutdown_backends_leaves_nothing_to_the_closing_loop(tmp_path: Path) -> None:
    """A handler stuck in ``send`` (its client stopped reading, the server is forced to exit):
    the shutdown kills the backend and, as the handler does not come back, closes its
    transport itself, all before the loop closes."""
    gh = FakeGitHub(tmp_path / "gh")
    repo = gh.create_repo("octo", "big")
    tip = gh.generate_history("octo/big", commits=100, files_per_commit=20, file_size=4096)
    body = upload_request(tip)
    scope: Scope = {
        "type": "http",
        "method": "POST",
        "path": "/octo/big.git/git-upload-pack",
        "query_string": b"",
        "http_version": "1.1",
        "client": ("127.0.0.1", 1),
        "headers": [
            (b"content-type", b"application/x-git-upload-pack-request"),
            (b"content-length", str(len(body)).encode()),
        ],
    }

    async def main() -> tuple[int, int, float]:
        streaming = asyncio.Event()
        requests = [{"type": "http.request", "body": body, "more_body": False}]

        async def receive() -> Message:
            if requests:
                return requests.pop()
            await asyncio.Event().wait()  # the client never goes away
            raise AssertionError

        async def send(message: Message) -> None:
            if message["type"] == "http.response.body":
                streaming.set()
                await asyncio.Event().wait()  # nor does it read any further

        handler = asyncio.create_task(
            git_http_backend(
                scope, receive, send, repo_dir=repo.path, push_allowed=False, environment=git_env()
            )
        )
        await asyncio.wait_for(streaming.wait(), 30)
        before = githttp.running_backends()
        started = time.monotonic()
        await githttp.shutdown_backends(timeout=0.5)
        assert not handler.done()  # asyncio.run() cancels it, after the transport was closed
        return before, githttp.running_backends(), time.monotonic() - started

    before, after, seconds = asyncio.run(main())
    gc.collect()
    assert (before, after) == (1, 0)
    assert seconds < 2
    # Killed, but (unlike a reaped backend) not known to be gone yet.
    deadline = time.monotonic() + 10
    while sandbox_backends(tmp_path) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert sandbox_backends(tmp_path) == []
    assert wait_for_no_children() == []
