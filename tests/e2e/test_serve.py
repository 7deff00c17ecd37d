"""``epicstar serve`` against the sandbox, as a user runs it: a star, a push and an unstar
arrive as webhooks and by polling; metrics and logs tell what happened; a stop is clean."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from epicstar.state.models import AttemptOutcome, RepoState, SyncStatus
from tests.e2e.conftest import ONE_DATABASE, World
from tests.e2e.helpers import assert_exact_mirror, git_push_running, heads_and_tags, wait_for
from tests.e2e.served import SECRET, Served, serving
from tests.notify_endpoint import NotificationEndpoint
from tests.web.conftest import payload

pytestmark = pytest.mark.timeout(240)


def mirrored(world: World, full_name: str) -> bool:
    source = heads_and_tags(world.github.refs(full_name))
    try:
        mirror = heads_and_tags(world.onedev.refs(f"github/{full_name}"))
    except KeyError:
        return False
    return mirror == source


def repository_json(world: World, full_name: str) -> dict[str, Any]:
    response = httpx.get(
        f"{world.sandbox.github_api_url}/repos/{full_name}",
        headers={"Authorization": f"token {world.github_token}"},
    )
    response.raise_for_status()
    data: dict[str, Any] = response.json()
    return data


def star_event(world: World, full_name: str, action: str, sender: str) -> dict[str, Any]:
    """A real ``star`` delivery, about a sandbox repository, sent by ``sender``."""
    event = payload("star.created")
    event["action"] = action
    event["starred_at"] = datetime.now(UTC).isoformat() if action == "created" else None
    event["repository"] = repository_json(world, full_name)
    event["sender"] = {**event["sender"], "login": sender}
    return event


def push_event(world: World, full_name: str, before: str, after: str) -> dict[str, Any]:
    repository = repository_json(world, full_name)
    repository["pushed_at"] = int(time.time())  # push payloads carry epoch seconds
    sender = {**payload("star.created")["sender"], "login": world.login}
    return {
        "ref": f"refs/heads/{repository['default_branch']}",
        "before": before,
        "after": after,
        "repository": repository,
        "pusher": {"name": world.login, "email": "user@example.invalid"},
        "sender": sender,
    }


def push_upstream(world: World, full_name: str) -> tuple[str, str]:
    branch = world.github.repo(full_name).default_branch
    before = world.github.refs(full_name)[f"refs/heads/{branch}"]
    after = world.github.commit(full_name, branch, {f"{uuid.uuid4().hex}.txt": b"news\n"})
    return before, after


def no_secret_in(text: str, world: World) -> None:
    for secret in (world.github_token, world.onedev_token, SECRET):
        assert secret not in text


def test_serve_acts_on_webhooks_at_once(world: World) -> None:
    """No tick or poll helps here: they run once at start, then not for an hour."""
    world.github.create_repo("octo", "starred")
    world.github.create_repo("octo", "someone-elses")
    with serving(world, EPICSTAR_TICK_SECONDS="3600", EPICSTAR_POLL_INTERVAL="3600") as served:
        assert served.client.get("/health").json() == {"status": "ok"}
        assert served.client.get("/ready").status_code == 200
        wait_for(lambda: served.events("stars.polled"))  # the poll at start: no stars yet

        foreign = served.deliver("star", star_event(world, "octo/someone-elses", "created", "x"))
        assert foreign.status_code == 200
        assert foreign.json()["status"] == "ignored"

        world.star("octo/starred")
        star = served.deliver("star", star_event(world, "octo/starred", "created", world.login))
        assert star.status_code == 202
        wait_for(lambda: mirrored(world, "octo/starred"), timeout=30)

        before, after = push_upstream(world, "octo/starred")
        assert not mirrored(world, "octo/starred")
        push = served.deliver("push", push_event(world, "octo/starred", before, after))
        assert push.status_code == 202
        wait_for(lambda: mirrored(world, "octo/starred"), timeout=30)

        world.github.unstar(world.login, "octo/starred")
        unstar = served.deliver("star", star_event(world, "octo/starred", "deleted", world.login))
        assert unstar.status_code == 202
        starred_id = world.github.repo("octo/starred").id
        wait_for(lambda: world.row(starred_id).state == RepoState.UNSTARRED, timeout=30)

        metrics = served.metrics()
        assert (
            metrics[
                ("epicstar_webhook_deliveries_total", (("event", "star"), ("result", "accepted")))
            ]
            == 2
        )
        assert (
            metrics[
                ("epicstar_webhook_deliveries_total", (("event", "star"), ("result", "ignored")))
            ]
            == 1
        )
        assert (
            metrics[
                ("epicstar_webhook_deliveries_total", (("event", "push"), ("result", "accepted")))
            ]
            == 1
        )
        assert metrics[("epicstar_passes_total", (("outcome", "mirrored"),))] == 2
        assert (
            metrics[
                ("epicstar_repositories", (("state", "unstarred"), ("sync_status", "completed")))
            ]
            == 1
        )
        assert ("epicstar_queue_depth", ()) in metrics
        assert any(name == "epicstar_github_rate_limit_remaining" for name, _ in metrics)

    assert served.process.returncode == 0
    assert_exact_mirror(world, "octo/starred", "github/octo/starred")
    with pytest.raises(AssertionError):
        world.row(world.github.repo("octo/someone-elses").id)  # a foreign star tracks nothing
    # Each pass is logged under its own correlation id; each delivery under its delivery id.
    finished = served.events("pass.finished")
    assert [record["outcome"] for record in finished] == ["mirrored", "mirrored"]
    assert all(record["correlation_id"].startswith("pass-") for record in finished)
    deliveries = served.events("webhook delivery")
    assert len(deliveries) == 4
    assert all(uuid.UUID(record["correlation_id"]) for record in deliveries)
    assert served.events("workers.stopped")
    no_secret_in(served.log_text(), world)


def test_serve_follows_stars_by_polling(world: World) -> None:
    world.github.create_repo("octo", "polled")
    with serving(
        world,
        EPICSTAR_TICK_SECONDS="1",
        EPICSTAR_POLL_INTERVAL="1",
        EPICSTAR_REFRESH_INTERVAL="5",
    ) as served:
        world.star("octo/polled")
        wait_for(lambda: mirrored(world, "octo/polled"), timeout=30)

        push_upstream(world, "octo/polled")
        wait_for(lambda: mirrored(world, "octo/polled"), timeout=30)  # the refresh, ≤ 5.5 s

        polled_id = world.github.repo("octo/polled").id
        world.github.unstar(world.login, "octo/polled")
        wait_for(lambda: world.row(polled_id).state == RepoState.UNSTARRED, timeout=30)
        assert served.deliver("ping", payload("ping")).json()["status"] == "pong"

    assert served.process.returncode == 0
    row = world.row(polled_id)
    assert (row.sync_status, row.lease_owner) == (SyncStatus.COMPLETED, None)
    assert_exact_mirror(world, "octo/polled", "github/octo/polled")  # policy keep
    no_secret_in(served.log_text(), world)


def test_a_stop_releases_a_pass_in_flight(world: World) -> None:
    """With no grace, a stop interrupts the running push; the lease is released at once."""
    repo = world.github.create_repo("octo", "big")
    world.github.generate_history("octo/big", commits=400, files_per_commit=20, file_size=8192)
    world.add("octo/big")
    served = Served(world, {"EPICSTAR_SHUTDOWN_GRACE": "0", "EPICSTAR_LEASE_SECONDS": "600"})
    try:
        wait_for(lambda: git_push_running(world, "github/octo/big"), timeout=60)
        asked = time.monotonic()
        code = served.stop()
        stopped_in = time.monotonic() - asked
    finally:
        served.stop()
    assert code == 0
    assert stopped_in < 10
    assert not git_push_running(world, "github/octo/big")
    row = world.row(repo.id)
    assert row.lease_owner is None  # not left to lapse (600 s)
    assert row.sync_status == SyncStatus.PENDING
    assert row.retry_count == 0
    [attempt] = world.attempts(repo.id)
    assert attempt.outcome == AttemptOutcome.INTERRUPTED
    assert served.events("workers.interrupting")

    assert world.sync().ok  # the next pass picks it up and finishes the mirror
    assert_exact_mirror(world, "octo/big", "github/octo/big")


@ONE_DATABASE  # the messages go out by HTTP; test_failures and test_lifecycle store the states
def test_serve_notifies_what_needs_attention(world: World) -> None:
    endpoint = NotificationEndpoint()
    for name in ("kept", "doomed", "broken"):
        world.github.create_repo("octo", name)
    try:
        with serving(
            world,
            EPICSTAR_TICK_SECONDS="1",
            EPICSTAR_POLL_INTERVAL="1",
            EPICSTAR_MAX_ATTEMPTS="1",
            EPICSTAR_NOTIFY_URLS=endpoint.url(),
            EPICSTAR_NOTIFY_NEW_MIRRORS="true",
        ) as served:
            world.star("octo/kept", "octo/doomed")
            wait_for(lambda: mirrored(world, "octo/kept") and mirrored(world, "octo/doomed"))

            world.onedev.faults.inject("POST", r"^/~api/projects$", 500, body="boom", times=None)
            world.star("octo/broken")
            broken_id = world.github.repo("octo/broken").id
            wait_for(lambda: world.row(broken_id).sync_status == SyncStatus.PERMANENT_FAILURE)

            doomed_id = world.github.repo("octo/doomed").id
            world.github.delete("octo/doomed")
            wait_for(lambda: world.row(doomed_id).state == RepoState.SOURCE_GONE)
            wait_for(lambda: len(endpoint.received) >= 4, timeout=10)
            assert (
                served.metrics()[("epicstar_passes_total", (("outcome", "permanent_failure"),))]
                == 1
            )
    finally:
        endpoint.stop()
    titles = sorted(message["title"] for message in endpoint.received)
    assert titles == [
        "epicstar: octo/broken failed permanently",
        "epicstar: octo/doomed is gone from GitHub",
        "epicstar: octo/doomed mirrored",
        "epicstar: octo/kept mirrored",
    ]
    failure = next(m for m in endpoint.received if "failed" in m["title"])
    assert "boom" in failure["message"]
    no_secret_in(json.dumps(endpoint.received), world)


@ONE_DATABASE  # the process and its HTTP; test_workers runs workers on both databases
def test_a_worker_mirrors_serves_its_metrics_and_stops_cleanly(world: World) -> None:
    repo = world.github.create_repo("octo", "worked")
    world.add("octo/worked")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        [sys.executable, "-m", "epicstar", "worker"],
        env={**os.environ, **world.env(), "EPICSTAR_METRICS_PORT": str(port)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for(lambda: world.row(repo.id).sync_status == SyncStatus.COMPLETED)
        response = httpx.get(f"http://127.0.0.1:{port}/metrics")
        families = {family.name for family in text_string_to_metric_families(response.text)}
        assert {"epicstar_passes", "epicstar_repositories", "epicstar_queue_depth"} <= families
        assert 'epicstar_passes_total{outcome="mirrored"} 1.0' in response.text
        process.send_signal(signal.SIGTERM)
        _, errors = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0
    assert '"workers.stopped"' in errors
    no_secret_in(errors, world)
    assert_exact_mirror(world, "octo/worked", "github/octo/worked")


@ONE_DATABASE  # the queue's; webhooks are recorded on both databases by the first test here
def test_serve_with_no_workers_records_and_queues_for_workers_elsewhere(world: World) -> None:
    world.github.create_repo("octo", "queued")
    with serving(world, EPICSTAR_WORKERS="0") as served:
        world.star("octo/queued")
        star = served.deliver("star", star_event(world, "octo/queued", "created", world.login))
        assert star.status_code == 202
        time.sleep(1)
        metrics = served.metrics()
        assert metrics[("epicstar_queue_depth", ())] >= 1
        assert metrics[("epicstar_passes_total", (("outcome", "mirrored"),))] == 0
        assert not mirrored(world, "octo/queued")
        worker = subprocess.Popen(
            [sys.executable, "-m", "epicstar", "worker"],
            env={**os.environ, **world.env()},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_for(lambda: mirrored(world, "octo/queued"))
        finally:
            worker.send_signal(signal.SIGTERM)
            assert worker.wait(timeout=30) == 0
    assert served.process.returncode == 0
