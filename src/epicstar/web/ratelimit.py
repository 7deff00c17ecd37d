"""Request budgets (``EPICSTAR_API_RATE_LIMIT``) and the client address they are kept for.

The budgets are moving windows (the ``limits`` library): per key, and per client address for
requests that fail authentication. They live in memory for one process, or in Redis when
``EPICSTAR_QUEUE_URL`` is Redis, so several ``serve`` processes share one budget. The Redis
keys start with a hash of the database URL (its password left out): deployments sharing one
Redis never share a budget, whatever their key ids.

Should Redis stop answering, budgets are kept in this process's memory instead (a warning is
logged once) and Redis is tried again every :data:`SHARED_RETRY_SECONDS`: a request is never
refused, nor held up for long, because the shared store is down.
"""

from __future__ import annotations

import hashlib
import ipaddress
import math
import threading
import time
from collections.abc import Callable, Sequence
from typing import TypeVar
from urllib.parse import urlsplit

import structlog
from limits import RateLimitItem, parse
from limits.errors import StorageError
from limits.storage import MemoryStorage, RedisStorage, Storage
from limits.strategies import MovingWindowRateLimiter
from starlette.requests import Request

from epicstar.state.database import describe_url

__all__ = [
    "SHARED_RETRY_SECONDS",
    "ClientAddress",
    "InlineExpiryMemoryStorage",
    "RateLimits",
    "address_bucket",
    "budget_namespace",
    "shared_storage",
]

SHARED_RETRY_SECONDS = 10.0
"""Seconds budgets stay in memory after Redis failed to answer, before Redis is tried again."""
REDIS_TIMEOUT_SECONDS = 2.0
"""How long one request may wait for Redis before its budget is kept in memory: long enough
that a busy machine (seen: 0.5 s was missed under load) does not split a shared budget."""
IPV6_BUCKET_PREFIX = 64
"""Failed requests from IPv6 addresses are counted per /64: one host often holds all of it."""

_log = structlog.get_logger("epicstar.web")
_T = TypeVar("_T")

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def budget_namespace(database_url: str) -> str:
    """What tells this deployment's budgets apart in a shared Redis: a hash of its database
    URL (normalised, without the password)."""
    return hashlib.sha256(describe_url(database_url).encode()).hexdigest()[:16]


def shared_storage(queue_url: str | None, namespace: str) -> Storage | None:
    """Redis storage for the budgets when the queue is Redis, else None (memory only)."""
    if not queue_url or urlsplit(queue_url).scheme.split("+", 1)[0] not in ("redis", "rediss"):
        return None
    return RedisStorage(
        queue_url,
        key_prefix=f"epicstar:api-budget:{namespace}",
        wrap_exceptions=True,
        socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
        socket_timeout=REDIS_TIMEOUT_SECONDS,
    )


class InlineExpiryMemoryStorage(MemoryStorage):
    """``limits``' memory storage without its timer thread.

    The library drops expired entries from a timer thread of 10 ms that it starts again on
    any request finding none alive: at a few requests a second, nearly every request starts
    a thread and waits for it to run, milliseconds when the CPU is busy. Here the requests
    drop them themselves, at most once a second; a moving window reads its entries' times,
    so when they are dropped changes only the memory they take.
    """

    EXPIRY_INTERVAL = 1.0

    def __init__(self) -> None:
        self._last_expiry = time.monotonic()
        super().__init__()

    def _MemoryStorage__schedule_expiry(self) -> None:  # replaces the library's private hook
        now = time.monotonic()
        if now - self._last_expiry >= self.EXPIRY_INTERVAL:
            self._last_expiry = now
            self._MemoryStorage__expire_events()  # type: ignore[attr-defined]


class RateLimits:
    """Moving-window budgets of ``rate`` requests, in ``shared`` storage when given."""

    def __init__(
        self,
        rate: str,
        shared: Storage | None = None,
        *,
        shared_retry_seconds: float = SHARED_RETRY_SECONDS,
    ) -> None:
        self.limit: RateLimitItem = parse(rate)
        self._local = MovingWindowRateLimiter(InlineExpiryMemoryStorage())
        self._shared = MovingWindowRateLimiter(shared) if shared is not None else None
        self._retry_seconds = shared_retry_seconds
        self._shared_down_until = 0.0
        self._shared_down = False
        self._state_lock = threading.Lock()

    @property
    def shared(self) -> bool:
        """Budgets are kept in the shared store now (not in memory)."""
        return self._shared is not None and not self._shared_down

    def spend(self, *bucket: str) -> float | None:
        """Count one request against ``bucket``; None when allowed, else seconds to wait."""

        def operation(limiter: MovingWindowRateLimiter) -> float | None:
            if limiter.hit(self.limit, *bucket):
                return None
            return self._wait(limiter, bucket)

        return self._with_limiter(operation)

    def exhausted(self, *bucket: str) -> float | None:
        """Seconds to wait when ``bucket`` has nothing left (counting nothing), else None."""

        def operation(limiter: MovingWindowRateLimiter) -> float | None:
            if limiter.test(self.limit, *bucket):
                return None
            return self._wait(limiter, bucket)

        return self._with_limiter(operation)

    def _wait(self, limiter: MovingWindowRateLimiter, bucket: tuple[str, ...]) -> float:
        """Whole seconds until the oldest request in the window leaves it (at least 1)."""
        reset = limiter.get_window_stats(self.limit, *bucket).reset_time
        return max(1.0, float(math.ceil(reset - time.time())))

    def _with_limiter(self, operation: Callable[[MovingWindowRateLimiter], _T]) -> _T:
        shared = self._shared
        if shared is not None and time.monotonic() >= self._shared_down_until:
            try:
                result = operation(shared)
            except StorageError as error:
                self._shared_failed(error)
            else:
                self._shared_answered()
                return result
        return operation(self._local)

    def _shared_failed(self, error: StorageError) -> None:
        with self._state_lock:
            self._shared_down_until = time.monotonic() + self._retry_seconds
            first = not self._shared_down
            self._shared_down = True
        if first:
            cause = error.storage_error
            _log.warning(
                "api.rate_limits_local",
                reason="Redis does not answer; budgets are kept in this process until it does",
                error=type(cause).__name__,
            )

    def _shared_answered(self) -> None:
        if not self._shared_down:
            return
        with self._state_lock:
            recovered, self._shared_down = self._shared_down, False
        if recovered:
            _log.info("api.rate_limits_shared", reason="Redis answers again")


def address_bucket(address: str | None) -> str:
    """Whose failures a request's are: its IPv4 address, or its IPv6 address's /64."""
    if address is None:
        return "unknown"
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        return str(ipaddress.IPv6Network((ip, IPV6_BUCKET_PREFIX), strict=False))
    return str(ip)


def _parse_ip(text: str) -> IPAddress | None:
    """An address in its canonical form (an IPv4-mapped IPv6 address as IPv4), or None."""
    try:
        ip = ipaddress.ip_address(text.strip())
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


class ClientAddress:
    """The client's address: the peer's, or, when the peer is a trusted proxy, the nearest
    address in ``X-Forwarded-For`` that is not itself a trusted proxy.

    ``X-Forwarded-For`` is read from its right end (the hop the trusted peer added) towards
    its left; a malformed hop ends the walk at the last trusted hop, since nothing to its left
    can be told apart from what the client made up. Without trusted proxies the header is
    ignored, so a client cannot choose its own budget.
    """

    def __init__(self, trusted: Sequence[str]) -> None:
        self._trusted: list[IPNetwork] = [
            ipaddress.ip_network(item.strip(), strict=False) for item in trusted
        ]

    def _is_trusted(self, ip: IPAddress) -> bool:
        return any(ip in network for network in self._trusted)

    def from_trusted_proxy(self, request: Request) -> bool:
        """Whether the peer itself is a trusted proxy."""
        if request.client is None:
            return False
        peer = _parse_ip(request.client.host)
        return peer is not None and self._is_trusted(peer)

    def of(self, request: Request) -> str | None:
        if request.client is None:
            return None
        peer = _parse_ip(request.client.host)
        if peer is None:
            return request.client.host  # not an IP (a test client's name): never trusted
        if not self._trusted or not self._is_trusted(peer):
            return str(peer)
        hops = [
            hop
            for header in request.headers.getlist("x-forwarded-for")
            for hop in header.split(",")
        ]
        client = peer
        for text in reversed(hops):
            hop = _parse_ip(text)
            if hop is None:
                break
            client = hop
            if not self._is_trusted(hop):
                break
        return str(client)
