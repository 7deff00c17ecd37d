"""The jobs workers run, and the tick (every ``EPICSTAR_TICK_SECONDS``) that decides what is due.

The repositories table is the truth. The tick hands every due repository to the queue and
moves its ``next_due_at`` past the time a pass may take: if the job is lost (a worker killed,
the queue flushed), the repository simply becomes due again and the next tick hands it out
again. A pass itself takes a lease, so two workers never mirror one repository at once.
"""

from __future__ import annotations

import threading
import time
from contextlib import ExitStack
from datetime import datetime, timedelta

import structlog
from huey import Huey
from sqlalchemy import or_, select, update
from sqlalchemy.sql.dml import ReturningUpdate

from epicstar.config import Settings
from epicstar.queue.backend import close_huey
from epicstar.state import repositories
from epicstar.state.database import Database
from epicstar.state.models import Repository
from epicstar.state.retention import body_retention, prune_webhook_deliveries
from epicstar.sync.context import NoEvents, SyncContext, SyncEvents, open_context
from epicstar.sync.holder import holder_is_gone
from epicstar.sync.mirror_pass import PassReport, mirror_once
from epicstar.sync.poll import poll_stars, stars_source
from epicstar.sync.stars import list_state

log = structlog.get_logger("epicstar.queue")

POLL_PATIENCE = 300.0
"""Seconds after which a queued poll that never started counts as lost."""

PRUNE_EVERY = 3600.0
"""Seconds between prunings of old webhook deliveries."""

COALESCE_SECONDS = 30.0
"""How long a queued webhook job absorbs further pushes to the same repository."""

WEBHOOK_WAITS = 10
"""How many times a webhook's pass waits for another pass of the same repository: after 2,
4, 8 ... 1024 seconds, about half an hour in all."""

ASKED_FOR = ("webhook", "api", "agent", "approve")
"""Triggers of passes someone is waiting for: they wait for another pass to end as above."""


class Jobs:
    """Registers epicstar's tasks on ``huey`` and runs them with one shared context."""

    def __init__(
        self,
        huey: Huey,
        settings: Settings,
        *,
        events: SyncEvents | None = None,
        database: Database | None = None,
    ) -> None:
        self.huey = huey
        self.settings = settings
        self.events = events or NoEvents()
        self._database = database
        self.stopping = threading.Event()
        self._context: SyncContext | None = None
        self._resources = ExitStack()
        self._lock = threading.Lock()
        self._polling = threading.Lock()  # this process's polls take turns
        self._poll_queued_at: float | None = None  # the tick queues one poll at a time
        self._pruned_at: float | None = None
        self._webhook_queued: dict[int, float] = {}  # github id -> when its job was queued
        self._webhook_lock = threading.Lock()
        self.mirror = huey.task(name="epicstar.mirror")(self._mirror)
        self.poll = huey.task(name="epicstar.poll")(self._poll)

    # -- the shared context --------------------------------------------------------------

    def context(self) -> SyncContext:
        with self._lock:
            if self._context is None:
                ctx = self._resources.enter_context(
                    open_context(self.settings, db=self._database, stopping=self.stopping)
                )
                ctx.events = self.events
                self._context = ctx
            return self._context

    def current_context(self) -> SyncContext | None:
        """The context if a job has opened it already (never opens it)."""
        return self._context

    def interrupt(self) -> None:
        """Make running passes give way: git is stopped, waits end, leases are released."""
        self.stopping.set()

    def close(self) -> None:
        """Close the context and the queue's connections (once every job has stopped)."""
        with self._lock:
            self._resources.close()
            self._context = None
            close_huey(self.huey)

    # -- tasks -----------------------------------------------------------------------------

    def _mirror(
        self, github_id: int, trigger: str = "schedule", waited: int = 0, force: bool = False
    ) -> None:
        if trigger == "webhook":
            with self._webhook_lock:
                self._webhook_queued.pop(github_id, None)
        report: PassReport = mirror_once(self.context(), github_id, trigger=trigger, force=force)
        if report.fatal:
            log.error("pass.fatal", github_id=github_id, error=report.error)
        if report.outcome is None and trigger in ASKED_FOR and waited < WEBHOOK_WAITS:
            # Another pass holds the lease and may have listed the refs before this push (or
            # this request): look again once it is done, rather than at the next refresh.
            self.mirror.schedule((github_id, trigger, waited + 1, force), delay=2 ** (waited + 1))

    def refresh(self, github_ids: list[int]) -> None:
        """Mirror these repositories now (a webhook made them due and claimed them).

        A repository whose webhook job is still waiting gets no second one: that job has
        not listed the refs yet, so it sees this push too. Only this process's jobs are
        known to have started; a job taken by another process is assumed started after
        :data:`COALESCE_SECONDS` (a push in between is then mirrored when the claim lapses).
        """
        now = time.monotonic()
        for github_id in github_ids:
            with self._webhook_lock:
                queued = self._webhook_queued.get(github_id)
                if queued is not None and now - queued < COALESCE_SECONDS:
                    continue
                self._webhook_queued[github_id] = now
            self.mirror(github_id, "webhook")

    def mirror_now(self, github_id: int, *, trigger: str, force: bool = False) -> None:
        """A pass of this repository now (asked for through the API)."""
        self.mirror(github_id, trigger, 0, force)

    def poll_now(self, *, full: bool) -> None:
        """Poll the starred list now (asked for through the API)."""
        self.poll(full=full)

    def walk_stars(self) -> None:
        """Read the whole starred list now (a webhook reported an unstar)."""
        self.poll(full=True)

    def _poll(self, full: bool = False) -> None:
        self._poll_queued_at = None
        ctx = self.context()
        if stars_source(ctx) is not None:
            with self._polling:
                poll_stars(ctx, full=full)
            self.hand_out_due(ctx.clock())  # new stars are mirrored without waiting a tick

    def run_tick(self) -> int:
        """Poll the stars if their interval has passed, then hand out every due repository."""
        ctx = self.context()
        now = ctx.clock()
        polls = stars_source(ctx) is not None
        if polls and not self._poll_waiting() and self._poll_due(ctx, now):
            self._poll_queued_at = time.monotonic()
            self.poll()
        handed_out = self.hand_out_due(ctx.clock())
        self._prune(ctx, now)
        return handed_out

    def _prune(self, ctx: SyncContext, now: datetime) -> None:
        """Old webhook deliveries and bodies, at most once an hour per process."""
        last = self._pruned_at
        if last is not None and time.monotonic() - last < PRUNE_EVERY:
            return
        self._pruned_at = time.monotonic()
        retention = body_retention(self.settings.webhook_retention_days)
        with ctx.db.session() as session:
            pruned = prune_webhook_deliveries(session, now, retention)
        if pruned.rows or pruned.bodies:
            log.info("deliveries.pruned", removed=pruned.rows, bodies_cleared=pruned.bodies)

    def hand_out_due(self, now: datetime) -> int:
        ctx = self.context()
        with ctx.db.session() as session:
            # A pass that died on this machine is due now, not when its lease lapses.
            repositories.end_leases_of_gone(session, now=now, gone=holder_is_gone)
            ids = list(session.scalars(_claim_due(now, now + ctx.claim)))
        for github_id in ids:
            self.mirror(github_id)
        if ids:
            log.info("tick.handed_out", repositories=len(ids))
        return len(ids)

    def _poll_waiting(self) -> bool:
        """A poll this tick queued has not started yet (unless it was lost, long ago)."""
        queued = self._poll_queued_at
        patience = max(self.settings.poll_interval, POLL_PATIENCE)
        return queued is not None and time.monotonic() - queued < patience

    def _poll_due(self, ctx: SyncContext, now: datetime) -> bool:
        with ctx.db.session() as session:
            last = list_state(session, ctx.settings.github_user).last_poll_at
        return last is None or now - last >= timedelta(seconds=ctx.settings.poll_interval)


def _claim_due(now: datetime, until: datetime) -> ReturningUpdate[int]:
    """Claim every due repository until ``until``, in one statement.

    One statement, so it is atomic on SQLite too, where a SELECT and a later UPDATE run in
    separate transactions; PostgreSQL skips rows another tick has locked.
    """
    due = (
        select(Repository.github_id)
        .where(
            or_(Repository.lease_owner.is_(None), Repository.lease_expires_at < now),
            # A pass whose worker died is due: a pass makes its repository due when it starts.
            repositories.wanted(include_permanent_failures=False, due_at=now, lost_due_at=now),
        )
        .order_by(Repository.next_due_at)
        .with_for_update(skip_locked=True)
    )
    return (
        update(Repository)
        .where(Repository.github_id.in_(due))
        .values(next_due_at=until)
        .returning(Repository.github_id)
        .execution_options(synchronize_session=False)
    )
