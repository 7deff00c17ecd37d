"""``epicstar worker``: a Huey consumer running epicstar's jobs with bounded concurrency."""

from __future__ import annotations

from huey import Huey

from epicstar.config import Settings
from epicstar.queue.backend import make_huey
from epicstar.queue.jobs import Jobs


def build(settings: Settings, *, immediate: bool = False) -> tuple[Huey, Jobs]:
    huey = make_huey(settings, immediate=immediate)
    return huey, Jobs(huey, settings)


def run_worker(settings: Settings, *, workers: int) -> None:
    """Run until SIGINT (finish running jobs) or SIGTERM (stop now; leases expire)."""
    huey, _jobs = build(settings)
    consumer = huey.create_consumer(
        workers=workers,
        worker_type="thread",
        periodic=True,
        initial_delay=0.1,
        backoff=1.15,
        max_delay=2.0,
        check_worker_health=True,
    )
    consumer.run()
