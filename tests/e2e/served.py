"""One ``epicstar serve`` process, started as a user starts it, and what it logged."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.conftest import World
from tests.e2e.helpers import wait_for
from tests.web.conftest import signed

SECRET = "serve-test-webhook-secret"


class Served:
    """One ``epicstar serve`` process and what it logged."""

    def __init__(self, world: World, env: dict[str, str], *, port: int = 0) -> None:
        """``port`` 0: any free one (see :attr:`url`)."""
        self.world = world
        self.lines: list[str] = []
        self.process = subprocess.Popen(
            [sys.executable, "-m", "epicstar", "serve", "--port", str(port)],
            env={**os.environ, **world.env(), "EPICSTAR_WEBHOOK_SECRET": SECRET, **env},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        wait_for(lambda: self.events("serve.listening") or self.process.poll() is not None, 30)
        listening = self.events("serve.listening")
        assert listening, f"serve did not start:\n{self.log_text()}"
        self.url = listening[0]["url"]
        self.client = httpx.Client(base_url=self.url, timeout=10)

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.lines.append(line)

    def log_text(self) -> str:
        return "".join(self.lines)

    def events(self, name: str) -> list[dict[str, Any]]:
        found = []
        for line in list(self.lines):
            with contextlib.suppress(ValueError):
                record = json.loads(line)
                if record.get("event") == name:
                    found.append(record)
        return found

    def deliver(self, event: str, data: dict[str, Any]) -> httpx.Response:
        body, headers = signed(event, data, secret=SECRET, delivery=str(uuid.uuid4()))
        return self.client.post("/webhooks/github", content=body, headers=headers)

    def metrics(self) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        response = self.client.get("/metrics")
        assert response.status_code == 200
        values = {}
        for family in text_string_to_metric_families(response.text):
            for sample in family.samples:
                values[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
        return values

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 60) -> int:
        self.client.close()
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            code = self.process.wait(timeout=timeout)
        finally:
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait()
        self._reader.join(5)
        return code


@contextlib.contextmanager
def serving(world: World, **env: str) -> Iterator[Served]:
    served = Served(world, env)
    try:
        yield served
    finally:
        served.stop()
