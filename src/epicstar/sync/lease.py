"""Keep a pass's lease alive while it runs, so a dead worker's lease lapses quickly."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from types import TracebackType

import structlog
from sqlalchemy import update

from epicstar.state.database import Database
from epicstar.state.models import Repository

log = structlog.get_logger("epicstar.lease")


class LeaseKeeper:
    """Renews ``holder``'s lease on one repository every third of its length until stopped."""

    def __init__(
        self,
        db: Database,
        github_id: int,
        holder: str,
        lease: timedelta,
        clock: Callable[[], datetime],
    ) -> None:
        self._db = db
        self._github_id = github_id
        self._holder = holder
        self._lease = lease
        self._clock = clock
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="lease-keeper", daemon=True)
        self.lost = False

    def __enter__(self) -> LeaseKeeper:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        interval = self._lease.total_seconds() / 3
        while not self._stop.wait(interval):
            try:
                with self._db.session() as session:
                    result = session.execute(
                        update(Repository)
                        .where(
                            Repository.github_id == self._github_id,
                            Repository.lease_owner == self._holder,
                        )
                        .values(lease_expires_at=self._clock() + self._lease)
                        .execution_options(synchronize_session=False)
                    )
                    renewed = bool(getattr(result, "rowcount", 0))
            except Exception:  # the database blinked: try again at the next beat
                log.warning("lease.renewal_failed", github_id=self._github_id, exc_info=True)
                continue
            if not renewed:
                self.lost = True
                log.warning("lease.lost", github_id=self._github_id)
                return
