"""The API benchmark's reference: FastAPI on uvicorn, configured as ``epicstar serve``
configures them, answering ``GET /api/v1/repositories`` with a fixed, empty page.

    python -m benchmarks.api_reference [--host H] [--port P]

The route is a plain ``def``, as epicstar's are, so it too runs in the thread pool; nothing is
verified, counted, read or rendered beyond a four-field JSON object. Its latency is the floor
any route on this stack starts from. It logs ``{"event": "serve.listening", "url": ...}`` to
stderr once it listens, as ``epicstar serve`` does.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any

import uvicorn
from fastapi import FastAPI

from epicstar.web.listener import tcp_listener

app = FastAPI()


@app.get("/api/v1/repositories")
def repositories() -> dict[str, Any]:
    return {"items": [], "total": 0, "page": 1, "per_page": 50}


@app.get("/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.api_reference")
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
                proxy_headers=False,
            )
        )
        host, port = sock.getsockname()[:2]
        line = {"event": "serve.listening", "url": f"http://{host}:{port}"}
        print(json.dumps(line), file=sys.stderr, flush=True)
        server.run(sockets=[sock])
    return 0


if __name__ == "__main__":
    sys.exit(main())
