"""Whose stars count: the configured user, or the token's login read once from GitHub."""

from __future__ import annotations

import threading
import time

import httpx
from pydantic import SecretStr

from epicstar.config import Settings
from epicstar.web import FixedIdentity, GitHubTokenIdentity, default_identity

TOKEN = "ghp_identity_test_token"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class FakeGitHub:
    def __init__(self, status: int = 200, body: object = None) -> None:
        self.status = status
        self.body = body if body is not None else {"login": "Octocat", "id": 1}
        self.requests: list[httpx.Request] = []
        self.lock = threading.Lock()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        with self.lock:
            self.requests.append(request)
        time.sleep(0.01)  # long enough for concurrent callers to overlap
        return httpx.Response(self.status, json=self.body)


def identity(github: FakeGitHub, clock: FakeClock | None = None) -> GitHubTokenIdentity:
    return GitHubTokenIdentity(
        "https://ghe.example.com/api/v3/",
        SecretStr(TOKEN),
        transport=httpx.MockTransport(github),
        clock=clock or FakeClock(),
    )


def test_the_tokens_login_is_read_once_and_kept() -> None:
    github = FakeGitHub()
    who = identity(github)
    assert [who.login() for _ in range(5)] == ["Octocat"] * 5
    assert len(github.requests) == 1
    request = github.requests[0]
    assert str(request.url) == "https://ghe.example.com/api/v3/user"
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert request.headers["X-GitHub-Api-Version"]
    assert TOKEN not in repr(who)


def test_concurrent_first_calls_make_one_request() -> None:
    github = FakeGitHub()
    who = identity(github)
    results: list[str | None] = []
    threads = [threading.Thread(target=lambda: results.append(who.login())) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == ["Octocat"] * 10
    assert len(github.requests) == 1


def test_a_failed_lookup_is_retried_only_after_a_pause() -> None:
    github = FakeGitHub(status=401, body={"message": "Bad credentials"})
    clock = FakeClock()
    who = identity(github, clock)
    assert who.login() is None
    assert who.login() is None
    assert len(github.requests) == 1
    clock.now += 301
    github.status, github.body = 200, {"login": "Octocat"}
    assert who.login() == "Octocat"
    assert len(github.requests) == 2


def test_unreachable_github_or_an_odd_answer_is_no_login() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    who = GitHubTokenIdentity(
        "https://api.github.com", SecretStr(TOKEN), transport=httpx.MockTransport(refuse)
    )
    assert who.login() is None
    for body in [["not", "an", "object"], {"login": ""}, {"id": 3}]:
        assert identity(FakeGitHub(body=body)).login() is None


def test_default_identity() -> None:
    assert default_identity(Settings()) is None
    assert default_identity(Settings(github_user="octocat", github_token=TOKEN)) is None
    token_only = default_identity(Settings(github_token=TOKEN))
    assert isinstance(token_only, GitHubTokenIdentity)
    assert FixedIdentity("x").login() == "x"
