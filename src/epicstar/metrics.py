"""Prometheus metrics: what happened (counters) and what is (gauges read at scrape time).

Each process makes one :class:`Metrics`, with its own registry (never prometheus_client's
global one, so tests make fresh ones). ``epicstar serve`` exposes it at ``GET /metrics``;
a process without the web app serves it on its own port with :meth:`Metrics.serve`.

Labels are bounded: a webhook's event name is kept only when it is one of
:data:`WEBHOOK_EVENTS` (``other`` otherwise), so no sender can create series at will.
The gauges are computed when scraped, from optional sources (database, queue, last GitHub
rate limit); a source that fails is left out of that scrape and counted in
``epicstar_scrape_errors_total{source}`` instead of failing the whole scrape.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Protocol
from wsgiref.simple_server import WSGIServer

import structlog
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    start_http_server,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from epicstar.closing import Closeable
from epicstar.discovery.ratelimit import RateLimit
from epicstar.mirror.rewrites import RewriteKind
from epicstar.state.database import Database
from epicstar.state.models import AttemptOutcome, Repository, RepoState, SyncStatus

__all__ = [
    "PASS_DURATION_BUCKETS",
    "WEBHOOK_EVENTS",
    "WEBHOOK_RESULTS",
    "Metrics",
    "MetricsServer",
    "QueueCounts",
    "StateCollector",
    "webhook_event",
    "webhook_result",
]

WEBHOOK_EVENTS = frozenset(
    {
        # acted on (epicstar.web.events)
        "ping",
        "push",
        "repository",
        "star",
        "watch",
        # what a hook sending "everything" about one's own repositories mostly adds
        "create",
        "delete",
        "fork",
        "installation",
        "installation_repositories",
        "member",
        "meta",
        "public",
        "release",
    }
)
"""``X-GitHub-Event`` values kept as the ``event`` label; anything else is ``other``."""

WEBHOOK_RESULTS = ("accepted", "ignored", "duplicate", "pong", "rejected", "unavailable")
"""The ``result`` label: a 2xx answer's ``status``; ``rejected`` (4xx), ``unavailable`` (5xx)."""

PASS_DURATION_BUCKETS = (
    0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0
)  # fmt: skip
"""Seconds: an unchanged repository costs one ``ls-remote`` (well under a second), a first
mirror of a large repository can take an hour."""

_OUTCOMES = tuple(outcome.value for outcome in AttemptOutcome)
REWRITE_KINDS = tuple(kind.value for kind in RewriteKind)
_log = structlog.get_logger("epicstar.metrics")


class QueueCounts(Protocol):
    """What the queue gauges read: a :class:`huey.Huey` has both."""

    def pending_count(self) -> int: ...

    def scheduled_count(self) -> int: ...


def webhook_event(event: str | None) -> str:
    """The ``event`` label for an ``X-GitHub-Event`` value (``other`` when unknown or absent)."""
    return event if event in WEBHOOK_EVENTS else "other"


def webhook_result(status_code: int, status: object = None) -> str:
    """The ``result`` label for an answer: its status code and its body's ``status``."""
    if status_code >= 500:
        return "unavailable"
    if status_code >= 400:
        return "rejected"
    if isinstance(status, str) and status in WEBHOOK_RESULTS:
        return status
    return "accepted" if status_code == 202 else "ignored"


class StateCollector(Collector):
    """Gauges read from their sources at each scrape; every source is optional.

    ``database`` gives ``epicstar_repositories{state, sync_status}`` (one ``GROUP BY``),
    ``huey`` gives ``epicstar_queue_depth`` and ``epicstar_queue_scheduled``, and
    ``rate_limit`` (the last :class:`RateLimit` GitHub sent, or None before any) gives
    ``epicstar_github_rate_limit_remaining`` and ``..._reset_timestamp_seconds``.
    A source that raises is skipped for this scrape and counted in ``errors`` (by source).
    """

    def __init__(
        self,
        database: Database | None = None,
        huey: QueueCounts | None = None,
        rate_limit: Callable[[], RateLimit | None] | None = None,
        *,
        errors: Counter | None = None,
    ) -> None:
        self._sources: dict[str, Callable[[], Iterable[Metric]]] = {}
        if database is not None:
            self._sources["database"] = lambda: _repositories(database)
        if huey is not None:
            self._sources["queue"] = lambda: _queue(huey)
        if rate_limit is not None:
            self._sources["rate_limit"] = lambda: _rate_limit(rate_limit())
        self._errors = errors

    @property
    def sources(self) -> tuple[str, ...]:
        return tuple(self._sources)

    def describe(self) -> Iterator[Metric]:
        """The families this collector may yield (registering it then reads no source)."""
        for source in self._sources:
            yield from _families(source)

    def collect(self) -> Iterator[Metric]:
        for source, read in self._sources.items():
            try:
                families = list(read())  # all of a source's families, or none of them
            except Exception as error:  # any backend, any failure: skip the source
                _log.warning("metrics source failed", source=source, error=type(error).__name__)
                if self._errors is not None:
                    self._errors.labels(source=source).inc()
                continue
            yield from families


def _families(source: str) -> list[GaugeMetricFamily]:
    if source == "database":
        return [
            GaugeMetricFamily(
                "epicstar_repositories",
                "Tracked repositories by state and sync status.",
                labels=["state", "sync_status"],
            )
        ]
    if source == "queue":
        return [
            GaugeMetricFamily("epicstar_queue_depth", "Jobs waiting in the queue to be run."),
            GaugeMetricFamily(
                "epicstar_queue_scheduled", "Jobs scheduled to run later (retries, delays)."
            ),
        ]
    labels = ["resource"]
    return [
        GaugeMetricFamily(
            "epicstar_github_rate_limit_remaining",
            "Requests left in GitHub's primary rate limit, as last reported.",
            labels=labels,
        ),
        GaugeMetricFamily(
            "epicstar_github_rate_limit_reset_timestamp_seconds",
            "When GitHub's primary rate limit resets (Unix time), as last reported.",
            labels=labels,
        ),
    ]


def _repositories(database: Database) -> list[Metric]:
    counts = {(state.value, status.value): 0 for state in RepoState for status in SyncStatus}
    query = select(Repository.state, Repository.sync_status, func.count()).group_by(
        Repository.state, Repository.sync_status
    )
    with database.engine.connect() as connection:
        for state, status, count in connection.execute(query):
            counts[(str(state), str(status))] = int(count)
    [family] = _families("database")
    for (state, status), count in sorted(counts.items()):
        family.add_metric([state, status], count)
    return [family]


def _queue(huey: QueueCounts) -> list[Metric]:
    pending, scheduled = huey.pending_count(), huey.scheduled_count()
    depth, later = _families("queue")
    depth.add_metric([], pending)
    later.add_metric([], scheduled)
    return [depth, later]


def _rate_limit(limit: RateLimit | None) -> list[Metric]:
    if limit is None:
        return []
    remaining, reset = _families("rate_limit")
    resource = limit.resource or "unknown"
    remaining.add_metric([resource], limit.remaining)
    reset.add_metric([resource], limit.reset.timestamp())
    return [remaining, reset]


class MetricsServer(Closeable):
    """A registry served over HTTP in a daemon thread; :meth:`close` stops it."""

    def __init__(self, server: WSGIServer, thread: threading.Thread) -> None:
        self._server = server
        self._thread = thread

    @property
    def port(self) -> int:
        """The port listened on (the one chosen by the system when 0 was asked for)."""
        return int(self._server.server_port)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()


class Metrics:
    """One process's registry, its counters, and the gauges of the given sources."""

    def __init__(
        self,
        *,
        database: Database | None = None,
        huey: QueueCounts | None = None,
        rate_limit: Callable[[], RateLimit | None] | None = None,
    ) -> None:
        self.registry = CollectorRegistry()
        self._deliveries = Counter(
            "epicstar_webhook_deliveries",
            "GitHub webhook deliveries received, by event and result.",
            ["event", "result"],
            registry=self.registry,
        )
        self._passes = Counter(
            "epicstar_passes",
            "Mirror passes finished, by outcome.",
            ["outcome"],
            registry=self.registry,
        )
        self._pass_duration = Histogram(
            "epicstar_pass_duration_seconds",
            "How long mirror passes took, by outcome.",
            ["outcome"],
            buckets=PASS_DURATION_BUCKETS,
            registry=self.registry,
        )
        self._rewrites = Counter(
            "epicstar_ref_rewrites",
            "Branches and tags GitHub overwrote or deleted (old tips kept), by kind.",
            ["kind"],
            registry=self.registry,
        )
        for kind in REWRITE_KINDS:
            self._rewrites.labels(kind=kind)
        self._fetched_bytes = Counter(
            "epicstar_fetched_bytes",
            "Bytes fetched from GitHub by mirror passes.",
            registry=self.registry,
        )
        for outcome in _OUTCOMES:  # each series exists from the start, at 0
            self._passes.labels(outcome=outcome)
        scrape_errors = Counter(
            "epicstar_scrape_errors",
            "Metrics sources that failed while being scraped, by source.",
            ["source"],
            registry=None,
        )
        self.state = StateCollector(database, huey, rate_limit, errors=scrape_errors)
        for source in self.state.sources:
            scrape_errors.labels(source=source)
        # After the collector, so a scrape already counts its own failures.
        self.registry.register(self.state)
        self.registry.register(scrape_errors)

    def count_webhook_delivery(
        self, event: str | None, status_code: int, status: object = None
    ) -> None:
        """Count one delivery: its ``X-GitHub-Event``, answer code and the body's ``status``."""
        self._deliveries.labels(
            event=webhook_event(event), result=webhook_result(status_code, status)
        ).inc()

    def observe_pass(self, outcome: str, seconds: float, bytes_fetched: int) -> None:
        """Record one finished mirror pass; ``outcome`` is an :class:`AttemptOutcome` value."""
        if outcome not in _OUTCOMES:
            raise ValueError(f"unknown pass outcome {outcome!r}; expected one of {_OUTCOMES}")
        self._passes.labels(outcome=outcome).inc()
        self._pass_duration.labels(outcome=outcome).observe(max(seconds, 0.0))
        if bytes_fetched > 0:
            self._fetched_bytes.inc(bytes_fetched)

    def observe_rewrites(self, kinds: Sequence[str]) -> None:
        """Count the rewrites a pass found (each a :class:`RewriteKind` value)."""
        for kind in kinds:
            self._rewrites.labels(kind=kind).inc()

    def render(self) -> tuple[bytes, str]:
        """The text exposition of every metric and its content type (reads the sources)."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST

    def serve(self, host: str, port: int) -> MetricsServer:
        """Serve ``GET /metrics`` (any path, in fact) on ``host:port`` until closed."""
        server, thread = start_http_server(port, addr=host, registry=self.registry)
        return MetricsServer(server, thread)
