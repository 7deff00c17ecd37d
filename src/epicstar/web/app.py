"""The HTTP side of ``epicstar serve``: health, readiness, metrics and GitHub's webhooks.

``GET /health`` answers as long as the process runs and touches nothing. ``GET /ready``
answers 200 when the database answers a trivial query (and the queue, when the app has one,
its length), 503 with a one-line reason per failing dependency (no secrets) otherwise.
``GET /metrics`` is Prometheus's (:mod:`epicstar.metrics`). ``POST /webhooks/github`` is
:mod:`epicstar.web.webhooks`. The REST API under ``/api/v1`` is :mod:`epicstar.web.api`,
the Atom feed ``GET /feed.atom`` :mod:`epicstar.web.feed_atom`;
``/openapi.json`` documents it and ``/docs`` renders that. Agents push git data to
``/agent/git/{github_id}.git`` (:mod:`epicstar.web.agent_git`).
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import timedelta
from functools import partial

import anyio
import structlog
from fastapi import FastAPI, Request
from huey import Huey
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DataError, SQLAlchemyError
from starlette.responses import JSONResponse, Response

from epicstar import __version__
from epicstar.auth.scopes import grants
from epicstar.auth.verifier import KeyVerifier
from epicstar.config import Settings
from epicstar.discovery import GitHubClient
from epicstar.discovery.ratelimit import RateLimit
from epicstar.metrics import Metrics
from epicstar.state.database import Database
from epicstar.sync.context import SyncEvents, user_agent
from epicstar.web import feed_atom, githttp
from epicstar.web.access_log import ApiAccessLog
from epicstar.web.agent_git import add_agent_git
from epicstar.web.api import PREFIX as API_PREFIX
from epicstar.web.api import ApiContext, ApiWork, api_router
from epicstar.web.authentication import Authenticator
from epicstar.web.dashboard import add_dashboard
from epicstar.web.docs_page import add_docs_page
from epicstar.web.feed_atom import PATH as FEED_PATH
from epicstar.web.identity import GitHubTokenIdentity, WebhookIdentity
from epicstar.web.ratelimit import ClientAddress, RateLimits, budget_namespace, shared_storage
from epicstar.web.webhooks import PATH, QueueWork, WebhookReceiver

__all__ = ["READY_TIMEOUT", "create_app", "default_identity"]

_log = structlog.get_logger("epicstar.web")

READY_TIMEOUT = 5.0
"""Seconds ``/ready`` waits for the database (and the queue) before answering 503."""


def default_identity(settings: Settings) -> WebhookIdentity | None:
    """The token's login when no ``EPICSTAR_GITHUB_USER`` names the mirrored user."""
    if settings.github_user or settings.github_token is None:
        return None
    return GitHubTokenIdentity(settings.github_api_url, settings.github_token)


def create_app(
    settings: Settings,
    database: Database,
    *,
    identity: WebhookIdentity | None = None,
    metrics: Metrics | None = None,
    queue: Huey | None = None,
    work: QueueWork | None = None,
    events: SyncEvents | None = None,
    api_work: ApiWork | None = None,
    rate_limit: Callable[[], RateLimit | None] | None = None,
) -> FastAPI:
    """The FastAPI application.

    ``identity`` defaults to :func:`default_identity`; ``metrics`` to a registry reading the
    database (and ``queue``). ``/ready`` checks ``queue`` too when one is given. ``work``
    receives what a webhook made due, for the workers to do at once; ``events`` hears of
    repositories deleted on GitHub (notifications). ``api_work`` runs what the API asks for
    (without it, actions only make work due for the tick); ``rate_limit`` tells the API
    summary how much of GitHub's budget is left.
    """
    identity = identity if identity is not None else default_identity(settings)
    if metrics is None:
        metrics = Metrics(database=database, huey=queue)
    receiver = WebhookReceiver(
        settings, database, identity, metrics=metrics, work=work, events=events
    )
    secrets = [*settings.secrets(), *_url_password(database.url)]
    if settings.queue_url:
        secrets += _url_password(settings.queue_url)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if isinstance(identity, GitHubTokenIdentity) and not settings.github_user:
            # Learn the login before the first star arrives, off the request path.
            threading.Thread(target=identity.login, name="epicstar-identity", daemon=True).start()
        try:
            yield
        finally:
            await _close(authenticator)

    authenticator = _authenticator(settings, database)
    app = FastAPI(
        title="epicstar",
        version=__version__,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        description="Mirrors of starred GitHub repositories in OneDev. Every route under "
        "`/api/v1` needs an API key (`Authorization: Bearer esk_<prefix>_<secret>`).",
    )
    app.state.settings = settings
    app.state.database = database
    app.state.webhooks = receiver
    app.state.metrics = metrics
    app.state.queue = queue
    app.state.authenticator = authenticator
    app.state.api = ApiContext(
        settings=settings,
        database=database,
        github=partial(_github_client, settings),
        work=api_work,
        queue_depth=queue.pending_count if queue is not None else None,
        rate_limit=rate_limit,
    )

    _answer_database_errors(app)

    @app.get("/health")
    async def health() -> dict[str, str]:
        """The process is alive (nothing else is checked)."""
        return {"status": "ok"}

    @app.get("/ready")
    async def ready() -> JSONResponse:
        """The database (and the queue, if any) answers; 503 with the reasons otherwise."""
        checks: dict[str, Callable[[], object]] = {"database": partial(_select_one, database)}
        if queue is not None:
            checks["queue"] = queue.pending_count
        problems: dict[str, str] = {}

        async def check(name: str, probe: Callable[[], object]) -> None:
            problem = await _problem(probe, secrets)
            if problem is not None:
                problems[name] = problem

        async with anyio.create_task_group() as group:
            for name, probe in checks.items():
                group.start_soon(check, name, probe)
        if not problems:
            return JSONResponse({"status": "ok"})
        ordered = {name: problems[name] for name in checks if name in problems}
        return JSONResponse({"status": "unavailable", **ordered}, status_code=503)

    @app.get("/metrics", response_class=Response)
    async def prometheus_metrics() -> Response:
        """Prometheus's text exposition of :mod:`epicstar.metrics`."""
        body, content_type = await anyio.to_thread.run_sync(metrics.render)
        return Response(body, headers={"Content-Type": content_type})

    app.add_api_route(
        PATH,
        receiver.receive,
        methods=["POST"],
        summary="Receive a GitHub webhook delivery",
        response_class=JSONResponse,
    )
    app.add_middleware(
        ApiAccessLog, path_prefix=(API_PREFIX, FEED_PATH), addresses=authenticator.addresses
    )
    _add_pages(app)
    return app


def _add_pages(app: FastAPI) -> None:
    """The API, the Atom feed, the agents' git, the API's docs and the dashboard."""
    app.include_router(api_router())
    app.include_router(feed_atom.router)
    add_agent_git(app)
    add_docs_page(app)
    add_dashboard(app)


async def _close(authenticator: Authenticator) -> None:
    # No git http-backend of an agent's request outlives the event loop.
    await githttp.shutdown_backends()
    authenticator.verifier.close()


def _authenticator(settings: Settings, database: Database) -> Authenticator:
    return Authenticator(
        KeyVerifier(database),
        RateLimits(
            settings.api_rate_limit,
            shared_storage(settings.queue_url, budget_namespace(database.url)),
        ),
        ClientAddress(settings.trusted_proxies),
        session_lifetime=timedelta(hours=settings.session_hours),
        trusted_header=settings.trusted_header,
        proxy_scopes=grants(settings.trusted_header_scopes),
    )


def _answer_database_errors(app: FastAPI) -> None:
    """A value the database refuses: 422; any other database error: 503."""
    app.add_exception_handler(DataError, _value_refused)  # type: ignore[arg-type]
    app.add_exception_handler(SQLAlchemyError, _database_unavailable)  # type: ignore[arg-type]


async def _value_refused(_request: Request, error: DataError) -> JSONResponse:
    """The database refused a value that validation let through: the request's fault."""
    _log.warning("api.value_refused", error=type(error.orig).__name__)
    return JSONResponse(
        {"detail": "a value in the request cannot be stored or compared"}, status_code=422
    )


async def _database_unavailable(_request: Request, _error: SQLAlchemyError) -> JSONResponse:
    return JSONResponse({"detail": "the database cannot be reached; retry later"}, status_code=503)


def _github_client(settings: Settings) -> GitHubClient:
    token = settings.github_token.get_secret_value() if settings.github_token else None
    return GitHubClient(
        settings.github_api_url,
        token,
        user_agent=user_agent(),
        max_wait=0.0,  # an API request does not wait for GitHub's rate limit to reset
        timeout=float(settings.http_timeout),
    )


async def _problem(probe: Callable[[], object], secrets: list[str]) -> str | None:
    """None when ``probe`` returns in time (in a thread), else why not, in one line."""
    try:
        with anyio.fail_after(READY_TIMEOUT):
            await anyio.to_thread.run_sync(probe, abandon_on_cancel=True)
    except TimeoutError:
        return f"no answer within {READY_TIMEOUT:g} seconds"
    except Exception as error:  # any database driver or queue backend: report, don't crash
        return _one_line(error, secrets)
    return None


def _select_one(database: Database) -> None:
    with database.engine.connect() as connection:
        connection.exec_driver_sql("SELECT 1")


def _one_line(error: Exception, secrets: list[str]) -> str:
    original = getattr(error, "orig", None) if isinstance(error, SQLAlchemyError) else None
    text = str(original if original is not None else error).strip()
    line = text.splitlines()[0].strip() if text else type(error).__name__
    for secret in secrets:
        line = line.replace(secret, "***")
    return line[:300]


def _url_password(url: str) -> list[str]:
    try:
        password = make_url(url).password
    except ArgumentError:
        return []
    return [str(password)] if password else []
