"""The jobs workers run, and the once-a-minute tick that decides what is due.

The repositories table is the truth. The tick hands every due repository to the queue and
moves its ``next_due_at`` past the time a pass may take: if the job is lost (a worker killed,
the queue flushed), the repository simply becomes due again and the next tick hands it out
again. A pass itself takes a lease, so two workers never mirror one repository at once.
"""

from __future__ import annotations

import threading
from contextlib import ExitStack
from datetime import datetime, timedelta

import structlog
from huey import Huey, crontab
from sqlalchemy import Select, or_, select

from epicstar.config import Settings
from epicstar.queue.backend import close_huey
from epicstar.state.models import Repository, RepoState, SyncStatus
from epicstar.sync.context import SyncContext, open_context
from epicstar.sync.mirror_pass import PassReport, mirror_once
from epicstar.sync.poll import poll_stars, stars_source
from epicstar.sync.stars import list_state

log = structlog.get_logger("epicstar.queue")


class Jobs:
    """Registers epicstar's tasks on ``huey`` and runs them with one shared context."""

    def __init__(self, huey: Huey, settings: Settings) -> None:
        self.huey = huey
        self.settings = settings
        self._context: SyncContext | None = None
        self._resources = ExitStack()
        self._lock = threading.Lock()
        self.mirror = huey.task(name="epicstar.mirror")(self._mirror)
        self.poll = huey.task(name="epicstar.poll")(self._poll)
        self.tick = huey.periodic_task(crontab(minute="*"), name="epicstar.tick")(self.run_tick)
        huey.on_shutdown()(self.close)

    # -- the shared context --------------------------------------------------------------

    def context(self) -> SyncContext:
        with self._lock:
            if self._context is None:
                self._context = self._resources.enter_context(open_context(self.settings))
            return self._context

    def close(self) -> None:
        with self._lock:
            self._resources.close()
            self._context = None
            close_huey(self.huey)

    # -- tasks -----------------------------------------------------------------------------

    def _mirror(self, github_id: int, trigger: str = "schedule") -> None:
        report: PassReport = mirror_once(self.context(), github_id, trigger=trigger)
        if report.fatal:
            log.error("pass.fatal", github_id=github_id, error=report.error)

    def _poll(self, full: bool = False) -> None:
        ctx = self.context()
        if stars_source(ctx) is not None:
            poll_stars(ctx, full=full)
            self.hand_out_due(ctx.clock())  # new stars are mirrored without waiting a tick

    def run_tick(self) -> int:
        """Poll the stars if their interval has passed, then hand out every due repository."""
        ctx = self.context()
        now = ctx.clock()
        if stars_source(ctx) is not None and self._poll_due(ctx, now):
            self.poll()
        return self.hand_out_due(ctx.clock())

    def hand_out_due(self, now: datetime) -> int:
        ctx = self.context()
        with ctx.db.session() as session:
            due = list(session.scalars(_due(now)))
            for row in due:
                row.next_due_at = now + ctx.claim
            ids = [row.github_id for row in due]
        for github_id in ids:
            self.mirror(github_id)
        if ids:
            log.info("tick.handed_out", repositories=len(ids))
        return len(ids)

    def _poll_due(self, ctx: SyncContext, now: datetime) -> bool:
        with ctx.db.session() as session:
            last = list_state(session, ctx.settings.github_user).last_poll_at
        return last is None or now - last >= timedelta(seconds=ctx.settings.poll_interval)


def _due(now: datetime) -> Select[Repository]:
    return (
        select(Repository)
        .where(
            Repository.state == RepoState.ACTIVE,
            Repository.sync_status != SyncStatus.PERMANENT_FAILURE,
            or_(Repository.lease_owner.is_(None), Repository.lease_expires_at < now),
            # A pass whose worker died is due: a pass makes its repository due when it starts.
            or_(Repository.next_due_at.is_(None), Repository.next_due_at <= now),
        )
        .order_by(Repository.next_due_at)
        .with_for_update(skip_locked=True)
    )
