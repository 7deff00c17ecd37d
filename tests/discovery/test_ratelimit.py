"""The rate-limit rules of research/github.md §2, as pure functions."""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import format_datetime

import pytest

from epicstar.discovery.ratelimit import (
    SECONDARY_MIN_WAIT,
    RateLimit,
    Throttle,
    throttle_for,
)
from tests.discovery.fakes import NOW, rate_headers


def test_rate_limit_from_headers():
    limit = RateLimit.from_headers(rate_headers(remaining=12, reset=NOW + 60, resource="search"))
    assert limit == RateLimit(
        limit=5000,
        remaining=12,
        used=4988,
        reset=datetime.fromtimestamp(int(NOW + 60), UTC),
        resource="search",
    )


def test_rate_limit_headers_are_case_insensitive_and_used_is_derived():
    headers = {"X-RateLimit-Limit": "60", "X-RateLimit-Remaining": "59", "X-RateLimit-Reset": "1"}
    limit = RateLimit.from_headers(headers)
    assert limit is not None
    assert (limit.limit, limit.remaining, limit.used, limit.resource) == (60, 59, 1, None)


@pytest.mark.parametrize(
    "headers",
    [{}, {"x-ratelimit-limit": "5000"}, {**rate_headers(), "x-ratelimit-remaining": "many"}],
)
def test_missing_or_malformed_headers_give_none(headers: dict[str, str]):
    assert RateLimit.from_headers(headers) is None


def test_exhausted_wait():
    spent = RateLimit.from_headers(rate_headers(remaining=0, reset=NOW + 10))
    assert spent is not None
    assert spent.exhausted_wait(NOW) == 11.0
    assert spent.exhausted_wait(NOW + 10) is None
    left = RateLimit.from_headers(rate_headers(remaining=1, reset=NOW + 10))
    assert left is not None
    assert left.exhausted_wait(NOW) is None


@pytest.mark.parametrize("status", [200, 401, 404, 500])
def test_only_403_and_429_can_be_rate_limits(status: int):
    headers = {"retry-after": "5", **rate_headers(remaining=0)}
    assert throttle_for(status, headers, "rate limit", now=NOW) is None


def test_retry_after_wins():
    headers = {"retry-after": "17", **rate_headers(remaining=0, reset=NOW + 500)}
    assert throttle_for(403, headers, None, now=NOW) == Throttle(17.0, "retry-after")


def test_retry_after_as_http_date():
    when = datetime.fromtimestamp(NOW + 42, UTC)
    headers = {"Retry-After": format_datetime(when, usegmt=True)}
    assert throttle_for(429, headers, None, now=NOW) == Throttle(42.0, "retry-after")


def test_remaining_zero_waits_for_reset_plus_a_second():
    headers = rate_headers(remaining=0, reset=NOW + 300)
    assert throttle_for(403, headers, "API rate limit exceeded", now=NOW) == Throttle(
        301.0, "reset"
    )


def test_reset_in_the_past_still_waits_a_second():
    headers = rate_headers(remaining=0, reset=NOW - 5)
    assert throttle_for(403, headers, None, now=NOW) == Throttle(1.0, "reset")


def test_secondary_limit_message_without_headers_doubles():
    message = (
        "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."
    )
    waits = [
        throttle_for(403, rate_headers(remaining=4000), message, now=NOW, secondary_count=n)
        for n in range(3)
    ]
    assert waits == [
        Throttle(SECONDARY_MIN_WAIT, "secondary"),
        Throttle(SECONDARY_MIN_WAIT * 2, "secondary"),
        Throttle(SECONDARY_MIN_WAIT * 4, "secondary"),
    ]
    assert SECONDARY_MIN_WAIT >= 60


def test_abuse_detection_wording_counts_as_secondary_limit():
    message = "You have triggered an abuse detection mechanism. Please wait a few minutes."
    assert throttle_for(403, {}, message, now=NOW) == Throttle(60.0, "secondary")


def test_permission_403_is_not_a_rate_limit():
    message = "Resource not accessible by personal access token"
    assert throttle_for(403, rate_headers(remaining=4000), message, now=NOW) is None


def test_bare_429_is_a_secondary_limit():
    assert throttle_for(429, {}, None, now=NOW) == Throttle(60.0, "secondary")
