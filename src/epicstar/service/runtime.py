"""One process's service parts, built from the settings and closed in the right order."""

from __future__ import annotations

from epicstar.closing import Closeable
from epicstar.config import Settings
from epicstar.discovery.ratelimit import RateLimit
from epicstar.metrics import Metrics
from epicstar.notify import Notifier, build_notifier
from epicstar.queue.backend import close_huey, open_queue
from epicstar.queue.jobs import Jobs
from epicstar.queue.pool import WorkerPool
from epicstar.service.events import ServiceEvents
from epicstar.state.database import Database, open_database


class Service(Closeable):
    """The database, the queue and its jobs, the worker pool, metrics and notifications."""

    def __init__(self, settings: Settings, *, workers: int | None = None) -> None:
        settings.require_onedev()
        self.settings = settings
        self.notifier: Notifier = build_notifier(settings)
        self.huey = open_queue(settings)
        try:
            self.database: Database = open_database(settings)
        except BaseException:
            close_huey(self.huey)
            raise
        self.metrics = Metrics(database=self.database, huey=self.huey, rate_limit=self.rate_limit)
        self.jobs = Jobs(
            self.huey,
            settings,
            events=ServiceEvents(self.metrics, self.notifier),
            database=self.database,
        )
        self.pool = WorkerPool(
            self.jobs,
            workers=settings.workers if workers is None else workers,
            grace=settings.shutdown_grace,
            # A poll is only ever started by a tick.
            tick_seconds=min(settings.tick_seconds, settings.poll_interval),
        )
        self._closed = False

    def rate_limit(self) -> RateLimit | None:
        """GitHub's budget as this process's client last saw it."""
        ctx = self.jobs.current_context()
        return ctx.github.rate_limit if ctx is not None else None

    def start(self) -> None:
        self.pool.start()

    def close(self) -> None:
        """Stop the workers (passes finish or are released), then notifications, then the DB."""
        if self._closed:
            return
        self._closed = True
        try:
            self.pool.stop()
        finally:
            self.notifier.close()
            self.database.dispose()
