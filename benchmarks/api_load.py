"""The API benchmark's load generator, in a process of its own (no GIL shared with a server).

    python -m benchmarks.api_load PLAN.json > SAMPLES.json

Open loop (:mod:`benchmarks.pacing`): ``rate`` GET requests per second in all, spread evenly
over kept-alive HTTP/1.1 connections, each on a fixed schedule whatever the answers do. A
request whose connection was still busy when it fell due is timed from when it was *due*;
otherwise from when it was written, the client's own lateness reported apart as
``client_lag``. Requests due in the first ``warmup`` seconds are sent but not counted. The bytes
of the request are made once; an answer is read as a status line, headers and a
``Content-Length`` body (:mod:`benchmarks.load_generator`).
"""

from __future__ import annotations

import asyncio
import sys
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from benchmarks.load_generator import TRANSPORT_ERRORS, Stream, count, main_of
from benchmarks.pacing import OpenLoop, Window

__all__ = ["Plan", "Samples", "run"]

_MAX_ERRORS_KEPT = 10


@dataclass(frozen=True)
class Plan:
    host: str
    port: int
    path: str
    headers: dict[str, str]
    connections: int
    rate: float  # requests per second, in all
    warmup: float  # seconds
    duration: float  # seconds, after the warm-up


@dataclass
class Samples:
    latencies_ns: list[int] = field(default_factory=list)
    client_lag_ns: list[int] = field(default_factory=list)
    statuses: dict[str, int] = field(default_factory=dict)
    body_sizes: dict[str, int] = field(default_factory=dict)  # bytes: how many answers
    warmup_requests: int = 0
    transport_errors: int = 0
    errors: list[str] = field(default_factory=list)
    window_ns: int = 0
    cpu_s: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _request(plan: Plan) -> bytes:
    lines = [f"GET {plan.path} HTTP/1.1", f"Host: {plan.host}:{plan.port}", "Accept: */*"]
    lines += [f"{name}: {value}" for name, value in plan.headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


async def _send(plan: Plan, conn: Stream, slot: int, window: Window, samples: Samples) -> None:
    schedule = OpenLoop(window, plan.rate, plan.connections, slot)
    request = _request(plan)
    try:
        while await schedule.next_due():
            written = time.perf_counter_ns()
            status, body = await conn.exchange(request)
            timing = schedule.answered(written, time.perf_counter_ns())
            if timing is None:
                samples.warmup_requests += 1
                continue
            samples.latencies_ns.append(timing.latency_ns)
            if timing.client_lag_ns is not None:
                samples.client_lag_ns.append(timing.client_lag_ns)
            count(samples.statuses, str(status))
            count(samples.body_sizes, str(len(body)))
    except TRANSPORT_ERRORS as error:
        samples.transport_errors += 1
        if len(samples.errors) < _MAX_ERRORS_KEPT:
            samples.errors.append(f"connection {slot}: {type(error).__name__}: {error}")
    finally:
        await conn.close()


async def run(plan: Plan) -> Samples:
    samples = Samples()
    connections = await asyncio.gather(
        *(Stream.open(plan.host, plan.port) for _ in range(plan.connections))
    )
    window = Window.starting_soon(plan.warmup, plan.duration)
    await asyncio.gather(
        *(_send(plan, conn, slot, window, samples) for slot, conn in enumerate(connections))
    )
    samples.window_ns = window.covered_ns()
    return samples


def main(argv: list[str] | None = None) -> int:
    return main_of("benchmarks.api_load", argv, lambda data: asyncio.run(run(Plan(**data))))


if __name__ == "__main__":
    sys.exit(main())
