"""Everything one mirror pass needs, built once per run from the settings."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import structlog

from epicstar import __version__
from epicstar.config import Settings, SourceSettings
from epicstar.destination import OneDevClient
from epicstar.discovery import GitHubClient
from epicstar.discovery.hosts import same_origin
from epicstar.mirror.cache import RepoCache
from epicstar.mirror.credentials import HttpAuth, origin_of
from epicstar.retry import DEFAULT_RETRY, RetryPolicy
from epicstar.state.database import Database, open_database
from epicstar.state.models import utcnow
from epicstar.sync.holder import new_worker_id
from epicstar.sync.placement import ProjectPlacer

if TYPE_CHECKING:
    from epicstar.sync.mirror_pass import PassReport

log = structlog.get_logger("epicstar.sync")


class SyncEvents(Protocol):
    """What a pass or a poll tells the rest of the service (metrics, notifications).

    Called after the outcome is stored; an implementation must not raise.
    """

    def pass_finished(self, report: PassReport) -> None: ...

    def source_lost(self, github_id: int, full_name: str, state: str, reason: str) -> None: ...


class NoEvents:
    def pass_finished(self, report: PassReport) -> None:
        pass

    def source_lost(self, github_id: int, full_name: str, state: str, reason: str) -> None:
        pass


@dataclass
class SyncContext:
    settings: Settings
    db: Database
    github: GitHubClient
    onedev: OneDevClient
    clock: Callable[[], datetime] = utcnow
    worker_id: str = field(default_factory=new_worker_id)
    stopping: threading.Event = field(default_factory=threading.Event)
    """Set when the service shuts down: running git is stopped and passes give way."""
    stop_reason: str = "the service stopped"
    """What set ``stopping``, in the words the interrupted passes record."""
    described: frozenset[int] = frozenset()
    """Repositories the starred list described during this run's poll: their passes take
    that for GitHub's word, as fresh as asking again would be, and do not ask."""
    events: SyncEvents = field(default_factory=NoEvents)
    retry: RetryPolicy = DEFAULT_RETRY
    """How git steps are tried again after a failure that passes (the clients have their own)."""
    _token_withheld_from: set[str] = field(default_factory=set, init=False, repr=False)
    _token_withheld_lock: threading.Lock = field(
        default_factory=threading.Lock, init=False, repr=False
    )

    def __post_init__(self) -> None:
        self.placer = ProjectPlacer(self.onedev, self.settings.onedev_parent)

    @property
    def secrets(self) -> list[str]:
        return self.settings.secrets()

    def git_timeout(self, size_kb: int) -> float:
        return self.settings.git_timeout_for(size_kb)

    @property
    def lease(self) -> timedelta:
        """How long a pass's lease lasts unless renewed; it is renewed while the pass runs."""
        return timedelta(seconds=self.settings.lease_seconds)

    @property
    def lease_wait(self) -> timedelta:
        """How long a sync waits for a live pass elsewhere to release a repository's lease."""
        seconds = self.settings.lease_wait
        return self.lease if seconds is None else timedelta(seconds=seconds)

    @property
    def claim(self) -> timedelta:
        return claim_period(self.settings)

    def cache(self, github_id: int, size_kb: int) -> RepoCache:
        return repository_cache(self.settings, github_id, size_kb, cancel=self.stopping)

    def wiki_cache(self, github_id: int) -> RepoCache:
        return RepoCache(
            wiki_cache_path(self.settings, github_id),
            timeout=self.settings.git_timeout_for(0),
            redact=self.secrets,
            cancel=self.stopping,
        )

    def github_auth(self, url: str) -> HttpAuth | None:
        """The GitHub token for git or Git LFS at ``url`` (a clone URL), scoped to its origin;
        None without a token, and None for a URL that is not on GitHub's git host
        (``settings.github_git_origin``, derived from ``EPICSTAR_GITHUB_API_URL``): the token
        goes to GitHub alone, whatever host a repository's clone URL names. Such a URL is
        fetched without it, and a warning says so once per host."""
        token = self.settings.github_token
        if token is None:
            return None
        origin = origin_of(url)
        if not same_origin(origin, self.settings.github_git_origin):
            self._token_withheld(origin)
            return None
        return HttpAuth.basic(url, token.get_secret_value())

    def _token_withheld(self, origin: str) -> None:
        with self._token_withheld_lock:
            if origin in self._token_withheld_from:
                return
            self._token_withheld_from.add(origin)
        log.warning(
            "github.token_withheld",
            origin=origin,
            github_git_origin=self.settings.github_git_origin,
            detail="a clone URL names a host other than GitHub's git host: it is fetched "
            "without EPICSTAR_GITHUB_TOKEN (check EPICSTAR_GITHUB_API_URL)",
        )

    def onedev_auth(self) -> HttpAuth:
        url, token = self.settings.require_onedev()
        return HttpAuth.bearer(url, token)


def cache_path(settings: SourceSettings, github_id: int) -> Path:
    """Where a repository's bare cache lives: the workers' and the agent endpoint's alike."""
    return settings.cache_dir / f"{github_id}.git"


def wiki_cache_path(settings: SourceSettings, github_id: int) -> Path:
    """Where the bare cache of a repository's GitHub wiki lives, beside the repository's."""
    return settings.cache_dir / f"{github_id}.wiki.git"


def repository_cache(
    settings: SourceSettings,
    github_id: int,
    size_kb: int,
    *,
    cancel: threading.Event | None = None,
) -> RepoCache:
    """The bare cache of one repository: the server's workers', its agent endpoint's, or an
    agent's own (each under its data dir)."""
    return RepoCache(
        cache_path(settings, github_id),
        timeout=settings.git_timeout_for(size_kb),
        redact=settings.secrets(),
        cancel=cancel,
    )


def claim_period(settings: Settings) -> timedelta:
    """How long a repository handed to the queue waits before it is handed out again."""
    return max(timedelta(minutes=5), 5 * timedelta(seconds=settings.lease_seconds))


def user_agent() -> str:
    return f"epicstar/{__version__} (+https://github.com/epicstar/epicstar)"


@contextmanager
def open_context(
    settings: Settings,
    *,
    db: Database | None = None,
    stopping: threading.Event | None = None,
    events: SyncEvents | None = None,
) -> Iterator[SyncContext]:
    """Open the database (migrating it) and both API clients; close them afterwards."""
    onedev_url, onedev_token = settings.require_onedev()
    own_db = db is None
    database = db or open_database(settings)
    github_token = settings.github_token.get_secret_value() if settings.github_token else None
    stopping = stopping or threading.Event()
    sleep = interruptible_sleep(stopping)
    timeout = float(settings.http_timeout)
    try:
        with (
            GitHubClient(
                settings.github_api_url,
                github_token,
                user_agent=user_agent(),
                max_wait=float(settings.github_max_wait),
                sleep=sleep,
                timeout=timeout,
            ) as github,
            OneDevClient(onedev_url, onedev_token, sleep=sleep, timeout=timeout) as onedev,
        ):
            yield SyncContext(
                settings=settings,
                db=database,
                github=github,
                onedev=onedev,
                stopping=stopping,
                events=events or NoEvents(),
            )
    finally:
        if own_db:
            database.dispose()


class ServiceStopping(Exception):
    """A wait was cut short because the service is shutting down."""


def interruptible_sleep(stopping: threading.Event) -> Callable[[float], None]:
    """A ``time.sleep`` that raises :class:`ServiceStopping` once ``stopping`` is set."""

    def sleep(seconds: float) -> None:
        if stopping.wait(seconds):
            raise ServiceStopping("the service is shutting down")

    return sleep
