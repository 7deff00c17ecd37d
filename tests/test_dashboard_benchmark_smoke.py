"""The dashboard benchmark runs end to end with tiny parameters and reports every route.

Speed is not asserted here: the benchmark itself checks its targets (exit status 0 or 1).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.benchmark_runs import LATENCY_KEYS, postgres_server_url, run_benchmark

pytestmark = pytest.mark.timeout(150)

ROUTES = [
    ("reference (empty route)", None),
    ("overview", 100.0),
    ("repositories", 150.0),
    ("searched and filtered", 150.0),
    ("sorted by last sync", 150.0),
    ("page 4", 150.0),  # the deepest of 200 repositories: page 150 of the full run
    ("one repository", 150.0),
]


SHORT_RUNS = ("--duration", "0.5", "--warmup", "0.1")
"""Each route measured shorter than ``--quick``'s 1 s + 0.3 s: still several requests a route
at 10 a second, which is all the figures need to be checked."""


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return run_benchmark("benchmarks.dashboard_benchmark", *args, timeout=140)


def _assert_figures(result: subprocess.CompletedProcess[str], figures_path: Path, db: str):
    assert result.returncode in (0, 1), result.stderr  # 2 would mean the benchmark failed
    figures: dict[str, Any] = json.loads(figures_path.read_text())
    assert figures["environment"]["database"] == db
    assert figures["parameters"]["repositories"] == 200
    assert figures["parameters"]["attempts"] == 2000
    routes = figures["routes"]
    assert [(route["route"], route["target_p95_ms"]) for route in routes] == ROUTES
    for route in routes:
        latency = route["latency_ms"]
        assert set(latency) == LATENCY_KEYS
        assert latency["requests"] > 0
        assert 0 < latency["p50_ms"] <= latency["p95_ms"] <= latency["p99_ms"] <= latency["max_ms"]
        assert route["statuses"] == {"200": latency["requests"]}
        assert route["failures"] == 0
        assert route["met"] == (
            None if route["target_p95_ms"] is None else latency["p95_ms"] <= route["target_p95_ms"]
        )
        # the table printed on stdout has the same line
        line = next(line for line in result.stdout.splitlines() if line.startswith(route["route"]))
        assert f"{latency['p95_ms']:.1f}" in line
    pages = [route for route in routes if route["target_p95_ms"] is not None]
    assert all(int(size) > 5_000 for route in pages for size in route["body_bytes"])  # HTML
    assert figures["targets_met"] == (result.returncode == 0)


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
    result = _run("--attempts", "0")
    assert result.returncode == 2
    assert "--attempts must be at least 1" in result.stderr
