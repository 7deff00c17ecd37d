"""A scripted httpx MockTransport handler shared by the REST client tests, and a port where
nobody answers."""

from __future__ import annotations

import contextlib
import http.server
import socket
from collections.abc import Callable, Iterator
from typing import ClassVar

import httpx

Answer = httpx.Response | Callable[[httpx.Request], httpx.Response] | Exception


class Recorder:
    """Answers requests from a script, in order, and records them; an extra request fails."""

    def __init__(self, *answers: Answer) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if not self.answers:
            raise AssertionError(f"unexpected request {request.method} {request.url}")
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        if isinstance(answer, httpx.Response):
            return answer
        return answer(request)

    @property
    def last(self) -> httpx.Request:
        return self.requests[-1]


@contextlib.contextmanager
def refused_port() -> Iterator[int]:
    """A local port where every connection is refused for the whole block: bound, never
    listening, so no other test's server can take it meanwhile (a port bound and released
    at once can be)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as holder:
        holder.bind(("127.0.0.1", 0))
        yield int(holder.getsockname()[1])


def free_port() -> int:
    """A local port free a moment ago, for a server started by another process."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class HeaderRecorder(http.server.BaseHTTPRequestHandler):
    """A git host that is not GitHub's: records each request's headers, serves nothing."""

    seen: ClassVar[list[dict[str, str]]] = []

    def do_GET(self) -> None:
        self.seen.append({name.lower(): value for name, value in self.headers.items()})
        self.send_response(404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_POST = do_GET

    def log_message(self, format: str, *args: object) -> None:
        pass
