"""Request budgets and the address they are kept for: who a request counts against, that
a budget holds in memory and in Redis, and that a Redis gone away never refuses or holds up
a request."""

from __future__ import annotations

import secrets
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from limits import parse
from limits.strategies import MovingWindowRateLimiter
from starlette.requests import Request
from structlog.testing import capture_logs

from epicstar.web.ratelimit import (
    REDIS_TIMEOUT_SECONDS,
    ClientAddress,
    InlineExpiryMemoryStorage,
    RateLimits,
    address_bucket,
    budget_namespace,
    shared_storage,
)
from tests.private_redis import private_redis

SHARED_REDIS = "redis://127.0.0.1:6379/12"


def request_from(peer: str | None, *forwarded: str) -> Request:
    headers = [(b"x-forwarded-for", value.encode()) for value in forwarded]
    scope = {
        "type": "http",
        "method": "GET",
        "path": "/api/v1/repositories",
        "headers": headers,
        "client": (peer, 50000) if peer is not None else None,
    }
    return Request(scope)


PROXIES = ClientAddress(["10.0.0.0/8", "127.0.0.1"])


@pytest.mark.parametrize(
    ("peer", "forwarded", "expected"),
    [
        ("10.0.0.1", ["203.0.113.7"], "203.0.113.7"),
        ("10.0.0.1", ["203.0.113.7, 10.0.0.2"], "203.0.113.7"),  # a second proxy skipped
        ("10.0.0.1", ["198.51.100.1, 203.0.113.7"], "203.0.113.7"),  # what the client wrote
        ("10.0.0.1", ["198.51.100.1", "203.0.113.7"], "203.0.113.7"),  # two headers, in order
        ("10.0.0.1", ["10.0.0.3, 10.0.0.2"], "10.0.0.3"),  # only proxies: the farthest one
        ("10.0.0.1", [], "10.0.0.1"),  # nothing forwarded: the proxy itself
        ("10.0.0.1", ["203.0.113.7, not-an-address"], "10.0.0.1"),  # malformed: stop there
        ("10.0.0.1", ["not-an-address, 203.0.113.7"], "203.0.113.7"),
        ("10.0.0.1", ["203.0.113.7:4711"], "10.0.0.1"),  # a port is not an address
        ("10.0.0.1", ["2001:DB8::1"], "2001:db8::1"),  # written canonically
        ("::ffff:127.0.0.1", ["203.0.113.7"], "203.0.113.7"),  # a mapped IPv4 peer
        ("192.0.2.9", ["203.0.113.7"], "192.0.2.9"),  # an untrusted peer's header is ignored
    ],
)
def test_forwarded_for_is_believed_only_from_a_trusted_peer(
    peer: str, forwarded: list[str], expected: str
) -> None:
    assert PROXIES.of(request_from(peer, *forwarded)) == expected


def test_without_trusted_proxies_the_peer_is_the_client() -> None:
    addresses = ClientAddress([])
    assert addresses.of(request_from("127.0.0.1", "203.0.113.7")) == "127.0.0.1"
    assert addresses.of(request_from("::ffff:192.0.2.1")) == "192.0.2.1"
    assert addresses.of(request_from(None, "203.0.113.7")) is None
    assert addresses.of(request_from("testclient", "203.0.113.7")) == "testclient"


def test_failures_are_counted_per_ipv4_address_and_per_ipv6_64() -> None:
    assert address_bucket("203.0.113.7") == "203.0.113.7"
    assert address_bucket("2001:db8:1:2:aaaa::1") == address_bucket("2001:db8:1:2:bbbb::9")
    assert address_bucket("2001:db8:1:2::1") != address_bucket("2001:db8:1:3::1")
    assert address_bucket(None) == "unknown"


def test_a_budget_refuses_the_request_past_it_with_the_seconds_to_wait() -> None:
    limits = RateLimits("3/minute")
    assert [limits.spend("key", "1") for _ in range(3)] == [None, None, None]
    wait = limits.spend("key", "1")
    assert wait is not None
    assert wait == int(wait)
    assert 1 <= wait <= 60
    assert limits.spend("key", "2") is None  # another bucket has its own budget


def test_checking_a_budget_spends_nothing() -> None:
    limits = RateLimits("2/minute")
    for _ in range(5):
        assert limits.exhausted("failed", "192.0.2.1") is None
    limits.spend("failed", "192.0.2.1")
    assert limits.exhausted("failed", "192.0.2.1") is None
    limits.spend("failed", "192.0.2.1")
    assert limits.exhausted("failed", "192.0.2.1") is not None


def test_processes_on_one_redis_share_a_budget_and_deployments_do_not() -> None:
    deployment = budget_namespace(f"sqlite:////srv/{secrets.token_hex(8)}/epicstar.db")
    other = budget_namespace(f"sqlite:////srv/{secrets.token_hex(8)}/epicstar.db")
    first = RateLimits("3/minute", shared_storage(SHARED_REDIS, deployment))
    second = RateLimits("3/minute", shared_storage(SHARED_REDIS, deployment))
    elsewhere = RateLimits("3/minute", shared_storage(SHARED_REDIS, other))

    assert [first.spend("key", "1"), second.spend("key", "1"), first.spend("key", "1")] == [
        None,
        None,
        None,
    ]
    assert second.spend("key", "1") is not None
    assert first.spend("key", "1") is not None
    assert elsewhere.spend("key", "1") is None
    assert first.shared
    assert second.shared


def test_the_namespace_ignores_the_database_password() -> None:
    with_password = budget_namespace("postgresql://epicstar:one-password@db:5432/epicstar")
    other_password = budget_namespace("postgresql://epicstar:other-password@db:5432/epicstar")
    assert with_password == other_password
    assert "password" not in with_password
    assert with_password != budget_namespace("postgresql://epicstar@db:5432/elsewhere")


def test_a_queue_that_is_not_redis_keeps_budgets_in_memory() -> None:
    assert shared_storage(None, "n") is None
    assert shared_storage("postgresql://db/queue", "n") is None
    assert shared_storage("sqlite:///queue.db", "n") is None
    assert shared_storage("rediss://cache:6380/0", "n") is not None


def test_when_redis_goes_away_budgets_are_kept_in_memory_until_it_answers_again(
    tmp_path: Path,
) -> None:
    with private_redis(tmp_path / "redis") as server, capture_logs() as logs:
        namespace = budget_namespace(f"sqlite:///{tmp_path}/epicstar.db")
        limits = RateLimits(
            "3/minute", shared_storage(server.url, namespace), shared_retry_seconds=0.5
        )
        assert limits.spend("key", "1") is None
        assert limits.shared

        server.stop()
        started = time.monotonic()
        answers = [limits.spend("key", "1") for _ in range(4)]
        assert time.monotonic() - started < 2.0
        assert answers[:3] == [None, None, None]  # this process's own budget from now on
        assert answers[3] is not None
        assert not limits.shared
        assert [entry["event"] for entry in logs].count("api.rate_limits_local") == 1

        server.start()
        time.sleep(0.6)
        assert limits.spend("key", "2") is None
        assert limits.shared
        other = RateLimits("3/minute", shared_storage(server.url, namespace))
        assert other.spend("key", "2") is None
        assert other.spend("key", "2") is None
        assert other.spend("key", "2") is not None  # the first process's request counted
        assert "api.rate_limits_shared" in [entry["event"] for entry in logs]


@pytest.fixture
def silent_server() -> Iterator[str]:
    """A Redis URL whose port accepts connections and never answers."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        yield f"redis://127.0.0.1:{listener.getsockname()[1]}/0"


def test_a_redis_that_never_answers_holds_a_request_up_for_its_timeout_at_most(
    silent_server: str,
) -> None:
    limits = RateLimits("3/minute", shared_storage(silent_server, "n"))
    started = time.monotonic()
    assert limits.spend("key", "1") is None
    assert time.monotonic() - started < REDIS_TIMEOUT_SECONDS + 1.0
    started = time.monotonic()
    for _ in range(2):
        assert limits.spend("key", "1") is None
    assert limits.spend("key", "1") is not None
    assert time.monotonic() - started < 0.2  # Redis is not asked again for a while


def test_spending_starts_no_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[str] = []
    original = threading.Thread.start

    def counting_start(thread: threading.Thread) -> None:
        started.append(thread.name)
        original(thread)

    limits = RateLimits("100/minute")
    monkeypatch.setattr(threading.Thread, "start", counting_start)
    for _ in range(5):
        assert limits.spend("key", "1") is None
        time.sleep(0.015)  # longer than the library's own expiry timer lives
    assert started == []


def test_expired_entries_are_dropped_by_the_requests() -> None:
    storage = InlineExpiryMemoryStorage()
    limiter = MovingWindowRateLimiter(storage)
    rate = parse("2/second")
    assert limiter.hit(rate, "a")
    assert limiter.hit(rate, "a")
    assert not limiter.hit(rate, "a")
    time.sleep(1.1)
    assert limiter.hit(rate, "b")  # this request drops what has expired
    assert not storage.events.get(rate.key_for("a"))
    assert limiter.hit(rate, "a")
