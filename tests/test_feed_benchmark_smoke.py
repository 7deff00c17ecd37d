"""The feed benchmark runs end to end with tiny parameters and reports every figure.

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

QUERIES = {"unfiltered", "page 20", "repository", "author", "word"}


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return run_benchmark("benchmarks.feed_benchmark", *args, timeout=110)


def _assert_figures(result: subprocess.CompletedProcess[str], figures_path: Path, db: str):
    assert result.returncode in (0, 1), result.stderr  # 2 would mean the benchmark failed
    figures: dict[str, Any] = json.loads(figures_path.read_text())
    assert json.loads(result.stdout) == figures  # the report is printed too
    assert figures["environment"]["database"] == db
    assert figures["parameters"]["feed_commits"] == 3000
    assert set(figures["queries"]) == QUERIES
    for name, query in figures["queries"].items():
        latency = query["latency_ms"]
        assert set(latency) == LATENCY_KEYS
        assert latency["requests"] == (3 if name == "word" else 10)
        assert 0 < latency["p50_ms"] <= latency["p95_ms"] <= latency["max_ms"]
    assert figures["queries"]["unfiltered"]["items"] == 50
    assert figures["queries"]["unfiltered"]["has_more"] is True
    assert figures["queries"]["word"]["items"] == 10  # the rare word's commits, all found
    assert figures["queries"]["repository"]["items"] > 0
    assert figures["queries"]["author"]["items"] > 0
    reference, epicstar = figures["ingestion"]
    assert (reference["server"], epicstar["server"]) == ("reference", "epicstar")
    for run in (reference, epicstar):
        assert (run["batches"], run["commits"]) == (4, 400)
        assert run["commits_per_s"] > 0
        assert set(run["batch_latency_ms"]) == LATENCY_KEYS
    target = figures["target"]
    assert target["p95_ms"] == 50.0
    assert target["met"] == (result.returncode == 0)


def test_benchmark_with_tiny_parameters(tmp_path: Path) -> None:
    figures_path = tmp_path / "figures.json"
    result = _run("--quick", "--json", str(figures_path))
    _assert_figures(result, figures_path, "sqlite")


@pytest.mark.postgres
def test_benchmark_on_postgresql(tmp_path: Path) -> None:
    admin_url = postgres_server_url()
    figures_path = tmp_path / "figures.json"
    result = _run("--quick", "--database-url", admin_url, "--json", str(figures_path))
    _assert_figures(result, figures_path, "postgresql")


def test_benchmark_refuses_bad_parameters() -> None:
    result = _run("--batch", "1001")
    assert result.returncode == 2
    assert "--batch must be 1 to 1000" in result.stderr
