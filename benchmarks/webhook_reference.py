"""The webhook benchmark's reference server: the HTTP stack alone, doing no work.

    python -m benchmarks.webhook_reference [--host H] [--port P]

A plain Starlette app under uvicorn, run as ``epicstar serve`` runs its app (the same
listener and uvicorn configuration: :mod:`benchmarks.reference`), answering every
``POST /webhooks/github`` with ``202 {"status": "accepted"}`` once the body is read. Nothing
is verified, parsed or recorded: its latency is the floor any Python webhook handler on this
stack starts from. Like ``epicstar serve`` it logs one JSON line
``{"event": "serve.listening", "url": ...}`` to stderr once it listens.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from benchmarks.reference import serve_reference


async def accept(request: Request) -> Response:
    await request.body()
    return JSONResponse({"status": "accepted"}, status_code=202)


async def health(_request: Request) -> Response:
    return JSONResponse({"status": "ok"})


app = Starlette(
    routes=[
        Route("/webhooks/github", accept, methods=["POST"]),
        Route("/health", health, methods=["GET"]),
    ]
)


def main(argv: Sequence[str] | None = None) -> int:
    return serve_reference(app, "python -m benchmarks.webhook_reference", argv)


if __name__ == "__main__":
    sys.exit(main())
