"""GitHub rate-limit headers and the waits they call for.

GitHub's rules (research/github.md §2):

* every response carries ``x-ratelimit-limit``, ``-remaining``, ``-used``,
  ``-reset`` (UTC epoch seconds) and ``-resource``;
* a rate-limited answer is a ``403`` or ``429``. If it has ``retry-after``, wait
  that many seconds; else if ``x-ratelimit-remaining`` is ``0``, wait until
  ``x-ratelimit-reset``; otherwise (a secondary limit without headers) wait at
  least a minute, then back off exponentially.

This module only computes; the client decides whether to sleep or give up.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from epicstar.http_client import retry_after_seconds

__all__ = [
    "SECONDARY_MIN_WAIT",
    "RateLimit",
    "Throttle",
    "throttle_for",
]

SECONDARY_MIN_WAIT = 60.0
"""Seconds to wait after a secondary limit that names no wait (doubled on each repeat)."""

RESET_MARGIN = 1.0
"""Seconds added after ``x-ratelimit-reset`` so the retry lands after the reset."""

ThrottleKind = Literal["retry-after", "reset", "secondary"]


@dataclass(frozen=True)
class RateLimit:
    """The primary rate-limit budget as GitHub last reported it."""

    limit: int
    remaining: int
    used: int
    reset: datetime
    resource: str | None

    @classmethod
    def from_headers(cls, headers: Mapping[str, str]) -> RateLimit | None:
        """Read ``x-ratelimit-*``; ``None`` when they are absent or malformed."""
        lowered = {k.lower(): v for k, v in headers.items()}
        try:
            limit = int(lowered["x-ratelimit-limit"])
            remaining = int(lowered["x-ratelimit-remaining"])
            reset = datetime.fromtimestamp(int(lowered["x-ratelimit-reset"]), UTC)
        except (KeyError, ValueError, OverflowError, OSError):
            return None
        try:
            used = int(lowered["x-ratelimit-used"])
        except (KeyError, ValueError):
            used = max(limit - remaining, 0)
        return cls(
            limit=limit,
            remaining=remaining,
            used=used,
            reset=reset,
            resource=lowered.get("x-ratelimit-resource") or None,
        )

    def exhausted_wait(self, now: float) -> float | None:
        """Seconds to wait before the next request, if this budget is spent and not yet reset."""
        if self.remaining > 0:
            return None
        wait = self.reset.timestamp() - now
        if wait <= 0:
            return None
        return wait + RESET_MARGIN


@dataclass(frozen=True)
class Throttle:
    """A rate-limited answer: how long to wait and which rule said so."""

    wait: float
    kind: ThrottleKind


def _mentions_rate_limit(message: str | None) -> bool:
    if not message:
        return False
    text = message.lower()
    return "rate limit" in text or "abuse" in text


def throttle_for(
    status: int,
    headers: Mapping[str, str],
    message: str | None,
    *,
    now: float,
    secondary_count: int = 0,
) -> Throttle | None:
    """Decide whether a response is a rate limit, and how long to wait if so.

    ``message`` is the ``message`` field of GitHub's JSON error body.
    ``secondary_count`` is how many header-less secondary waits this request
    already made; each one doubles the wait (60 s, 120 s, 240 s, ...).
    Returns ``None`` for anything that is not a rate-limit answer (for example
    a 403 caused by missing permissions).
    """
    if status not in (403, 429):
        return None
    lowered = {k.lower(): v for k, v in headers.items()}

    if "retry-after" in lowered:
        seconds = retry_after_seconds(lowered, now)
        if seconds is not None:
            return Throttle(seconds, "retry-after")

    if lowered.get("x-ratelimit-remaining", "").strip() == "0":
        try:
            reset = int(lowered["x-ratelimit-reset"])
        except (KeyError, ValueError):
            pass
        else:
            return Throttle(max(reset - now, 0.0) + RESET_MARGIN, "reset")
        return Throttle(SECONDARY_MIN_WAIT * 2**secondary_count, "secondary")

    if status == 429 or _mentions_rate_limit(message):
        return Throttle(SECONDARY_MIN_WAIT * 2**secondary_count, "secondary")
    return None
