"""The webhook benchmark's load generator, run in a process of its own.

    python -m benchmarks.webhook_load PLAN.json > SAMPLES.json

``PLAN.json`` (written by :mod:`benchmarks.webhook_benchmark`) names the server, the mode,
the rate and the deliveries to send; the samples come back on stdout as JSON. It runs in its
own process so that it never shares a GIL with the server it measures.

The client is lean on purpose (:mod:`benchmarks.load_generator`): one asyncio stream per
kept-alive HTTP/1.1 connection, requests written as raw bytes (a body and its signature
prepared once per delivery template, only the unique ``X-GitHub-Delivery`` made per request),
responses read as a status line, headers and a ``Content-Length`` body. A request is timed
with :func:`time.perf_counter_ns` from just before its bytes are written to just after the
whole response has been read.

Modes:

* ``open``: ``rate`` requests per second in all on a fixed schedule per connection, timed
  without coordinated omission, the client's own lateness reported apart as ``client_lag``
  (:mod:`benchmarks.pacing`).
* ``closed``: every connection sends its next request as soon as the previous answer is in.

Requests due (open) or written (closed) during the first ``warmup`` seconds are sent but not
counted.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from benchmarks.load_generator import TRANSPORT_ERRORS, Stream, count, main_of
from benchmarks.pacing import NS, OpenLoop, Window

__all__ = ["Plan", "Samples", "main", "run"]

_MAX_ERRORS_KEPT = 10


@dataclass(frozen=True)
class Template:
    """One delivery's fixed part: event name, body and its ``X-Hub-Signature-256``."""

    event: str
    body: bytes
    signature: str


@dataclass(frozen=True)
class Plan:
    host: str
    port: int
    path: str
    mode: str  # "open" or "closed"
    connections: int
    rate: float  # requests per second in all (open mode)
    warmup: float  # seconds
    duration: float  # seconds, after the warm-up
    templates: tuple[Template, ...]
    user_agent: str = "GitHub-Hookshot/benchmark"

    def to_json(self) -> dict[str, Any]:
        return {
            "host": self.host,
            "port": self.port,
            "path": self.path,
            "mode": self.mode,
            "connections": self.connections,
            "rate": self.rate,
            "warmup": self.warmup,
            "duration": self.duration,
            "user_agent": self.user_agent,
            "templates": [
                {"event": t.event, "body": t.body.decode("utf-8"), "signature": t.signature}
                for t in self.templates
            ],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Plan:
        templates = tuple(
            Template(t["event"], t["body"].encode("utf-8"), t["signature"])
            for t in data["templates"]
        )
        return cls(
            host=data["host"],
            port=int(data["port"]),
            path=data["path"],
            mode=data["mode"],
            connections=int(data["connections"]),
            rate=float(data["rate"]),
            warmup=float(data["warmup"]),
            duration=float(data["duration"]),
            templates=templates,
            user_agent=data["user_agent"],
        )


@dataclass
class Samples:
    """What the client saw in the measured window (nanoseconds)."""

    latencies_ns: list[int] = field(default_factory=list)  # the headline figure
    from_schedule_ns: list[int] = field(default_factory=list)  # open mode: due -> answered
    client_lag_ns: list[int] = field(default_factory=list)  # open mode: due -> written, idle
    statuses: dict[str, int] = field(default_factory=dict)  # by status code, measured window
    answers: dict[str, int] = field(default_factory=dict)  # "event: answer's status", same
    warmup_requests: int = 0
    transport_errors: int = 0
    errors: list[str] = field(default_factory=list)  # the first few, for the report
    window_ns: int = 0  # measured window actually covered
    answered_in_window: int = 0  # answers that arrived within the measured window
    cpu_s: float = 0.0  # this process's CPU time, start-up included

    def to_json(self) -> dict[str, Any]:
        return {
            "latencies_ns": self.latencies_ns,
            "from_schedule_ns": self.from_schedule_ns,
            "client_lag_ns": self.client_lag_ns,
            "statuses": self.statuses,
            "answers": self.answers,
            "warmup_requests": self.warmup_requests,
            "transport_errors": self.transport_errors,
            "errors": self.errors,
            "window_ns": self.window_ns,
            "answered_in_window": self.answered_in_window,
            "cpu_s": self.cpu_s,
        }

    def error(self, message: str) -> None:
        self.transport_errors += 1
        if len(self.errors) < _MAX_ERRORS_KEPT:
            self.errors.append(message)


class Deliveries:
    """The plan's requests as bytes, all but their ``X-GitHub-Delivery`` made once."""

    def __init__(self, plan: Plan):
        host = f"{plan.host}:{plan.port}"
        prefix = (
            f"POST {plan.path} HTTP/1.1\r\nHost: {host}\r\nAccept: */*\r\n"
            f"User-Agent: {plan.user_agent}\r\nContent-Type: application/json\r\n"
        ).encode("ascii")
        self._heads = [
            (
                t.event,
                prefix
                + f"X-GitHub-Event: {t.event}\r\nX-Hub-Signature-256: {t.signature}\r\n"
                f"Content-Length: {len(t.body)}\r\n".encode("ascii"),
                t.body,
            )
            for t in plan.templates
        ]

    def request(self, index: int) -> tuple[str, bytes]:
        """The ``index``-th delivery's event name and bytes (templates taken in turn)."""
        event, head, body = self._heads[index % len(self._heads)]
        delivery = f"X-GitHub-Delivery: {uuid.uuid4()}\r\n\r\n".encode("ascii")
        return event, head + delivery + body


def _answer_status(body: bytes) -> str:
    try:
        value = json.loads(body).get("status")
    except (ValueError, AttributeError):
        return "<not json>"
    return value if isinstance(value, str) else "<none>"


@dataclass
class _Run:
    """What every connection's sender shares."""

    plan: Plan
    deliveries: Deliveries
    window: Window
    samples: Samples
    written: int = 0  # requests written so far: which template comes next

    def next_request(self) -> tuple[str, bytes]:
        self.written += 1
        return self.deliveries.request(self.written - 1)

    def answered(self, done: int) -> None:
        if self.window.measured_from <= done < self.window.end:
            self.samples.answered_in_window += 1


async def _open_loop(run: _Run, conn: Stream, slot: int) -> None:
    samples = run.samples
    schedule = OpenLoop(run.window, run.plan.rate, run.plan.connections, slot)
    while await schedule.next_due():
        event, request = run.next_request()
        written = time.perf_counter_ns()
        status, body = await conn.exchange(request)
        done = time.perf_counter_ns()
        run.answered(done)
        timing = schedule.answered(written, done)
        if timing is None:
            samples.warmup_requests += 1
            continue
        samples.latencies_ns.append(timing.latency_ns)
        samples.from_schedule_ns.append(timing.from_schedule_ns)
        if timing.client_lag_ns is not None:
            samples.client_lag_ns.append(timing.client_lag_ns)
        count(samples.statuses, str(status))
        count(samples.answers, f"{event}: {_answer_status(body)}")


async def _closed_loop(run: _Run, conn: Stream) -> None:
    samples, measured_from, end = run.samples, run.window.measured_from, run.window.end
    now = time.perf_counter_ns()
    if run.window.start > now:
        await asyncio.sleep((run.window.start - now) / NS)
    while True:
        event, request = run.next_request()
        written = time.perf_counter_ns()
        if written >= end:
            return
        status, body = await conn.exchange(request)
        done = time.perf_counter_ns()
        run.answered(done)
        if written < measured_from:
            samples.warmup_requests += 1
        else:
            samples.latencies_ns.append(done - written)
            count(samples.statuses, str(status))
            count(samples.answers, f"{event}: {_answer_status(body)}")


async def _sender(run: _Run, conn: Stream, slot: int) -> None:
    try:
        if run.plan.mode == "open":
            await _open_loop(run, conn, slot)
        else:
            await _closed_loop(run, conn)
    except TRANSPORT_ERRORS as error:
        run.samples.error(f"connection {slot}: {type(error).__name__}: {error}")
    finally:
        await conn.close()


async def run(plan: Plan) -> Samples:
    """Open every connection, then send on the plan's schedule; the samples of the window."""
    if plan.mode not in ("open", "closed"):
        raise ValueError(f"unknown mode {plan.mode!r}")
    samples = Samples()
    connections = await asyncio.gather(
        *(Stream.open(plan.host, plan.port) for _ in range(plan.connections))
    )
    window = Window.starting_soon(plan.warmup, plan.duration)
    shared = _Run(plan, Deliveries(plan), window, samples)
    await asyncio.gather(*(_sender(shared, conn, slot) for slot, conn in enumerate(connections)))
    samples.window_ns = window.covered_ns()
    return samples


def main(argv: list[str] | None = None) -> int:
    return main_of(
        "benchmarks.webhook_load", argv, lambda data: asyncio.run(run(Plan.from_json(data)))
    )


if __name__ == "__main__":
    sys.exit(main())
