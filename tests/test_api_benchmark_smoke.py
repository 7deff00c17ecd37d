"""The API benchmark runs end to end with tiny parameters and reports every figure.

Speed is not asserted here: the benchmark itself checks its target (exit status 0 or 1).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.benchmark_runs import LATENCY_KEYS, postgres_server_url, run_benchmark

pytestmark = pytest.mark.timeout(120)


SHORT_RUNS = ("--duration", "0.4", "--warmup", "0.1")
"""Each run shorter than ``--quick``'s 1 s + 0.5 s: still some twenty requests a server at
50 a second, which is all the figures need to be checked."""


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return run_benchmark("benchmarks.api_benchmark", *args, timeout=110)


def _assert_figures(result: subprocess.CompletedProcess[str], figures_path: Path, db: str):
    assert result.returncode in (0, 1), result.stderr  # 2 would mean the benchmark failed
    figures: dict[str, Any] = json.loads(figures_path.read_text())
    assert json.loads(result.stdout) == figures  # the report is printed too
    assert figures["environment"]["database"] == db
    assert figures["parameters"]["repositories"] == 60
    assert figures["parameters"]["loop"] == "open"
    reference, epicstar = figures["runs"]
    assert (reference["server"], epicstar["server"]) == ("reference", "epicstar")
    for run in (reference, epicstar):
        latency = run["latency_ms"]
        assert set(latency) == LATENCY_KEYS
        assert latency["requests"] > 0
        assert 0 < latency["p50_ms"] <= latency["p95_ms"] <= latency["p99_ms"] <= latency["max_ms"]
        assert run["statuses"] == {"200": latency["requests"]}
        assert run["failures"] == 0
        assert run["transport_errors"] == 0
        assert run["first_request_ms"] > 0
        assert run["throughput_per_s"] > 0
        assert len(run["body_bytes"]) == 1  # the same page every time
    assert int(next(iter(epicstar["body_bytes"]))) > 10_000  # 50 repositories in each answer
    target = figures["target"]
    assert target["p95_ms"] == 20.0
    assert target["epicstar_p95_ms"] == epicstar["latency_ms"]["p95_ms"]
    assert target["met"] == (result.returncode == 0)


def test_benchmark_with_tiny_parameters(tmp_path: Path) -> None:
    figures_path = tmp_path / "figures.json"
    result = _run("--quick", *SHORT_RUNS, "--json", str(figures_path))
    _assert_figures(result, figures_path, "sqlite")


@pytest.mark.postgres
def test_benchmark_on_postgresql(tmp_path: Path) -> None:
    admin_url = postgres_server_url()
    figures_path = tmp_path / "figures.json"
    result = _run("--quick", *SHORT_RUNS, "--database-url", admin_url, "--json", str(figures_path))
    _assert_figures(result, figures_path, "postgresql")


def test_benchmark_refuses_bad_parameters() -> None:
    result = _run("--rate", "0")
    assert result.returncode == 2
    assert "--rate and --duration must be positive" in result.stderr
