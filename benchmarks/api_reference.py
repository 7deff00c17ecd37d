"""The API benchmark's reference: FastAPI on uvicorn, run as ``epicstar serve`` runs them
(:mod:`benchmarks.reference`), answering ``GET /api/v1/repositories`` with a fixed, empty page.

    python -m benchmarks.api_reference [--host H] [--port P]

The route is a plain ``def``, as epicstar's are, so it too runs in the thread pool; nothing is
verified, counted, read or rendered beyond a four-field JSON object. Its latency is the floor
any route on this stack starts from. It logs ``{"event": "serve.listening", "url": ...}`` to
stderr once it listens, as ``epicstar serve`` does.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI

from benchmarks.reference import serve_reference

app = FastAPI()


@app.get("/api/v1/repositories")
def repositories() -> dict[str, Any]:
    return {"items": [], "total": 0, "page": 1, "per_page": 50}


@app.get("/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}


def main(argv: Sequence[str] | None = None) -> int:
    return serve_reference(app, "python -m benchmarks.api_reference", argv)


if __name__ == "__main__":
    sys.exit(main())
