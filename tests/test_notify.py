"""Notifications, delivered through Apprise's JSON plugin to a real local HTTP server."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator

import apprise
import pytest
from structlog.testing import capture_logs

from epicstar.config import ConfigError, load_settings
from epicstar.mirror.rewrites import Rewrite, RewriteKind
from epicstar.notify import Notifier, build_notifier
from tests.http_fakes import refused_port
from tests.notify_endpoint import NotificationEndpoint


@pytest.fixture
def service() -> Iterator[NotificationEndpoint]:
    endpoint = NotificationEndpoint()
    yield endpoint
    endpoint.stop()


def test_each_event_arrives_with_the_repository_and_its_details(
    service: NotificationEndpoint,
) -> None:
    settings = load_settings(
        notify_urls=[service.url()],
        notify_new_mirrors=True,
        onedev_url="https://onedev.example.com",
    )
    with build_notifier(settings) as notifier:
        assert notifier.enabled
        notifier.permanent_failure(
            "octo/broken",
            101,
            "git push failed:\nremote: protected branch",
            8,
            onedev_path="github/octo/broken",
        )
        notifier.source_lost("octo/gone", 102, "source_gone", "404 Not Found")
        notifier.source_lost(
            "octo/dmca",
            103,
            "blocked",
            "451 Repository access blocked",
            onedev_path="github/octo/dmca",
        )
        notifier.new_mirror("octo/fresh", 104, "github/octo/fresh")
        assert notifier.flush(3.0)

    assert service.paths == ["/hooks/epicstar"] * 4
    failure, gone, blocked, fresh = service.received

    assert failure["title"] == "epicstar: octo/broken failed permanently"
    assert failure["type"] == "failure"
    assert failure["message"] == (
        "Mirroring octo/broken (GitHub id 101) failed after 8 attempts and is no longer retried "
        "automatically: git push failed: remote: protected branch\n"
        "OneDev: https://onedev.example.com/github/octo/broken. "
        "Fix the cause, then run `epicstar sync --retry-failed`."
    )

    assert gone["title"] == "epicstar: octo/gone is gone from GitHub"
    assert gone["type"] == "warning"
    assert "octo/gone (GitHub id 102)" in gone["message"]
    assert "404 Not Found" in gone["message"]
    assert gone["message"].endswith("\nThe mirror in OneDev is kept.")

    assert blocked["title"] == "epicstar: octo/dmca is blocked on GitHub"
    assert "451 Repository access blocked" in blocked["message"]
    assert blocked["message"].endswith(
        "\nThe mirror in OneDev at https://onedev.example.com/github/octo/dmca is kept."
    )

    assert fresh == {
        "version": "1.0",
        "title": "epicstar: octo/fresh mirrored",
        "message": "octo/fresh (GitHub id 104) is now mirrored in OneDev at "
        "https://onedev.example.com/github/octo/fresh.",
        "attachments": [],
        "type": "success",
    }


def test_new_mirrors_are_not_announced_unless_asked(service: NotificationEndpoint) -> None:
    with build_notifier(load_settings(notify_urls=[service.url()])) as notifier:
        notifier.new_mirror("octo/fresh", 104, "github/octo/fresh")
        notifier.permanent_failure("octo/broken", 101, None, 1)
        assert notifier.flush(3.0)
    assert [body["title"] for body in service.received] == [
        "epicstar: octo/broken failed permanently"
    ]
    assert "failed after 1 attempt and" in service.received[0]["message"]
    assert "OneDev:" not in service.received[0]["message"]


@pytest.mark.parametrize("where", ["answers_500", "not_listening"])
def test_a_failing_service_is_logged_and_never_raises(
    service: NotificationEndpoint, where: str
) -> None:
    with refused_port() as port:  # used when the service is not listening
        service.status = 500
        url = (
            service.url("/hook/tok3n")
            if where == "answers_500"
            else f"json://127.0.0.1:{port}/hook/tok3n"
        )
        notifier = build_notifier(load_settings(notify_urls=[url]))
        with capture_logs() as logs:
            started = time.monotonic()
            notifier.permanent_failure("octo/broken", 101, "boom", 8)
            assert time.monotonic() - started < 0.1
            assert notifier.flush(3.0)
            notifier.close()
        failed = [entry for entry in logs if entry["event"] == "notify.failed"]
        assert len(failed) == 1
        assert failed[0]["repository"] == "octo/broken"
        assert failed[0]["status"] == "FAILURE"
        assert failed[0]["services"] == ["JSON"]
        assert "tok3n" not in repr(logs)
        assert len(service.received) == (1 if where == "answers_500" else 0)


def test_a_slow_service_never_blocks_the_caller(service: NotificationEndpoint) -> None:
    service.hold = True  # answers after 2 s
    notifier = build_notifier(load_settings(notify_urls=[service.url()], notify_new_mirrors=True))
    started = time.monotonic()
    notifier.permanent_failure("octo/a", 1, "boom", 8)
    notifier.source_lost("octo/b", 2, "source_gone", None)
    notifier.new_mirror("octo/c", 3, "github/octo/c")
    assert time.monotonic() - started < 0.1

    with capture_logs() as logs:
        started = time.monotonic()
        notifier.close(timeout=0.2)  # gives up on the two still queued
        assert time.monotonic() - started < 0.5
        notifier.permanent_failure("octo/d", 4, "after close", 8)
        service.release.set()
        deadline = time.monotonic() + 2.0
        while notifier._thread is not None and notifier._thread.is_alive():
            assert time.monotonic() < deadline
            time.sleep(0.01)
    events = [(entry["event"], entry.get("reason")) for entry in logs]
    assert ("notify.abandoned", None) in events
    assert events.count(("notify.dropped", "closing")) == 2
    assert ("notify.dropped", "closed") in events
    assert [body["title"] for body in service.received] == ["epicstar: octo/a failed permanently"]


def test_a_full_queue_drops_and_logs(service: NotificationEndpoint) -> None:
    service.hold = True
    services = apprise.Apprise()
    assert services.add(service.url())
    notifier = Notifier(services, max_queued=2)
    with capture_logs() as logs:
        for number in range(4):
            notifier.permanent_failure(f"octo/r{number}", number, "boom", 8)
    dropped = [entry for entry in logs if entry["event"] == "notify.dropped"]
    assert [entry["repository"] for entry in dropped] == ["octo/r2", "octo/r3"]
    assert {entry["reason"] for entry in dropped} == {"queue_full"}
    service.release.set()
    notifier.close(timeout=3.0)
    assert [body["title"] for body in service.received] == [
        "epicstar: octo/r0 failed permanently",
        "epicstar: octo/r1 failed permanently",
    ]


def test_secrets_are_masked_in_messages(service: NotificationEndpoint) -> None:
    settings = load_settings(
        notify_urls=[service.url()],
        github_token="ghp_topsecret123",
        onedev_token="od-secret-456",
    )
    with build_notifier(settings) as notifier:
        notifier.permanent_failure(
            "octo/leaky",
            7,
            "fatal: could not read from https://x-access-token:ghp_topsecret123@github.com/octo/leaky"
            " (OneDev said: bad token od-secret-456)",
            3,
        )
        notifier.source_lost("octo/leaky", 7, "blocked", "token ghp_topsecret123 refused")
    text = json.dumps(service.received)
    assert len(service.received) == 2
    assert "ghp_topsecret123" not in text
    assert "od-secret-456" not in text
    assert "https://x-access-token:***@github.com/octo/leaky" in service.received[0]["message"]
    assert "bad token ***" in service.received[0]["message"]


def test_a_long_error_is_shortened_after_masking(service: NotificationEndpoint) -> None:
    secret = "ghp_" + "s" * 40
    settings = load_settings(notify_urls=[service.url()], github_token=secret)
    error = "x" * 480 + secret + "y" * 100
    with build_notifier(settings) as notifier:
        notifier.permanent_failure("octo/long", 1, error, 8)
    message = service.received[0]["message"]
    assert "ghp_" not in message
    assert "x" * 480 + "***" in message
    assert "…" in message


@pytest.mark.parametrize(
    ("bad", "named"),
    [
        ("foo://admin:hunter2@example.com/hunter2", "entry 2 (scheme 'foo')"),
        ("hooks.slack.com/services/T000/B000/hunter2", "entry 2 (no scheme)"),
        ("json://", "entry 2 (scheme 'json')"),
    ],
)
def test_an_invalid_url_is_a_config_error_without_the_url(
    service: NotificationEndpoint, caplog: pytest.LogCaptureFixture, bad: str, named: str
) -> None:
    settings = load_settings(notify_urls=[service.url(), bad])
    caplog.set_level(logging.DEBUG, logger="apprise")
    with pytest.raises(ConfigError) as raised:
        build_notifier(settings)
    message = str(raised.value)
    assert message.startswith(f"EPICSTAR_NOTIFY_URLS: {named} is not a URL Apprise understands")
    assert bad not in message
    assert "hunter2" not in message
    assert "hunter2" not in caplog.text  # Apprise's own log would quote the URL


def test_apprise_is_kept_at_warning_unless_configured(service: NotificationEndpoint) -> None:
    apprise_logger = logging.getLogger("apprise")
    previous = apprise_logger.level
    try:
        apprise_logger.setLevel(logging.NOTSET)
        build_notifier(load_settings(notify_urls=[service.url()])).close()
        assert apprise_logger.level == logging.WARNING
        apprise_logger.setLevel(logging.DEBUG)
        build_notifier(load_settings(notify_urls=[service.url()])).close()
        assert apprise_logger.level == logging.DEBUG
    finally:
        apprise_logger.setLevel(previous)


def test_an_empty_json_entry_is_named() -> None:
    with pytest.raises(ConfigError, match=r"^EPICSTAR_NOTIFY_URLS: entry 1 is empty$"):
        build_notifier(load_settings(notify_urls=[" "]))


def test_settings_parse_comma_and_json_lists(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EPICSTAR_NOTIFY_URLS", " json://127.0.0.1/a , ntfy://tok@ntfy.sh/topic,")
    settings = load_settings()
    assert settings.notify_urls == ["json://127.0.0.1/a", "ntfy://tok@ntfy.sh/topic"]
    assert settings.notify_new_mirrors is False
    assert "ntfy://tok@ntfy.sh/topic" in settings.secrets()
    assert "tok@" not in repr(settings)

    urls = ["mailtos://user:pw@example.com?to=a@example.com,b@example.com", "json://h/b"]
    monkeypatch.setenv("EPICSTAR_NOTIFY_URLS", json.dumps(urls))
    monkeypatch.setenv("EPICSTAR_NOTIFY_NEW_MIRRORS", "true")
    settings = load_settings()
    assert settings.notify_urls == urls
    assert settings.notify_new_mirrors is True
    assert build_notifier(settings).enabled

    monkeypatch.setenv("EPICSTAR_NOTIFY_URLS", "[not json")
    with pytest.raises(ConfigError, match=r"^EPICSTAR_NOTIFY_URLS: "):
        load_settings()


def test_close_delivers_what_is_queued(service: NotificationEndpoint) -> None:
    service.delay = 0.05
    notifier = build_notifier(load_settings(notify_urls=[service.url()]))
    for number in range(5):
        notifier.source_lost(f"octo/r{number}", number, "source_gone", None)
    assert len(service.received) < 5
    notifier.close()
    assert len(service.received) == 5
    assert notifier._thread is not None
    assert not notifier._thread.is_alive()
    notifier.close()  # a second close is harmless


def test_without_urls_nothing_runs() -> None:
    threads = threading.active_count()
    for notifier in (Notifier.disabled(), build_notifier(load_settings())):
        assert not notifier.enabled
        notifier.permanent_failure("octo/a", 1, "boom", 8)
        notifier.source_lost("octo/a", 1, "blocked", None)
        notifier.new_mirror("octo/a", 1, "github/octo/a")
        assert notifier.flush(0)
        with notifier:
            pass
    assert threading.active_count() == threads


def test_a_pass_with_rewrites_sends_one_message_naming_them(service: NotificationEndpoint) -> None:
    settings = load_settings(notify_urls=[service.url()], onedev_url="https://onedev.example.com")
    purge = [
        Rewrite(
            f"refs/heads/b{n:02}", "a" * 40, "b" * 40, RewriteKind.FORCED, whole_repository=True
        )
        for n in range(25)
    ]
    with build_notifier(settings) as notifier:
        notifier.rewritten(
            "octo/app",
            7,
            [Rewrite("refs/heads/topic", "c" * 40, None, RewriteKind.DELETED, commits_lost=3)],
            held=False,
            onedev_path="github/octo/app",
        )
        notifier.rewritten("octo/purged", 8, purge, held=True)
        assert notifier.flush(3.0)

    one, whole = service.received
    assert one["title"] == "epicstar: 1 ref of octo/app rewritten on GitHub"
    assert one["type"] == "warning"
    assert f"refs/heads/topic deleted (was {'c' * 12}), 3 commits" in one["message"]
    assert "https://onedev.example.com/github/octo/app follows GitHub" in one["message"]
    assert "epicstar restore octo/app ID" in one["message"]
    assert whole["title"] == "epicstar: GitHub rewrote the whole history of octo/purged"
    assert "refs/heads/b19" in whole["message"]
    assert "refs/heads/b20" not in whole["message"]
    assert "and 5 more" in whole["message"]
    assert "until `epicstar approve octo/purged`" in whole["message"]
