"""The webhook benchmark's reference server: the HTTP stack alone, doing no work.

    python -m benchmarks.webhook_reference [--host H] [--port P]

A plain Starlette app under uvicorn, configured as ``epicstar serve`` configures it (same
listener: :func:`epicstar.web.listener.tcp_listener`, IPPROTO_TCP with TCP_NODELAY; asyncio
loop; no access log; no server header), answering every ``POST /webhooks/github`` with
``202 {"status": "accepted"}`` once the body is read. Nothing is verified, parsed or
recorded: its latency is the floor any Python webhook handler on this stack starts from.
Like ``epicstar serve`` it logs one JSON line ``{"event": "serve.listening", "url": ...}`` to
stderr once it listens.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from epicstar.web.listener import tcp_listener


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
    parser = argparse.ArgumentParser(prog="python -m benchmarks.webhook_reference")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    sock = tcp_listener(args.host, args.port)
    with sock:
        server = uvicorn.Server(
            uvicorn.Config(
                app,
                log_config=None,
                access_log=False,
                loop="asyncio",
                lifespan="on",
                server_header=False,
            )
        )
        host, port = sock.getsockname()[:2]
        line = {"event": "serve.listening", "url": f"http://{host}:{port}"}
        print(json.dumps(line), file=sys.stderr, flush=True)
        server.run(sockets=[sock])
    return 0


if __name__ == "__main__":
    sys.exit(main())
