"""Every command, given a data dir, database or queue it cannot use, says so in one line.

A read-only and a full data dir are real filesystems: a tmpfs mounted read-only, or filled
to its last block, in a mount namespace of the command's own (``unshare --mount``), so
they also stop root, which ignores file permissions, and vanish with the command.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from epicstar.state.models import Repository, SyncAttempt
from tests.api.conftest import api_world
from tests.e2e.conftest import World

COMMANDS = {
    "status": ("status",),
    "sync": ("sync",),
    "add": ("add", "octo/new"),
    "db-upgrade": ("db", "upgrade"),
    "serve": ("serve", "--port", "0"),
    "worker": ("worker",),
}
SERVICES = ("serve", "worker")


@dataclass(frozen=True)
class Case:
    setting: str
    problem: str
    env: dict[str, str] = field(default_factory=dict)
    data_dir: str | None = None  # a tmpfs mounted with these options and filled, or not
    fill: bool = False
    services_only: bool = False


CASES = {
    "data-dir-not-creatable": Case(
        "EPICSTAR_DATA_DIR",
        "cannot create /proc/nope: No such file or directory",
        env={"EPICSTAR_DATA_DIR": "/proc/nope"},
    ),
    "data-dir-is-a-file": Case("EPICSTAR_DATA_DIR", "is not a directory"),
    "data-dir-read-only": Case(
        "EPICSTAR_DATA_DIR", "Read-only file system", data_dir="ro,size=256k"
    ),
    "disk-full": Case(
        "EPICSTAR_DATA_DIR", "No space left on device", data_dir="size=256k", fill=True
    ),
    "database-unsupported": Case(
        "EPICSTAR_DATABASE_URL",
        "(got a 'mysql' URL)",
        env={"EPICSTAR_DATABASE_URL": "mysql://u@h/db"},
    ),
    "database-unreachable": Case(
        "EPICSTAR_DATABASE_URL",
        "cannot open the database postgresql+psycopg://127.0.0.1:1/x",
        env={"EPICSTAR_DATABASE_URL": "postgresql://127.0.0.1:1/x"},
    ),
    "api-rate-malformed": Case(
        "EPICSTAR_API_RATE_LIMIT",
        "'5/minute;100/hour' is not a rate",
        env={"EPICSTAR_API_RATE_LIMIT": "5/minute;100/hour"},
    ),
    "trusted-proxy-not-an-address": Case(
        "EPICSTAR_TRUSTED_PROXIES",
        "'proxy.example.com' is not an IP address or network",
        env={"EPICSTAR_TRUSTED_PROXIES": "10.0.0.1,proxy.example.com"},
    ),
    "queue-unsupported": Case(
        "EPICSTAR_QUEUE_URL",
        "(got a 'amqp' URL)",
        env={"EPICSTAR_QUEUE_URL": "amqp://h/x"},
        services_only=True,
    ),
    "queue-unreachable": Case(
        "EPICSTAR_QUEUE_URL",
        "cannot reach the queue redis://u:***@127.0.0.1:1/0",
        env={"EPICSTAR_QUEUE_URL": "redis://u:queue-password@127.0.0.1:1/0"},
        services_only=True,
    ),
}


def _own_mounts_possible() -> bool:
    if shutil.which("unshare") is None:
        return False
    probe = subprocess.run(
        ["unshare", "--mount", "sh", "-c", "mount -t tmpfs tmpfs /mnt"],
        capture_output=True,
        check=False,
    )
    return probe.returncode == 0


def _start(
    world: World, case: Case, args: tuple[str, ...], tmp_path: Path
) -> subprocess.Popen[str]:
    """The command started with the case's setting, in a folder of its own (``tmp_path``)."""
    tmp_path.mkdir()
    env = {**os.environ, **world.env(), **case.env}
    command = [sys.executable, "-m", "epicstar", *args]
    if case.data_dir is None and not case.env:
        (tmp_path / "a-file").write_text("not a directory\n")
        env["EPICSTAR_DATA_DIR"] = str(tmp_path / "a-file")
    if case.data_dir is not None:
        if not _own_mounts_possible():
            message = "a read-only or full tmpfs needs `unshare --mount` (root or a userns)"
            if os.environ.get("CI"):
                pytest.fail(message)
            pytest.skip(message)
        mount_point = tmp_path / "mounted"
        mount_point.mkdir()
        env["EPICSTAR_DATA_DIR"] = str(mount_point)
        fill = 'cat /dev/zero > "$0/filler" 2>/dev/null; ' if case.fill else ""
        script = f'mount -t tmpfs -o {case.data_dir} tmpfs "$0" && {{ {fill}exec "$@"; }}'
        command = ["unshare", "--mount", "sh", "-c", script, str(mount_point), *command]
    return subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def _finish(process: subprocess.Popen[str]) -> tuple[int, str]:
    """The exit status and standard error of a command :func:`_start` started."""
    try:
        _stdout, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    return process.returncode, stderr


def _run(world: World, case: Case, args: tuple[str, ...], tmp_path: Path) -> tuple[int, str]:
    return _finish(_start(world, case, args, tmp_path))


def _state(world: World) -> list[tuple[object, ...]]:
    database = world.db()
    try:
        with database.session() as session:
            rows = session.query(Repository).order_by(Repository.github_id).all()
            attempts = session.query(SyncAttempt).count()
            return [
                (row.github_id, row.sync_status, row.last_synced_at, row.mirrored_refs, attempts)
                for row in rows
            ]
    finally:
        database.dispose()


@pytest.fixture(scope="module")
def kept(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """The matrix's world, made once: ``octo/kept`` tracked and mirrored, ``octo/new`` not
    tracked. No case may change it (each checks that), and each compares with what it finds.
    SQLite only: each check runs before the database is used, or replaces its URL."""
    with api_world("sqlite", tmp_path_factory) as world:
        world.github.create_repo("octo", "kept")
        world.github.create_repo("octo", "new")
        world.add("octo/kept")
        assert world.sync().ok
        yield world


@pytest.mark.parametrize("case_name", list(CASES))
def test_an_unusable_setting_is_one_line_naming_it_and_nothing_changes(
    kept: World, tmp_path: Path, case_name: str
) -> None:
    case, world = CASES[case_name], kept
    before = _state(world)
    assert [row[1] for row in before] == ["completed"], "octo/kept alone, mirrored"

    # only the services use the queue
    commands = [c for c in COMMANDS if not case.services_only or c in SERVICES]
    # The commands run at the same time, each in a folder (and mount) of its own: each stops
    # at its check of the setting, before anything it could share with the others.
    started: dict[str, subprocess.Popen[str]] = {}
    try:
        for command in commands:
            started[command] = _start(world, case, COMMANDS[command], tmp_path / command)
        finished = {command: _finish(process) for command, process in started.items()}
    finally:
        for process in started.values():
            if process.poll() is None:
                process.kill()
                process.communicate()

    for command, (code, stderr) in finished.items():
        lines = stderr.strip().splitlines()
        assert len(lines) == 1, (command, stderr)
        assert lines[0].startswith(f"epicstar: error: {case.setting}: "), (command, lines[0])
        assert case.problem in lines[0], (command, lines[0])
        assert "queue-password" not in stderr
        assert code == 2, command
        assert _state(world) == before, command


def test_a_disk_that_fills_up_during_a_sync_is_one_line_and_the_next_sync_recovers(
    world: World, tmp_path: Path
) -> None:
    """The data dir passes the check at start; fetching a big repository then fills it."""
    repo = world.github.create_repo("octo", "big")
    world.github.generate_history("octo/big", commits=60, files_per_commit=20, file_size=4096)
    world.github.create_repo("octo", "next")
    world.add("octo/big")
    world.add("octo/next")
    case = Case("EPICSTAR_DATA_DIR", "No space left on device", data_dir="size=1m")

    code, stderr = _run(world, case, ("sync",), tmp_path / "sync")

    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("epicstar: error: EPICSTAR_DATA_DIR: the disk is full"), lines[0]
    assert "No space left on device" in lines[0]
    assert code == 2
    row = world.row(repo.id)
    assert row.lease_owner is None
    assert row.mirrored_refs is None
    assert "the disk is full" in (row.error or "")
    assert len(world.attempts(repo.id)) == 1, "the run stopped at the full disk"

    assert world.sync().ok  # with room again
    assert world.onedev.project("github/octo/big") is not None
