"""``epicstar worker``: workers only, for more throughput on this or other machines.

It needs a shared queue (``EPICSTAR_QUEUE_URL``: Redis or PostgreSQL) and database when it
runs on another machine. SIGINT or SIGTERM stops it as ``serve`` stops: passes finish within
``EPICSTAR_SHUTDOWN_GRACE`` or are interrupted and release their leases; a second signal
interrupts them at once.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

import structlog

from epicstar.config import Settings
from epicstar.metrics import MetricsServer
from epicstar.service.runtime import Service
from epicstar.service.signals import stop_signals

log = structlog.get_logger("epicstar.service")


def run_worker(settings: Settings, *, workers: int) -> None:
    stop = threading.Event()
    service = Service(settings, workers=workers)
    # The signals are handled until the service has closed: a second one hurries the close.
    metrics = _metrics_server(service) if settings.metrics_port else contextlib.nullcontext()
    with stop_signals(first=stop.set, later=service.jobs.interrupt), service, metrics:
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
