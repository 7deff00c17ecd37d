"""``epicstar agent test``: is the server reachable, is the key an ``agent`` key, does GitHub
take the token? One line each; nothing is changed anywhere."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from epicstar.agent.config import AgentSettings
from epicstar.agent.server import AgentServer, ServerError
from epicstar.config import ConfigError
from epicstar.discovery import GitHubClient, GitHubError
from epicstar.retry import RetryPolicy
from epicstar.sync.context import user_agent

_ONCE = RetryPolicy(tries=1)
"""A check answers at once: a failure is reported, not retried."""


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    message: str

    def line(self) -> str:
        return f"{'ok' if self.ok else 'FAILED'}  {self.name}: {self.message}"


def run_checks(settings: AgentSettings) -> list[Check]:
    server = _check("server", lambda: _server(settings))
    if server.ok:
        key = _check("key", lambda: _key(settings))
    else:
        key = Check("key", False, "not checked: the server did not answer")
    return [server, key, _check("GitHub", lambda: _github(settings))]


def _check(name: str, probe: Callable[[], str]) -> Check:
    try:
        return Check(name, True, probe())
    except (ConfigError, ServerError, GitHubError) as error:
        return Check(name, False, " ".join(str(error).split()))


def _client(settings: AgentSettings) -> AgentServer:
    if not settings.server_url:
        settings.require_server()  # raises, naming the setting
    assert settings.server_url is not None
    key = settings.api_key.get_secret_value() if settings.api_key else ""
    return AgentServer(settings.server_url, key, timeout=settings.http_timeout, retry=_ONCE)


def _server(settings: AgentSettings) -> str:
    with _client(settings) as server:
        server.health()
    return f"{settings.server_url} is reachable"


def _key(settings: AgentSettings) -> str:
    settings.require_server()
    with _client(settings) as server:
        server.check_key()
    return "EPICSTAR_API_KEY is valid and of scope 'agent'"


def _github(settings: AgentSettings) -> str:
    token = settings.require_github_token()
    with GitHubClient(
        settings.github_api_url,
        token,
        user_agent=user_agent(),
        max_wait=0,
        max_retries=0,
        retry=_ONCE,
        timeout=settings.http_timeout,
    ) as github:
        login = github.token_login()
        budget = github.rate_limit
    message = f"the token is valid for {login}"
    if budget is not None:
        message += (
            f"; rate limit {budget.remaining}/{budget.limit} left, "
            f"resets at {budget.reset.strftime('%H:%M:%S')} UTC"
        )
    return message
