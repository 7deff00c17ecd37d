"""Request budgets through a real ``epicstar serve`` with ``EPICSTAR_API_RATE_LIMIT=5/minute``:
per key; per client address for requests that fail authentication (then even a valid key
from that address waits); that address taken from ``X-Forwarded-For`` only behind a trusted
proxy; one budget for several processes sharing a Redis queue, one each without; and a
Redis gone away refuses nothing.

Budgets are kept on SQLite only: the database plays no part in them.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.api.conftest import Api, api_world
from tests.api.conftest import serving as served_api
from tests.e2e.conftest import World
from tests.e2e.helpers import wait_for
from tests.private_redis import private_redis

RATE = "5/minute"
BAD_KEYS = [
    None,
    "not-a-key",
    "esk_zzzzzzzzzzzz_" + "A" * 43,
    "esk_yyyyyyyyyyyy_" + "B" * 43,
    "esk_xxxxxxxxxxxx_" + "C" * 43,
]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with api_world("sqlite", tmp_path_factory) as world:
        yield world


@contextlib.contextmanager
def serving(world: World, **env: str) -> Iterator[Api]:
    """A serve with a small budget and no workers (budgets are all that is looked at)."""
    with served_api(
        world, {"EPICSTAR_API_RATE_LIMIT": RATE, "EPICSTAR_WORKERS": "0", **env}
    ) as api:
        yield api


@pytest.fixture(scope="module")
def proxied(world: World) -> Iterator[Api]:
    """A serve behind a trusted proxy (the tests, at 127.0.0.1): each test forwards for an
    address of its own, so each has its own budget of failures."""
    with serving(world, EPICSTAR_TRUSTED_PROXIES="127.0.0.1") as api:
        yield api


def forwarded(address: str) -> dict[str, str]:
    return {"X-Forwarded-For": address}


def assert_refused_for_a_while(response: httpx.Response) -> None:
    assert response.status_code == 429, response.text
    wait = response.headers["retry-after"]
    assert wait.isdigit(), wait
    assert 0 < int(wait) <= 60
    assert response.json()["detail"]


def test_the_request_past_a_keys_budget_gets_429_and_other_keys_are_unaffected(
    proxied: Api,
) -> None:
    spent, other = proxied.key("read"), proxied.key("read")
    for _ in range(5):
        assert proxied.get("/repositories", spent).status_code == 200

    refused = proxied.get("/repositories", spent)

    assert_refused_for_a_while(refused)
    assert "request budget" in refused.json()["detail"]
    assert spent not in refused.text
    for _ in range(5):
        assert proxied.get("/repositories", other).status_code == 200
    assert proxied.get("/repositories", other).status_code == 429


def test_failures_are_limited_per_address_and_then_even_a_valid_key_from_it_waits(
    proxied: Api,
) -> None:
    guesser, neighbour = forwarded("198.51.100.10"), forwarded("198.51.100.11")
    good = proxied.key("read")
    for bad in BAD_KEYS:
        assert proxied.get("/repositories", bad, headers=guesser).status_code == 401

    assert_refused_for_a_while(proxied.get("/repositories", BAD_KEYS[2], headers=guesser))
    refused = proxied.get("/repositories", good, headers=guesser)
    assert_refused_for_a_while(refused)
    assert "invalid key from this address" in refused.json()["detail"]

    # Another forwarded address has a budget of its own.
    assert proxied.get("/repositories", BAD_KEYS[2], headers=neighbour).status_code == 401
    assert proxied.get("/repositories", good, headers=neighbour).status_code == 200


def test_a_key_is_recorded_as_used_from_the_forwarded_address(proxied: Api) -> None:
    key = proxied.key("read", name="behind the proxy")
    assert proxied.get("/repositories", key, headers=forwarded("203.0.113.5")).status_code == 200

    def last_used_ip() -> str | None:
        listed = proxied.world.cli("keys", "list", "--json")
        rows = [row for row in json.loads(listed.stdout) if row["name"] == "behind the proxy"]
        return rows[0]["last_used_ip"] if rows else None

    wait_for(lambda: last_used_ip() == "203.0.113.5", timeout=15)
    logged = [line for line in proxied.served.events("api request") if line["key_prefix"]]
    assert logged[-1]["client"] == "203.0.113.5"


def test_forwarded_for_from_a_peer_not_trusted_is_ignored(world: World) -> None:
    with serving(world, EPICSTAR_TRUSTED_PROXIES="192.0.2.0/24") as api:
        good = api.key("read")
        for number, bad in enumerate(BAD_KEYS):
            headers = forwarded(f"198.51.100.{number + 20}")
            assert api.get("/repositories", bad, headers=headers).status_code == 401

        assert_refused_for_a_while(
            api.get("/repositories", BAD_KEYS[2], headers=forwarded("198.51.100.99"))
        )
        assert_refused_for_a_while(
            api.get("/repositories", good, headers=forwarded("198.51.100.98"))
        )
        clients = {line["client"] for line in api.served.events("api request")}
        assert clients == {"127.0.0.1"}


@pytest.mark.parametrize("store", ["redis", "memory"])
def test_processes_share_one_budget_through_redis_and_only_through_it(
    world: World, tmp_path: Path, store: str, request: pytest.FixtureRequest
) -> None:
    queue = (
        {"EPICSTAR_QUEUE_URL": str(request.getfixturevalue("redis_queue_url"))}
        if store == "redis"
        else {"EPICSTAR_QUEUE_URL": f"sqlite:///{tmp_path / 'queue.db'}"}
    )
    with serving(world, **queue) as first, serving(world, **queue) as second:
        key = first.key("read")
        answers = [
            (first if turn % 2 == 0 else second).get("/repositories", key).status_code
            for turn in range(10)
        ]
        failures = [
            (first if turn % 2 == 0 else second).get("/repositories", BAD_KEYS[2]).status_code
            for turn in range(8)
        ]

    if store == "redis":
        assert answers == [200] * 5 + [429] * 5
        assert failures == [401] * 5 + [429] * 3
    else:
        assert answers == [200] * 10  # five in each process
        assert failures == [401] * 8


def test_a_redis_gone_away_refuses_nothing_and_budgets_go_on_in_the_process(
    world: World, tmp_path: Path
) -> None:
    with (
        private_redis(tmp_path / "redis") as redis,
        serving(world, EPICSTAR_QUEUE_URL=redis.url) as api,
    ):
        key = api.key("read")
        assert api.get("/repositories", key).status_code == 200

        redis.stop()
        answers = []
        for _ in range(6):
            started = time.monotonic()
            answers.append(api.get("/repositories", key))
            assert time.monotonic() - started < 2.0

        assert [answer.status_code for answer in answers] == [200] * 5 + [429]
        assert_refused_for_a_while(answers[-1])
        warnings = api.served.events("api.rate_limits_local")
        assert len(warnings) == 1
        assert warnings[0]["level"] == "warning"
        assert "127.0.0.1" not in json.dumps(warnings[0])  # no URL: it could hold a password
