"""The API benchmark's load generator, in a process of its own (no GIL shared with a server).

    python -m benchmarks.api_load PLAN.json > SAMPLES.json

Open loop: ``rate`` GET requests per second in all, spread evenly over kept-alive HTTP/1.1
connections, each on a fixed schedule whatever the answers do. A request whose connection was
still busy when it fell due is timed from when it was *due*, so a slow answer counts against
every request it held up (no coordinated omission); otherwise from when it was written, the
client's own lateness reported apart as ``client_lag``. Requests due in the first ``warmup``
seconds are sent but not counted. The bytes of the request are made once; an answer is read
as a status line, headers and a ``Content-Length`` body.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["Plan", "Samples", "run"]

_NS = 1_000_000_000
_START_DELAY_NS = 200_000_000
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


def _count(table: dict[str, int], key: str) -> None:
    table[key] = table.get(key, 0) + 1


class Connection:
    def __init__(self, plan: Plan, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self._reader, self._writer = reader, writer
        lines = [f"GET {plan.path} HTTP/1.1", f"Host: {plan.host}:{plan.port}", "Accept: */*"]
        lines += [f"{name}: {value}" for name, value in plan.headers.items()]
        self.request = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    @classmethod
    async def open(cls, plan: Plan) -> Connection:
        reader, writer = await asyncio.open_connection(plan.host, plan.port)
        sock = writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return cls(plan, reader, writer)

    async def exchange(self) -> tuple[int, int]:
        """One request and its whole answer: (status, body length)."""
        self._writer.write(self.request)
        head = await self._reader.readuntil(b"\r\n\r\n")
        status_line, _, header_block = head.partition(b"\r\n")
        status = int(status_line.split(b" ", 2)[1])
        length = 0
        for line in header_block.split(b"\r\n"):
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding":
                raise ConnectionError("chunked answers are not expected here")
            elif name == b"connection" and value.strip().lower() == b"close":
                raise ConnectionError(f"the server closed the connection after a {status}")
        if length:
            await self._reader.readexactly(length)
        return status, length

    async def close(self) -> None:
        self._writer.close()
        with contextlib.suppress(OSError):
            await self._writer.wait_closed()


async def _send(plan: Plan, conn: Connection, slot: int, start: int, samples: Samples) -> None:
    period = round(_NS * plan.connections / plan.rate)
    measured_from = start + round(plan.warmup * _NS)
    end = measured_from + round(plan.duration * _NS)
    due = start + round(slot * period / plan.connections)
    previous_done = 0
    try:
        while due < end:
            now = time.perf_counter_ns()
            if due > now:
                await asyncio.sleep((due - now) / _NS)
            written = time.perf_counter_ns()
            status, length = await conn.exchange()
            done = time.perf_counter_ns()
            if due < measured_from:
                samples.warmup_requests += 1
            else:
                held_up = previous_done > due
                samples.latencies_ns.append(done - (due if held_up else written))
                if not held_up:
                    samples.client_lag_ns.append(max(0, written - due))
                _count(samples.statuses, str(status))
                _count(samples.body_sizes, str(length))
            previous_done = done
            due += period
    except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError) as error:
        samples.transport_errors += 1
        if len(samples.errors) < _MAX_ERRORS_KEPT:
            samples.errors.append(f"connection {slot}: {type(error).__name__}: {error}")
    finally:
        await conn.close()


async def run(plan: Plan) -> Samples:
    samples = Samples()
    connections = await asyncio.gather(*(Connection.open(plan) for _ in range(plan.connections)))
    start = time.perf_counter_ns() + _START_DELAY_NS
    await asyncio.gather(
        *(_send(plan, conn, slot, start, samples) for slot, conn in enumerate(connections))
    )
    measured_from = start + round(plan.warmup * _NS)
    samples.window_ns = min(time.perf_counter_ns(), measured_from + round(plan.duration * _NS))
    samples.window_ns -= measured_from
    return samples


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m benchmarks.api_load PLAN.json", file=sys.stderr)
        return 2
    data: dict[str, Any] = json.loads(Path(args[0]).read_text())
    samples = asyncio.run(run(Plan(**data)))
    samples.cpu_s = time.process_time()
    json.dump(asdict(samples), sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
