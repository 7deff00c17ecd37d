"""The dashboard: server-rendered pages at ``/`` for a browser signed in with an API key (or
by a trusted proxy), a little script for live updates and actions, nothing fetched from
elsewhere. Its data comes from the API's own route functions."""

from __future__ import annotations

from fastapi import FastAPI
from starlette.staticfiles import StaticFiles

from epicstar.web.dashboard import (
    actions,
    activity,
    audit_page,
    deliveries,
    key_pages,
    live,
    overview,
    repository_pages,
    signin,
    whats_new,
)
from epicstar.web.dashboard.access import add_access_handlers
from epicstar.web.dashboard.rendering import HERE, STATIC_PATH

__all__ = ["add_dashboard"]


def add_dashboard(app: FastAPI) -> None:
    app.mount(STATIC_PATH, StaticFiles(directory=HERE / "static"), name="dashboard-static")
    for module in (
        signin,
        overview,
        repository_pages,
        activity,
        whats_new,
        deliveries,
        key_pages,
        audit_page,
        actions,
        live,
    ):
        app.include_router(module.router)
    add_access_handlers(app)
    app.state.changes = live.Changes(app.state.database)
