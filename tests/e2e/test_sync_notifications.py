"""``epicstar sync`` run as cron runs it notifies what needs attention, as ``serve`` does."""

from __future__ import annotations

import subprocess
import time

from tests.e2e.conftest import ONE_DATABASE, World
from tests.notify_endpoint import NotificationEndpoint

pytestmark = ONE_DATABASE


def assert_nothing_secret(result: subprocess.CompletedProcess[str], world: World, url: str) -> None:
    log = (world.data_dir / "logs" / "epicstar.log").read_text()
    for text in (result.stdout, result.stderr, log):
        for secret in (world.github_token, world.onedev_token, url):
            assert secret not in text


def test_sync_from_cron_notifies_and_waits_for_its_messages(world: World) -> None:
    endpoint = NotificationEndpoint()
    url = endpoint.url("/hooks/notify-token-5f1d2c")
    world.overrides.update(
        EPICSTAR_NOTIFY_URLS=url, EPICSTAR_NOTIFY_NEW_MIRRORS="true", EPICSTAR_MAX_ATTEMPTS="1"
    )
    for name in ("kept", "starred-doomed", "added-doomed", "broken"):
        world.github.create_repo("octo", name)
    try:
        world.star("octo/kept", "octo/starred-doomed")
        world.cli("add", "octo/added-doomed")
        first = world.cli("sync")
        assert first.returncode == 0, first.stdout + first.stderr
        # Read at once: the command may only exit once its messages were delivered.
        assert sorted(message["title"] for message in endpoint.received) == [
            "epicstar: octo/added-doomed mirrored",
            "epicstar: octo/kept mirrored",
            "epicstar: octo/starred-doomed mirrored",
        ]
        assert_nothing_secret(first, world, url)

        endpoint.received.clear()
        endpoint.delay = 1.0  # delivered one after another: about 3 s after the last pass
        world.onedev.faults.inject("POST", r"^/~api/projects$", 400, body="refused", times=None)
        world.star("octo/broken")
        world.github.delete("octo/starred-doomed")  # found missing by the full walk
        world.github.delete("octo/added-doomed")  # not starred: found gone by its pass
        second = world.cli("sync", "--full")
        assert second.returncode == 1, second.stdout + second.stderr
        received = list(endpoint.received)
        assert_nothing_secret(second, world, url)
    finally:
        endpoint.stop()

    assert sorted(message["title"] for message in received) == [
        "epicstar: octo/added-doomed is gone from GitHub",
        "epicstar: octo/broken failed permanently",
        "epicstar: octo/starred-doomed is gone from GitHub",
    ]
    failure = next(message for message in received if "failed" in message["title"])
    assert "400 refused" in failure["message"]
    walked = next(message for message in received if "starred-doomed" in message["title"])
    assert "GitHub answers 404" in walked["message"]


def test_sync_waits_for_a_slow_notification_service_only_so_long(world: World) -> None:
    endpoint = NotificationEndpoint()
    endpoint.delay = 60.0  # answers long after the command's wait for its messages ends
    world.overrides.update(
        EPICSTAR_NOTIFY_URLS=endpoint.url() + "?rto=120", EPICSTAR_NOTIFY_NEW_MIRRORS="true"
    )
    world.github.create_repo("octo", "first")
    world.github.create_repo("octo", "second")
    world.star("octo/first", "octo/second")
    try:
        started = time.monotonic()
        result = world.cli("sync")
        took = time.monotonic() - started
    finally:
        endpoint.stop()
    assert result.returncode == 0, result.stdout + result.stderr
    assert len(endpoint.received) == 1  # the second one was still queued
    assert took < endpoint.delay - 20, took  # the 5 s wait, not the service's minute
    log = (world.data_dir / "logs" / "epicstar.log").read_text()
    assert '"notify.abandoned"' in log
