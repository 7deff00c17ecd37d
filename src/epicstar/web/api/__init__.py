"""The REST API under ``/api/v1``: every route needs an API key with the route's scope
(:mod:`epicstar.web.authentication`)."""

from __future__ import annotations

from fastapi import APIRouter

from epicstar.web.api import (
    attempts,
    audit,
    keys,
    repositories,
    repository_actions,
    stars,
    summary,
    webhooks,
)
from epicstar.web.api.context import ApiContext, ApiWork

__all__ = ["PREFIX", "ApiContext", "ApiWork", "api_router"]

PREFIX = "/api/v1"


def api_router() -> APIRouter:
    router = APIRouter(prefix=PREFIX)
    router.include_router(repositories.router)
    router.include_router(attempts.router)
    router.include_router(stars.router)
    router.include_router(summary.router)
    router.include_router(webhooks.router)
    router.include_router(keys.router)
    router.include_router(audit.router)
    router.include_router(repository_actions.router)
    return router
