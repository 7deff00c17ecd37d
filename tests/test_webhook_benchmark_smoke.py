"""The webhook benchmark runs end to end with tiny parameters and reports every figure.

Speed is not asserted here: the benchmark itself checks its target (exit status 0 or 1).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from benchmarks.webhook_benchmark import WEB_ONLY

from tests.benchmark_runs import LATENCY_KEYS, postgres_server_url, run_benchmark

pytestmark = pytest.mark.timeout(120)


SHORT_RUNS = ("--duration", "0.4", "--warmup", "0.1")
"""Each run shorter than ``--quick``'s (1 s + 0.5 s): still dozens of deliveries in each of
the eight runs, which is all the figures need to be checked; a third of the time."""


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return run_benchmark("benchmarks.webhook_benchmark", *args, timeout=110)


def _assert_run(run: dict[str, Any], server: str, workload: str, mode: str) -> None:
    assert run["server"] == server
    assert run["workload"] == workload
    assert run["mode"] == mode
    latency = run["latency_ms"]
    assert set(latency) == LATENCY_KEYS
    assert latency["requests"] > 0
    assert 0 < latency["p50_ms"] <= latency["p95_ms"] <= latency["p99_ms"] <= latency["max_ms"]
    assert run["throughput_per_s"] > 0
    assert run["window_s"] > 0
    assert run["answered_in_window"] > 0
    assert sum(run["statuses"].values()) == latency["requests"]
    assert run["non_2xx"] == 0, run["statuses"]
    assert run["transport_errors"] == 0, run["errors"]
    assert run["unexpected_answers"] == {}
    assert run["failures"] == 0
    assert run["sent"] >= latency["requests"]
    assert set(run["cpu_s"]) == {"wall_s", "server_s", "client_s", "sandbox_s"}
    assert run["cpu_s"]["wall_s"] > 0
    if mode == "open":
        assert set(run["latency_from_schedule_ms"]) == LATENCY_KEYS
        assert run["client_lag_p99_ms"] >= 0
    if server == "epicstar":
        workers = run["workers"]
        assert workers["deliveries_counted"] == run["sent"]
        assert workers["drain_s"] is not None
        passes = sum(workers["passes_during"].values()) + sum(workers["passes_after"].values())
        if workload == "mixed":
            assert run["answers"]["push: accepted"] > 0
            assert set(run["answers"]) <= {"push: accepted", "star: ignored"}
            assert workers["accepted"] > 0
            assert passes > 0
        else:
            assert set(run["answers"]) == {"star: ignored"}
            assert workers["accepted"] == 0
    elif server == WEB_ONLY:
        assert run["answers"]["push: accepted"] > 0
        assert set(run["answers"]) <= {"push: accepted", "star: ignored"}
        assert "workers" not in run
    else:
        assert set(run["answers"]) <= {"push: accepted", "star: accepted"}
        assert "workers" not in run


def _assert_figures(figures: dict[str, Any], returncode: int, database: str) -> None:
    environment = figures["environment"]
    assert environment["cpus"] >= 1
    assert environment["python"]
    assert environment["database"] == database
    assert figures["parameters"]["connections"] == 50
    assert figures["parameters"]["rates"] == [50.0]
    assert figures["setup_s"] > 0
    reference, ignored, web_only, epicstar = figures["open_loop"]
    _assert_run(reference, "reference", "mixed", "open")
    _assert_run(ignored, "epicstar", "ignored", "open")
    _assert_run(web_only, WEB_ONLY, "mixed", "open")
    _assert_run(epicstar, "epicstar", "mixed", "open")
    assert reference["rate"] == ignored["rate"] == web_only["rate"] == epicstar["rate"] == 50.0
    assert figures["failures"] == 0
    assert figures["target"]["p95_ms"] == {"50": web_only["latency_ms"]["p95_ms"]}
    assert figures["target"]["met"] == figures["targets_met"] == (returncode == 0)


def test_benchmark_with_tiny_parameters(tmp_path: Path) -> None:
    figures_path = tmp_path / "figures.json"
    result = _run("--quick", *SHORT_RUNS, "--json", str(figures_path))

    assert result.returncode in (0, 1), result.stderr  # 2 would mean the benchmark failed
    figures = json.loads(figures_path.read_text())
    _assert_figures(figures, result.returncode, "sqlite")
    reference, ignored, web_only, epicstar = figures["closed_loop"]
    _assert_run(reference, "reference", "mixed", "closed")
    _assert_run(ignored, "epicstar", "ignored", "closed")
    _assert_run(web_only, WEB_ONLY, "mixed", "closed")
    _assert_run(epicstar, "epicstar", "mixed", "closed")
    for heading in ("reference", "epicstar, ignored", "open", "closed", "p95"):
        assert heading in result.stdout
    assert "epicstar's workers" in result.stdout


@pytest.mark.postgres
def test_benchmark_on_postgresql(tmp_path: Path) -> None:
    admin_url = postgres_server_url()
    figures_path = tmp_path / "figures.json"
    result = _run(
        "--quick",
        *SHORT_RUNS,
        "--no-closed-loop",
        "--database-url",
        admin_url,
        "--json",
        str(figures_path),
    )

    assert result.returncode in (0, 1), result.stderr
    figures = json.loads(figures_path.read_text())
    _assert_figures(figures, result.returncode, "postgresql")
    assert figures["closed_loop"] == []


def test_benchmark_refuses_bad_parameters() -> None:
    result = _run("--rates", "0")

    assert result.returncode == 2
    assert "rates must be positive" in result.stderr
