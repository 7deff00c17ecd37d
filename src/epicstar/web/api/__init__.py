"""The REST API under ``/api/v1``: every route needs an API key with the route's scope
(:mod:`epicstar.web.authentication`)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from epicstar.web.api import (
    agent,
    attempts,
    audit,
    commits,
    keys,
    repositories,
    repository_actions,
    rewrites,
    stars,
    summary,
    webhooks,
)
from epicstar.web.api.context import ApiContext, ApiWork
from epicstar.web.api.params import refuse_nul_characters

__all__ = ["PREFIX", "ApiContext", "ApiWork", "api_router"]

PREFIX = "/api/v1"

_ERROR: dict[str, Any] = {
    "application/json": {"schema": {"type": "object", "properties": {"detail": {"type": "string"}}}}
}
_EVERY_ROUTE: dict[int | str, dict[str, Any]] = {
    401: {
        "description": "no key, or a malformed, unknown, wrong, expired or revoked one "
        "(with WWW-Authenticate: Bearer)",
        "content": _ERROR,
    },
    403: {"description": "the key lacks the route's scope", "content": _ERROR},
    429: {"description": "over the request budget; see Retry-After", "content": _ERROR},
}


def api_router() -> APIRouter:
    router = APIRouter(
        prefix=PREFIX, responses=_EVERY_ROUTE, dependencies=[Depends(refuse_nul_characters)]
    )
    router.include_router(repositories.router)
    router.include_router(attempts.router)
    router.include_router(stars.router)
    router.include_router(summary.router)
    router.include_router(webhooks.router)
    router.include_router(keys.router)
    router.include_router(audit.router)
    router.include_router(repository_actions.router)
    router.include_router(rewrites.router)
    router.include_router(commits.feed_router)
    router.include_router(commits.ingestion_router)
    router.include_router(agent.router)
    return router
