"""The feed benchmark's reference: FastAPI on uvicorn, run as ``epicstar serve`` runs them
(:mod:`benchmarks.reference`), taking ``POST /api/v1/repositories/{github_id}/commits``.

    python -m benchmarks.feed_reference [--host H] [--port P]

It reads the body and decodes its JSON, as any route taking a batch must, and answers a
fixed 201; nothing is verified, validated or stored. Its rate is the floor an ingestion route
on this stack starts from. It logs ``{"event": "serve.listening", "url": ...}`` to stderr once
it listens, as ``epicstar serve`` does.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from benchmarks.reference import serve_reference

app = FastAPI()


@app.post("/api/v1/repositories/{github_id}/commits")
async def ingest(github_id: int, request: Request) -> JSONResponse:
    batch = json.loads(await request.body())
    total = len(batch["commits"])
    answer = {"total": total, "inserted": total, "skipped": 0, "last_ingested_sha": None}
    return JSONResponse(answer, status_code=201)


@app.get("/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}


def main(argv: Sequence[str] | None = None) -> int:
    return serve_reference(app, "python -m benchmarks.feed_reference", argv)


if __name__ == "__main__":
    sys.exit(main())
