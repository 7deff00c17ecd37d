"""What the load generators share: their kept-alive HTTP/1.1 connections, read as lean as
the protocol allows (httpx would spend more time per request than the servers do), and their
process's entry: a plan file in, the samples as JSON on stdout.

Each runs in a process of its own, so that it never shares a GIL with the server it measures.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

TRANSPORT_ERRORS = (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError)
"""What ends a connection's sending: counted as a transport error, not as an answer."""


class Stream:
    """One kept-alive HTTP/1.1 connection speaking just enough of the protocol."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader, self._writer = reader, writer

    @classmethod
    async def open(cls, host: str, port: int) -> Stream:
        """A TCP connection with TCP_NODELAY, as the servers set it on theirs."""
        reader, writer = await asyncio.open_connection(host, port)
        sock = writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return cls(reader, writer)

    async def exchange(self, request: bytes) -> tuple[int, bytes]:
        """Write one request and read its whole answer (a status line, headers and a
        ``Content-Length`` body): (status code, body). A chunked answer, or one that closes
        the connection, is a :class:`ConnectionError`."""
        self._writer.write(request)
        head = await self._reader.readuntil(b"\r\n\r\n")
        status_line, _, header_block = head.partition(b"\r\n")
        status = int(status_line.split(b" ", 2)[1])
        length = 0
        closing = False
        for line in header_block.split(b"\r\n"):
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"connection" and value.strip().lower() == b"close":
                closing = True
            elif name == b"transfer-encoding":
                raise ConnectionError("chunked answers are not expected here")
        body = await self._reader.readexactly(length) if length else b""
        if closing:
            raise ConnectionError(f"the server closed the connection after a {status}")
        return status, body

    async def close(self) -> None:
        self._writer.close()
        with contextlib.suppress(OSError):
            await self._writer.wait_closed()


def count(table: dict[str, int], key: str) -> None:
    table[key] = table.get(key, 0) + 1


class Samples(Protocol):
    cpu_s: float

    def to_json(self) -> dict[str, Any]: ...


def main_of(module: str, argv: list[str] | None, measure: Callable[[Any], Samples]) -> int:
    """``python -m module PLAN.json``: ``measure`` the plan (the file's JSON), print the
    samples, with this process's CPU time (start-up included) as ``cpu_s``."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print(f"usage: python -m {module} PLAN.json", file=sys.stderr)
        return 2
    samples = measure(json.loads(Path(args[0]).read_text()))
    samples.cpu_s = time.process_time()
    json.dump(samples.to_json(), sys.stdout)
    return 0
