"""What the API's routes need from the process: settings, database, queue, GitHub."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from fastapi import Request

from epicstar.config import Settings
from epicstar.discovery import GitHubClient
from epicstar.discovery.ratelimit import RateLimit
from epicstar.state.database import Database


class ApiWork(Protocol):
    """Where actions hand work to the workers (:class:`epicstar.queue.jobs.Jobs`)."""

    def mirror_now(self, github_id: int, *, trigger: str, force: bool = False) -> None: ...

    def poll_now(self, *, full: bool) -> None: ...


@dataclass
class ApiContext:
    settings: Settings
    database: Database
    github: Callable[[], GitHubClient]
    """A GitHub client for one request (closed by the caller)."""
    work: ApiWork | None = None
    """None: nothing runs in this process; actions only mark work due for the tick."""
    queue_depth: Callable[[], int] | None = None
    rate_limit: Callable[[], RateLimit | None] | None = None


def api_context(request: Request) -> ApiContext:
    context: ApiContext = request.app.state.api
    return context
