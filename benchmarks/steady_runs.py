"""One route of a served app measured at a steady open-loop rate: the load generator of
:mod:`benchmarks.api_load` in a process of its own, and the figures of that run."""

from __future__ import annotations

import os
import platform
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import fastapi
import httpx
import uvicorn

from benchmarks.api_load import Plan
from benchmarks.latency import Latency, p99_ms
from benchmarks.load_process import run_load_generator
from benchmarks.serve_cli import ServeOptions
from benchmarks.servers import ServerProcess

CLIENT_GRACE = 60.0


@dataclass(frozen=True)
class Run:
    server: str
    first_request_ms: float  # before the load, not counted (a key verified, a cache filled)
    latency_ms: Latency
    client_lag_p99_ms: float | None
    throughput_per_s: float
    window_s: float
    statuses: dict[str, int]
    body_bytes: dict[str, int]
    transport_errors: int
    errors: list[str]
    warmup_requests: int
    server_cpu_s: float

    @property
    def failures(self) -> int:
        return self.transport_errors + sum(
            count for status, count in self.statuses.items() if status != "200"
        )

    def to_json(self) -> dict[str, Any]:
        figures = asdict(self)
        figures["latency_ms"] = {
            name: round(value, 3) for name, value in asdict(self.latency_ms).items()
        }
        figures["failures"] = self.failures
        return figures


def measure(
    server: ServerProcess,
    path: str,
    headers: dict[str, str],
    options: ServeOptions,
    *,
    rate: float,
    plan_path: Path,
    first_ms: float,
) -> Run:
    """``GET path`` with ``headers`` at ``rate`` per second over ``options.connections``, for
    ``options.warmup`` seconds not counted then ``options.duration`` seconds counted."""
    assert server.port, server.name
    plan = Plan(
        host=server.host,
        port=server.port,
        path=path,
        headers=headers,
        connections=options.connections,
        rate=rate,
        warmup=options.warmup,
        duration=options.duration,
    )
    cpu_before = server.cpu_seconds()
    samples = run_load_generator(
        "benchmarks.api_load",
        asdict(plan),
        plan_path,
        timeout=options.warmup + options.duration + CLIENT_GRACE,
    )
    server.check_alive()
    window_s = samples["window_ns"] / 1e9
    latencies = samples["latencies_ns"]
    return Run(
        server=server.name,
        first_request_ms=round(first_ms, 3),
        latency_ms=Latency.of(latencies),
        client_lag_p99_ms=p99_ms(samples["client_lag_ns"]),
        throughput_per_s=len(latencies) / window_s if window_s > 0 else 0.0,
        window_s=window_s,
        statuses=samples["statuses"],
        body_bytes=samples["body_sizes"],
        transport_errors=samples["transport_errors"],
        errors=samples["errors"],
        warmup_requests=samples["warmup_requests"],
        server_cpu_s=round(server.cpu_seconds() - cpu_before, 3),
    )


def environment(backend: str, rate_limit: str) -> dict[str, Any]:
    """The machine and the stack a run was made on."""
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
        "cpus": os.cpu_count() or 1,
        "python": platform.python_version(),
        "fastapi": fastapi.__version__,
        "uvicorn": uvicorn.__version__,
        "httpx": httpx.__version__,
        "database": backend,
        "rate_limit": rate_limit,
    }
