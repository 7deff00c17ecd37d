"""Runs a benchmark's reference app the way ``epicstar serve`` runs epicstar's.

Same listener (:func:`epicstar.web.listener.tcp_listener`: TCP_NODELAY), same uvicorn
configuration (:func:`epicstar.service.serve.uvicorn_config`), and like ``serve`` one JSON line
``{"event": "serve.listening", "url": ...}`` on stderr once it listens.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

import uvicorn
from starlette.types import ASGIApp

from epicstar.service.serve import uvicorn_config
from epicstar.web.listener import tcp_listener


def serve_reference(app: ASGIApp, prog: str, argv: Sequence[str] | None = None) -> int:
    """``prog [--host H] [--port P]``: serves ``app`` until SIGINT or SIGTERM."""
    parser = argparse.ArgumentParser(prog=prog)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    sock = tcp_listener(args.host, args.port)
    with sock:
        server = uvicorn.Server(uvicorn_config(app))
        host, port = sock.getsockname()[:2]
        line = {"event": "serve.listening", "url": f"http://{host}:{port}"}
        print(json.dumps(line), file=sys.stderr, flush=True)
        server.run(sockets=[sock])
    return 0
