"""Request budgets (``EPICSTAR_API_RATE_LIMIT``): per key, and per client address for
requests that fail authentication, so guessing keys is throttled too.

The counters live in memory for one process, or in Redis when ``EPICSTAR_QUEUE_URL`` is
Redis, so several ``serve`` processes share one budget. Should Redis fail, requests are let
through (and a warning logged) rather than refused: the limit protects, it must not break.
"""

from __future__ import annotations

import ipaddress
import math
import time
from collections.abc import Sequence

import structlog
from limits import RateLimitItem, parse
from limits.storage import MemoryStorage, RedisStorage, Storage
from limits.strategies import MovingWindowRateLimiter
from starlette.requests import Request

_log = structlog.get_logger("epicstar.web")

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class RateLimits:
    def __init__(self, rate: str, queue_url: str | None = None) -> None:
        self.limit: RateLimitItem = parse(rate)
        storage: Storage
        if queue_url and queue_url.startswith(("redis://", "rediss://", "unix://")):
            storage = RedisStorage(queue_url, key_prefix="epicstar-api", wrap_exceptions=True)
        else:
            storage = MemoryStorage()
        self._limiter = MovingWindowRateLimiter(storage)

    def spend(self, *bucket: str) -> float | None:
        """Count one request against ``bucket``; None when allowed, else seconds to wait."""
        try:
            if self._limiter.hit(self.limit, *bucket):
                return None
        except Exception as error:  # the shared store is down: fail open
            _log.warning("rate limit not counted", error=type(error).__name__)
            return None
        return self._wait(bucket)

    def exhausted(self, *bucket: str) -> float | None:
        """Seconds to wait when ``bucket`` has nothing left (counting nothing), else None."""
        try:
            if self._limiter.test(self.limit, *bucket):
                return None
        except Exception as error:
            _log.warning("rate limit not checked", error=type(error).__name__)
            return None
        return self._wait(bucket)

    def _wait(self, bucket: tuple[str, ...]) -> float:
        try:
            reset = self._limiter.get_window_stats(self.limit, *bucket).reset_time
        except Exception:
            return float(self.limit.get_expiry())
        return max(1.0, float(math.ceil(reset - time.time())))


class ClientAddress:
    """The client's address: the peer's, or, when the peer is a trusted proxy, the nearest
    address in ``X-Forwarded-For`` that is not itself a trusted proxy."""

    def __init__(self, trusted: Sequence[str]) -> None:
        self._trusted: list[IPNetwork] = [
            ipaddress.ip_network(item, strict=False) for item in trusted
        ]

    def _is_trusted(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in self._trusted)

    def of(self, request: Request) -> str | None:
        peer = request.client.host if request.client is not None else None
        if peer is None or not self._trusted or not self._is_trusted(peer):
            return peer
        forwarded = [
            hop.strip()
            for header in request.headers.getlist("x-forwarded-for")
            for hop in header.split(",")
        ]
        client = peer
        for hop in reversed(forwarded):
            try:
                ipaddress.ip_address(hop)
            except ValueError:
                break  # a malformed hop: trust nothing further along
            client = hop
            if not self._is_trusted(hop):
                break
        return client
