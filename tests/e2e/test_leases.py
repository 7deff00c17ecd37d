"""A lease left by a dead process is taken over at once; a live holder's lease never is."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest

from epicstar.state.models import AttemptOutcome, Repository, SyncStatus, utcnow
from epicstar.sync.holder import this_process
from tests.e2e.conftest import World
from tests.e2e.helpers import assert_exact_mirror, git_push_running, wait_for


def _start_sync(world: World) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "epicstar", "sync"],
        env={**os.environ, **world.env()},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _big_repository(world: World, name: str) -> int:
    """One whose first push lasts long enough to be caught running."""
    repo = world.github.create_repo("octo", name)
    world.github.generate_history(f"octo/{name}", commits=400, files_per_commit=20, file_size=8192)
    world.add(f"octo/{name}")
    return int(repo.id)


def test_a_sync_killed_mid_push_is_taken_over_at_once_by_the_next(world: World) -> None:
    github_id = _big_repository(world, "oom-killed")
    killed = _start_sync(world)
    try:
        wait_for(lambda: git_push_running(world, "github/octo/oom-killed"), timeout=60)
    finally:
        killed.kill()  # SIGKILL, as the OOM killer does
        killed.communicate()
    assert world.row(github_id).lease_owner is not None, "the dead pass left its lease"

    began = time.monotonic()
    result = world.cli("sync")
    took = time.monotonic() - began

    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 repository: 1 mirrored, 0 up to date" in result.stdout
    assert_exact_mirror(world, "octo/oom-killed", "github/octo/oom-killed")
    assert took < 60, "the dead holder's lease (60 s) was waited out, not taken over"
    dead, mirrored = world.attempts(github_id)
    assert dead.outcome == AttemptOutcome.FAILED
    assert dead.error == "the worker stopped before the pass finished; its process is gone"
    assert mirrored.outcome == AttemptOutcome.MIRRORED


def _gate_pushes(world: World, path: str, gate_dir: Path) -> tuple[Path, Path]:
    """Pushes to ``path`` wait in its pre-receive hook until the gate file exists.

    Returns (waiting, gate): ``waiting`` appears once a push waits. The sandbox's own
    pre-receive checks run after the gate, unchanged.
    """
    world.onedev.add_project(path)
    hooks = world.onedev.repo_dir(path) / "hooks"
    checks = hooks / "pre-receive.sandbox"
    (hooks / "pre-receive").rename(checks)
    waiting, gate = gate_dir / "waiting", gate_dir / "gate"
    hook = hooks / "pre-receive"
    hook.write_text(
        f"#!/bin/sh\ntouch '{waiting}'\n"
        f"while [ ! -e '{gate}' ]; do sleep 0.1; done\nexec '{checks}'\n"
    )
    hook.chmod(0o755)
    return waiting, gate


def _start(world: World, command: str) -> subprocess.Popen[str]:
    env = {**os.environ, **world.env(), "EPICSTAR_TICK_SECONDS": "1", "EPICSTAR_WORKERS": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "epicstar", command],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.parametrize("command", ["sync", "worker"])
def test_a_live_pass_here_keeps_its_lease_and_the_sync_reports_not_done(
    world: World, tmp_path: Path, command: str
) -> None:
    repo = world.github.create_repo("octo", "busy")
    world.add("octo/busy")
    waiting, gate = _gate_pushes(world, "github/octo/busy", tmp_path)
    running = _start(world, command)
    try:
        wait_for(waiting.exists, timeout=60)
        second = world.cli("sync", env={"EPICSTAR_LEASE_WAIT": "1"})
        gate.touch()
        if command == "sync":
            out, err = running.communicate(timeout=60)
            assert running.returncode == 0, out + err
        wait_for(lambda: world.row(repo.id).sync_status == SyncStatus.COMPLETED, timeout=60)
    finally:
        gate.touch()
        if running.poll() is None:
            running.send_signal(signal.SIGINT)
        running.communicate(timeout=30)

    assert second.returncode == 1, second.stdout + second.stderr
    assert f"not done: process {running.pid} on " in second.stdout
    assert "1 repository: 0 mirrored, 0 up to date, 1 not done" in second.stdout
    assert_exact_mirror(world, "octo/busy", "github/octo/busy")
    [attempt] = world.attempts(repo.id)
    assert attempt.outcome == AttemptOutcome.MIRRORED


def _hold(world: World, github_id: int, holder: str) -> None:
    """Leave a lease as a pass that started and still renews it would."""
    database = world.db()
    try:
        with database.session() as session:
            row = session.get(Repository, github_id)
            assert row is not None
            row.lease_owner = holder
            row.lease_expires_at = utcnow() + timedelta(hours=1)
            row.sync_status = SyncStatus.IN_PROGRESS
    finally:
        database.dispose()


def _holder(*, host: str = "", boot: str = "", pid: int = 0, start: str = "") -> str:
    here = this_process()
    return ":".join(
        [
            host or here.host,
            boot or here.boot,
            here.pid_namespace,
            str(pid or here.pid),
            start or here.start,
            "0badc0de",
            "1234567890ab",
        ]
    )


NO_SUCH_PID = 4_000_000  # above the kernel's pid_max limit (2^22)


@pytest.mark.parametrize(
    "holder",
    [
        pytest.param(_holder, id="a-live-process-here"),
        pytest.param(lambda: _holder(host="elsewhere", pid=NO_SUCH_PID), id="another-machine"),
        pytest.param(lambda: "vm:4242:0badc0de:1234567890ab", id="an-older-epicstar"),
    ],
)
def test_a_lease_that_may_be_alive_is_waited_for_then_reported_not_done(
    world: World, holder: Callable[[], str]
) -> None:
    repo = world.github.create_repo("octo", "held")
    world.add("octo/held")
    _hold(world, repo.id, holder())

    result = world.cli("sync", env={"EPICSTAR_LEASE_WAIT": "1"})

    assert result.returncode == 1, result.stdout + result.stderr
    assert "0 mirrored, 0 up to date, 1 not done (held by another worker)" in result.stdout
    assert world.onedev.project("github/octo/held") is None
    assert world.row(repo.id).lease_owner == holder()


@pytest.mark.parametrize(
    "holder",
    [
        pytest.param(lambda: _holder(pid=NO_SUCH_PID), id="its-process-exited"),
        pytest.param(lambda: _holder(start="1"), id="its-pid-now-another-process"),
        pytest.param(lambda: _holder(boot="f" * 32), id="before-a-reboot"),
    ],
)
def test_a_lease_of_a_process_gone_from_this_machine_is_taken_over(
    world: World, holder: Callable[[], str]
) -> None:
    repo = world.github.create_repo("octo", "orphaned")
    world.add("octo/orphaned")
    _hold(world, repo.id, holder())

    began = time.monotonic()
    result = world.cli("sync", env={"EPICSTAR_LEASE_WAIT": "30"})
    took = time.monotonic() - began

    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 repository: 1 mirrored, 0 up to date" in result.stdout
    assert_exact_mirror(world, "octo/orphaned", "github/octo/orphaned")
    assert world.row(repo.id).lease_owner is None
    assert took < 30, "the lease was waited for, not taken over"


def test_a_worker_here_takes_over_a_dead_pass_without_waiting_for_its_lease(
    world: World,
) -> None:
    repo = world.github.create_repo("octo", "left-behind")
    world.add("octo/left-behind")
    _hold(world, repo.id, _holder(pid=NO_SUCH_PID))  # a lease that lasts another hour

    worker = _start(world, "worker")
    try:
        wait_for(lambda: world.row(repo.id).sync_status == SyncStatus.COMPLETED, timeout=60)
    finally:
        worker.send_signal(signal.SIGINT)
        worker.communicate(timeout=30)

    assert_exact_mirror(world, "octo/left-behind", "github/octo/left-behind")
    assert world.row(repo.id).lease_owner is None
