"""``/docs``: Swagger UI for ``/openapi.json``, served from files installed with the
fastapi-offline package (Swagger UI 5, which reads the OpenAPI 3.1 FastAPI writes; the 4.x of
swagger-ui-bundle cannot), so the page works on a server with no way out to a CDN."""

from __future__ import annotations

from importlib.resources import files

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from starlette.responses import HTMLResponse
from starlette.staticfiles import StaticFiles

DOCS = "/docs"
ASSETS = "/docs/assets"
SWAGGER_UI = files("fastapi_offline") / "static"


def add_docs_page(app: FastAPI) -> None:
    """Add ``/docs`` to an app created with ``docs_url=None``."""
    app.mount(ASSETS, StaticFiles(directory=str(SWAGGER_UI)), name="swagger-ui")

    @app.get(DOCS, include_in_schema=False)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=f"{app.title} API",
            swagger_js_url=f"{ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS}/favicon.png",
        )
