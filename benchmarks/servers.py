"""The benchmarks' server processes: ``epicstar serve`` and the reference servers.

Each runs as a child process of the benchmark (so none shares a GIL with the benchmark's
sandbox nor with the load generator), logs JSON lines to a file, and is found by its
``{"event": "serve.listening", "url": ...}`` line.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, Self
from urllib.parse import urlsplit

import httpx
from prometheus_client.parser import text_string_to_metric_families

from benchmarks.contenders import BenchmarkError

ROOT = Path(__file__).resolve().parents[1]
START_TIMEOUT = 60.0
STOP_TIMEOUT = 60.0

MetricKey = tuple[str, tuple[tuple[str, str], ...]]


class ServerProcess:
    """A server started as ``argv`` with ``env``, its stderr in ``log_path``; ready once it
    logs where it listens, or once ``GET /health`` answers at ``port`` (when given)."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        env: Mapping[str, str],
        log_path: Path,
        *,
        port: int = 0,
    ):
        self.name = name
        self.log_path = log_path
        self._log: IO[bytes] = log_path.open("wb")
        self.process = subprocess.Popen(
            list(argv),
            env=dict(env),
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=self._log,
        )
        self.host = "127.0.0.1" if port else ""
        self.port = port
        self.url = f"http://127.0.0.1:{port}" if port else ""
        self.client = httpx.Client(timeout=30)

    def __enter__(self) -> Self:
        try:
            self._wait_listening()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def log_tail(self, lines: int = 20) -> str:
        text = self.log_path.read_text(errors="replace").splitlines()
        return "\n".join(text[-lines:])

    def _healthy(self) -> bool:
        if not self.port:
            return False
        try:
            return self.client.get(f"{self.url}/health", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def _wait_listening(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self._healthy():
                return
            for line in self.log_path.read_text(errors="replace").splitlines():
                with contextlib.suppress(ValueError, AttributeError):
                    record = json.loads(line)
                    if record.get("event") == "serve.listening":
                        self.url = str(record["url"])
                        parts = urlsplit(self.url)
                        self.host, self.port = parts.hostname or "", parts.port or 0
                        return
            if self.process.poll() is not None:
                raise BenchmarkError(
                    f"{self.name} exited with status {self.process.returncode} before "
                    f"listening:\n{self.log_tail()}"
                )
            time.sleep(0.05)
        raise BenchmarkError(f"{self.name} did not listen within {START_TIMEOUT:g} s")

    def check_alive(self) -> None:
        if self.process.poll() is not None:
            raise BenchmarkError(
                f"{self.name} exited with status {self.process.returncode}:\n{self.log_tail()}"
            )

    def cpu_seconds(self) -> float:
        """User + system CPU of the process and of the children it has waited for (Linux)."""
        try:
            stat = Path(f"/proc/{self.process.pid}/stat").read_text()
        except OSError:
            return 0.0
        fields = stat.rpartition(")")[2].split()
        # after "pid (comm)": state is field 3, utime..cstime are fields 14..17
        ticks = sum(int(value) for value in fields[11:15])
        return ticks / os.sysconf("SC_CLK_TCK")

    def metrics(self) -> dict[MetricKey, float]:
        """``GET /metrics``, as {(sample name, sorted labels): value}."""
        try:
            response = self.client.get(f"{self.url}/metrics")
            response.raise_for_status()
        except httpx.HTTPError as error:
            time.sleep(0.5)  # an exit is seen a moment after the socket closes
            self.check_alive()
            raise BenchmarkError(f"{self.name}: GET /metrics failed: {error}") from error
        values: dict[MetricKey, float] = {}
        for family in text_string_to_metric_families(response.text):
            for sample in family.samples:
                values[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
        return values

    def stop(self) -> None:
        """SIGTERM (serve stops gracefully), then SIGKILL if it takes too long."""
        self.client.close()
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()


def base_environment() -> dict[str, str]:
    """The benchmark's environment (hermetic git included) without any ``EPICSTAR_*``."""
    return {name: value for name, value in os.environ.items() if not name.startswith("EPICSTAR_")}


def free_port() -> int:
    """A port nothing listens on now (serve's "listening" line is not logged above info)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def epicstar_serve(
    env: Mapping[str, str], log_path: Path, *, name: str = "epicstar serve"
) -> ServerProcess:
    port = free_port()
    argv = [sys.executable, "-m", "epicstar", "serve", "--host", "127.0.0.1", "--port", str(port)]
    return ServerProcess(name, argv, {**base_environment(), **env}, log_path, port=port)


def reference_server(module: str, log_path: Path, *, name: str = "reference") -> ServerProcess:
    """``python -m module``: a reference run by :func:`benchmarks.reference.serve_reference`."""
    argv = [sys.executable, "-m", module, "--port", "0"]
    return ServerProcess(name, argv, base_environment(), log_path)


def total(values: Mapping[MetricKey, float], name: str, **labels: str) -> float:
    """The sum of ``name``'s samples whose labels include ``labels``."""
    wanted = set(labels.items())
    return sum(
        value
        for (sample, sample_labels), value in values.items()
        if sample == name and wanted <= set(sample_labels)
    )


def by_label(values: Mapping[MetricKey, float], name: str, label: str) -> dict[str, float]:
    found: dict[str, float] = {}
    for (sample, labels), value in values.items():
        if sample == name:
            key = dict(labels).get(label, "")
            found[key] = found.get(key, 0.0) + value
    return found
