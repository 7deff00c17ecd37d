"""``epicstar worker``: workers only, for more throughput on this or other machines.

It needs a shared queue (``EPICSTAR_QUEUE_URL``: Redis or PostgreSQL) and database when it
runs on another machine. SIGINT or SIGTERM stops it as ``serve`` stops: passes finish within
``EPICSTAR_SHUTDOWN_GRACE`` or are interrupted and release their leases; a second signal
interrupts them at once.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Callable, Iterator
from types import FrameType

import structlog

from epicstar.config import Settings
from epicstar.metrics import MetricsServer
from epicstar.service.runtime import Service

log = structlog.get_logger("epicstar.service")


def run_worker(settings: Settings, *, workers: int) -> None:
    stop = threading.Event()
    service = Service(settings, workers=workers)
    # The signals are handled until the service has closed: a second one hurries the close.
    metrics = _metrics_server(service) if settings.metrics_port else contextlib.nullcontext()
    with _stop_signals(stop, service.jobs.interrupt), service, metrics:
        service.start()
        while not stop.wait(0.5):  # short waits: the signal handler sets the event
            pass
        log.info("worker.stopping")


@contextlib.contextmanager
def _metrics_server(service: Service) -> Iterator[MetricsServer]:
    port = service.settings.metrics_port
    assert port is not None
    server = service.metrics.serve(service.settings.host, port)
    log.info("worker.metrics", url=f"http://{service.settings.host}:{server.port}/metrics")
    with server:
        yield server


@contextlib.contextmanager
def _stop_signals(stop: threading.Event, hurry: Callable[[], None]) -> Iterator[None]:
    def handle(signum: int, _frame: FrameType | None) -> None:
        if stop.is_set():  # a second signal: don't wait for running passes
            hurry()
        stop.set()

    previous = {sig: signal.signal(sig, handle) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
