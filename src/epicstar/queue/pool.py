"""Huey worker threads inside a process that owns its signals (``serve``, ``worker``).

Huey's own consumer installs signal handlers and, on a graceful stop, runs every shutdown
hook once per worker thread. Here the process decides when to stop, and stopping is one
sequence: take no new job, give running passes ``grace`` seconds to finish, then make them
give way (git is stopped and each pass releases its lease, recorded as interrupted, due
again at once), and only then close the shared context.
"""

from __future__ import annotations

import threading
import time

import structlog
from huey.consumer import Consumer

from epicstar.queue.jobs import Jobs

log = structlog.get_logger("epicstar.queue")

RELEASE_TIMEOUT = 30.0
"""Seconds interrupted passes get to record themselves and release their leases."""


class _EmbeddedConsumer(Consumer):  # type: ignore[misc]
    """Huey's consumer, minus the signal handlers: the host process owns the signals."""

    def _set_signal_handlers(self) -> None:
        pass


class WorkerPool:
    """``workers`` threads running the jobs, Huey's scheduler (delayed jobs), and the tick."""

    def __init__(self, jobs: Jobs, *, workers: int, grace: float, tick_seconds: float) -> None:
        self.jobs = jobs
        self.grace = grace
        self.tick_seconds = tick_seconds
        self._ticker = threading.Thread(target=self._tick, name="epicstar-tick", daemon=True)
        self._consumer = _EmbeddedConsumer(
            jobs.huey,
            workers=workers,
            worker_type="thread",
            periodic=False,
            initial_delay=0.1,
            backoff=1.15,
            max_delay=2.0,
            check_worker_health=False,
        )

    def start(self) -> None:
        self._consumer.start()
        self._ticker.start()
        log.info("workers.started", workers=len(self._consumer.worker_threads))

    def stop(self) -> None:
        """Stop taking jobs, let running passes finish or release them, then close."""
        consumer = self._consumer
        consumer.stop_flag.set()
        threads = [thread for _, thread in consumer.worker_threads]
        threads += [consumer.scheduler, self._ticker]
        if not _join(threads, self.grace):
            busy = sum(thread.is_alive() for thread in threads)
            log.warning("workers.interrupting", running=busy, grace_seconds=self.grace)
            self.jobs.interrupt()
            if not _join(threads, RELEASE_TIMEOUT):
                log.error("workers.stuck", running=sum(t.is_alive() for t in threads))
        self.jobs.close()
        log.info("workers.stopped")

    def _tick(self) -> None:
        """At start, then every ``tick_seconds``: poll the stars if due, hand out due work."""
        stop = self._consumer.stop_flag
        while not stop.is_set():
            try:
                self.jobs.run_tick()
            except Exception:  # the database or the queue blinked: next tick
                log.exception("tick.failed")
            stop.wait(self.tick_seconds)


def _join(threads: list[threading.Thread], timeout: float) -> bool:
    """Join every thread within ``timeout`` seconds in all; True when all have ended."""
    deadline = time.monotonic() + timeout
    for thread in threads:
        if thread.ident is not None:
            thread.join(max(0.0, deadline - time.monotonic()))
    return not any(thread.is_alive() for thread in threads)
