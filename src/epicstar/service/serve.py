"""``epicstar serve``: the web app and the workers in one process.

Start: the database is migrated, the queue opened, the port bound (a clear error when it is
taken), the workers started, and then uvicorn serves. SIGINT or SIGTERM: uvicorn stops
accepting and finishes open requests, then the workers stop taking jobs; running passes get
``EPICSTAR_SHUTDOWN_GRACE`` seconds to finish and are then interrupted, releasing their
leases, so nothing waits for a lease to lapse after a clean stop.
"""

from __future__ import annotations

from collections.abc import Callable

import structlog
import uvicorn
from starlette.types import ASGIApp

from epicstar.config import ConfigError, Settings
from epicstar.service.runtime import Service
from epicstar.service.signals import stop_signals
from epicstar.web.app import create_app
from epicstar.web.listener import tcp_listener

log = structlog.get_logger("epicstar.service")

GRACEFUL_HTTP_SECONDS = 10
"""Seconds open HTTP requests get to finish once a stop is asked for."""


def run_serve(
    settings: Settings,
    *,
    host: str,
    port: int,
    on_listening: Callable[[str], None] | None = None,
) -> None:
    """Serve until SIGINT or SIGTERM; ``on_listening`` gets the URL once the port listens."""
    try:
        sock = tcp_listener(host, port)
    except OSError as error:
        raise ConfigError(
            f"cannot listen on {host}:{port} ({error.strerror or error}); "
            "choose another with --host/--port or EPICSTAR_HOST/EPICSTAR_PORT"
        ) from None
    with sock, Service(settings) as service:
        app = create_app(
            settings,
            service.database,
            metrics=service.metrics,
            queue=service.huey,
            work=service.jobs,
            events=service.jobs.events,
            api_work=service.jobs,
            rate_limit=service.rate_limit,
        )
        server = uvicorn.Server(uvicorn_config(app))
        app.state.stopping = lambda: server.should_exit  # ends the dashboard's event streams
        bound_host, bound_port = sock.getsockname()[:2]
        service.start()
        url = f"http://{_url_host(bound_host)}:{bound_port}"
        log.info("serve.listening", url=url)
        if on_listening is not None:
            on_listening(url)
        # uvicorn handles the signals while it runs, then replays the one that stopped it:
        # that replay finds the stop under way; a signal after it hurries the stop.
        with stop_signals(first=lambda: None, later=service.jobs.interrupt):
            server.run(sockets=[sock])
            log.info("serve.stopping")
            service.close()


def uvicorn_config(app: ASGIApp) -> uvicorn.Config:
    """uvicorn as ``serve`` runs it (the benchmarks' reference servers run the same)."""
    return uvicorn.Config(
        app,
        log_config=None,
        access_log=False,
        loop="asyncio",
        lifespan="on",
        timeout_graceful_shutdown=GRACEFUL_HTTP_SECONDS,
        server_header=False,
        # The client's address is epicstar's to find (EPICSTAR_TRUSTED_PROXIES):
        # uvicorn would otherwise believe X-Forwarded-For from 127.0.0.1.
        proxy_headers=False,
    )


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host
