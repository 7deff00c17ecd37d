"""The HTTP side of ``epicstar serve``: health, readiness and GitHub's webhooks.

``GET /health`` answers as long as the process runs and touches nothing. ``GET /ready``
answers 200 when the database answers a trivial query, 503 with a one-line reason (no
secrets) otherwise. ``POST /webhooks/github`` is :mod:`epicstar.web.webhooks`.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
from fastapi import FastAPI
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from starlette.responses import JSONResponse

from epicstar import __version__
from epicstar.config import Settings
from epicstar.state.database import Database
from epicstar.web.identity import GitHubTokenIdentity, WebhookIdentity
from epicstar.web.webhooks import PATH, WebhookReceiver

__all__ = ["READY_TIMEOUT", "create_app", "default_identity"]

READY_TIMEOUT = 5.0
"""Seconds ``/ready`` waits for the database before answering 503."""


def default_identity(settings: Settings) -> WebhookIdentity | None:
    """The token's login when no ``EPICSTAR_GITHUB_USER`` names the mirrored user."""
    if settings.github_user or settings.github_token is None:
        return None
    return GitHubTokenIdentity(settings.github_api_url, settings.github_token)


def create_app(
    settings: Settings, database: Database, *, identity: WebhookIdentity | None = None
) -> FastAPI:
    """The FastAPI application; ``identity`` defaults to :func:`default_identity`."""
    identity = identity if identity is not None else default_identity(settings)
    receiver = WebhookReceiver(settings, database, identity)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if isinstance(identity, GitHubTokenIdentity) and not settings.github_user:
            # Learn the login before the first star arrives, off the request path.
            threading.Thread(target=identity.login, name="epicstar-identity", daemon=True).start()
        yield

    app = FastAPI(title="epicstar", version=__version__, lifespan=lifespan)
    app.state.settings = settings
    app.state.database = database
    app.state.webhooks = receiver

    @app.get("/health")
    async def health() -> dict[str, str]:
        """The process is alive (nothing else is checked)."""
        return {"status": "ok"}

    @app.get("/ready")
    async def ready() -> JSONResponse:
        """The database answers; 503 with the reason otherwise."""
        problem = await _database_problem(database, settings.secrets())
        if problem is None:
            return JSONResponse({"status": "ok"})
        return JSONResponse({"status": "unavailable", "database": problem}, status_code=503)

    app.add_api_route(
        PATH,
        receiver.receive,
        methods=["POST"],
        summary="Receive a GitHub webhook delivery",
        response_class=JSONResponse,
    )
    return app


async def _database_problem(database: Database, secrets: list[str]) -> str | None:
    """None when ``SELECT 1`` succeeds in time, else why not, in one line."""
    try:
        with anyio.fail_after(READY_TIMEOUT):
            await anyio.to_thread.run_sync(_select_one, database, abandon_on_cancel=True)
    except TimeoutError:
        return f"no answer within {READY_TIMEOUT:g} seconds"
    except SQLAlchemyError as error:
        return _one_line(error, [*secrets, *_url_password(database.url)])
    return None


def _select_one(database: Database) -> None:
    with database.engine.connect() as connection:
        connection.exec_driver_sql("SELECT 1")


def _one_line(error: SQLAlchemyError, secrets: list[str]) -> str:
    original = getattr(error, "orig", None)
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
