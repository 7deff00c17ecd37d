"""Tokens never reach output, the data dir (database included) or any git command line."""

from __future__ import annotations

import base64
import http.server
import json
import os
import shutil
import stat
import threading
from pathlib import Path

from epicstar.state.models import Repository
from tests.e2e.conftest import World
from tests.http_fakes import HeaderRecorder


def _argv_logging_git(directory: Path, log: Path) -> Path:
    """A ``git`` first on PATH that records its command line, then runs the real git."""
    real_git = shutil.which("git")
    assert real_git is not None
    directory.mkdir()
    wrapper = directory / "git"
    wrapper.write_text(f'#!/bin/sh\nprintf "%s\\n" "$*" >> "{log}"\nexec "{real_git}" "$@"\n')
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR)
    return directory


def _forms(world: World) -> list[bytes]:
    github_basic = base64.b64encode(f"x-access-token:{world.github_token}".encode())
    return [
        world.github_token.encode(),
        world.onedev_token.encode(),
        github_basic,
        base64.b64encode(world.onedev_token.encode()),
    ]


def test_tokens_appear_nowhere(world: World, tmp_path: Path) -> None:
    world.github.create_repo("octo", "private-one", private=True)
    world.github.create_repo("octo", "public-one")
    argv_log = tmp_path / "argv.log"
    wrapper_dir = _argv_logging_git(tmp_path / "bin", argv_log)
    env = {"PATH": f"{wrapper_dir}{os.pathsep}{os.environ['PATH']}", "EPICSTAR_LOG_LEVEL": "debug"}

    outputs = []
    for args in (
        ("add", "octo/private-one"),
        ("add", "octo/public-one"),
        ("sync",),
        ("sync", "--force"),
        ("status",),
        ("status", "--json"),
    ):
        result = world.cli(*args, env=env)
        assert result.returncode == 0, result.stderr
        outputs.append(result.stdout + result.stderr)
    world.onedev_token = "od_wrong_token_value"
    failed = world.cli("sync", env=env)
    assert failed.returncode == 2
    outputs.append(failed.stdout + failed.stderr)

    assert argv_log.read_text().count("fetch") >= 2, "the wrapper saw the git commands"
    assert "push" in argv_log.read_text()
    leaks = {
        "output": "\n".join(outputs).encode(),
        "git command lines": argv_log.read_bytes(),
    }
    for path in world.data_dir.rglob("*"):
        if path.is_file():
            leaks[str(path.relative_to(world.data_dir))] = path.read_bytes()
    assert any(name.endswith("epicstar.log") for name in leaks), "logs were written"
    assert any(name.endswith("config") for name in leaks), "git caches were written"
    for where, content in leaks.items():
        for secret in [*_forms(world), b"od_wrong_token_value"]:
            assert secret not in content, f"a secret leaked into {where}"


def test_postgres_or_sqlite_rows_hold_no_secret(world: World) -> None:
    world.github.create_repo("octo", "x", private=True)
    world.add("octo/x")
    world.sync()
    database = world.db()
    try:
        with database.engine.connect() as connection:
            dumped = []
            for table in ("repositories", "sync_attempts"):
                rows = connection.exec_driver_sql(f"SELECT * FROM {table}").all()  # noqa: S608
                dumped.append(repr(rows))
    finally:
        database.dispose()
    text = "\n".join(dumped).encode()
    assert b"octo/x" in text
    for secret in _forms(world):
        assert secret not in text


def test_the_github_token_goes_to_githubs_git_host_alone(world: World) -> None:
    """A clone URL naming another host (a changed row, a GitHub answer not to be trusted) is
    fetched without the token, and a warning says so once."""
    repo = world.github.create_repo("octo", "elsewhere", private=True)
    world.add("octo/elsewhere")
    assert world.sync().ok  # GitHub's own git host gets the token: it is private
    recorder = http.server.ThreadingHTTPServer(("127.0.0.1", 0), HeaderRecorder)
    threading.Thread(target=recorder.serve_forever, daemon=True).start()
    foreign = f"http://127.0.0.1:{recorder.server_address[1]}"
    database = world.db()
    try:
        with database.session() as session:
            row = session.get(Repository, repo.id)
            assert row is not None
            row.clone_url = f"{foreign}/octo/elsewhere.git"
    finally:
        database.dispose()

    try:
        for _ in range(2):
            world.cli("sync", "--force")
    finally:
        recorder.shutdown()
        recorder.server_close()

    assert world.row(repo.id).clone_url == f"{foreign}/octo/elsewhere.git"  # GitHub said 304
    assert HeaderRecorder.seen, "git asked the other host"
    for headers in HeaderRecorder.seen:
        assert "authorization" not in headers
        for secret in _forms(world):
            assert secret.decode() not in repr(headers)
    lines = [
        json.loads(line)
        for log in world.data_dir.rglob("epicstar.log")
        for line in log.read_text().splitlines()
    ]
    withheld = [line for line in lines if line.get("event") == "github.token_withheld"]
    assert [line["origin"] for line in withheld] == [foreign, foreign]  # once a process
    assert withheld[0]["github_git_origin"] == world.sandbox.github_url
