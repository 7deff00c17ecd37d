"""Fixtures for GitHub client tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from epicstar.discovery import GitHubClient
from tests.discovery.fakes import API, TOKEN, FakeTime, Handler


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


@pytest.fixture
def make_client(fake_time: FakeTime) -> Iterator[Callable[..., GitHubClient]]:
    clients: list[GitHubClient] = []

    def make(handler: Handler, token: str | None = TOKEN, **kwargs: Any) -> GitHubClient:
        client = GitHubClient(
            API,
            token,
            transport=httpx.MockTransport(handler),
            sleep=fake_time.sleep,
            clock=fake_time.clock,
            **kwargs,
        )
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()
