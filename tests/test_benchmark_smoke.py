"""The mirror benchmark runs end to end on a tiny repository and reports every figure.

Speed is not asserted here: the benchmark itself checks its targets (exit status 0 or 1).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.benchmark_runs import run_benchmark

pytestmark = pytest.mark.timeout(60)


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return run_benchmark("benchmarks.mirror_benchmark", *args, timeout=60)


def _assert_timings(section: dict[str, Any], baseline: str, ratio: str) -> None:
    for contender in ("epicstar", baseline):
        samples = section[contender]["samples"]
        assert len(samples) == 1
        assert all(seconds > 0 for seconds in samples)
        assert section[contender]["median"] == section[contender]["min"] == samples[0]
    assert section[ratio] > 0
    assert section[f"{ratio}_of_mins"] > 0
    assert isinstance(section["met"], bool)


def test_benchmark_on_a_tiny_generated_repository(tmp_path: Path) -> None:
    figures_path = tmp_path / "figures.json"
    result = _run("--objects", "2000", "--runs", "1", "--json", str(figures_path))

    assert result.returncode in (0, 1), result.stderr  # 2 would mean the benchmark failed
    figures = json.loads(figures_path.read_text())
    repository = figures["repository"]
    assert repository["objects"] >= 2000
    assert repository["pack_bytes"] > 0
    assert repository["heads"] > 1
    assert repository["tags"] > 0
    assert repository["pull_refs"] > 0
    _assert_timings(figures["first_mirror"], "plain_git_floor", "epicstar_over_floor")
    assert figures["first_mirror"]["refs_pushed_by_epicstar"] == repository["mirrored_refs"]
    _assert_timings(figures["unchanged_resync"], "naive_clone_push", "naive_over_epicstar")
    assert figures["peak_rss_kib"]["benchmark"] > 0
    assert figures["peak_rss_kib"]["children"] > 0
    assert len(figures["verified"]) == 4
    assert all(f"{repository['mirrored_refs']} heads+tags equal" in v for v in figures["verified"])
    assert figures["targets_met"] == (result.returncode == 0)
    assert figures["environment"]["git_version"]
    assert "(a) first mirror" in result.stdout
    assert "(b) unchanged re-sync" in result.stdout


def test_benchmark_mirrors_an_existing_bare_repository(tmp_path: Path) -> None:
    from benchmarks.generate import generate

    source = tmp_path / "existing.git"
    generate(source, objects=300)
    result = _run("--repo", str(source), "--runs", "1")

    assert result.returncode in (0, 1), result.stderr
    assert f"repository ({source})" in result.stdout
    assert "heads+tags equal" in result.stdout


def test_benchmark_refuses_a_path_that_is_not_a_bare_repository(tmp_path: Path) -> None:
    result = _run("--repo", str(tmp_path), "--runs", "1")

    assert result.returncode == 2
    assert "not a bare git repository" in result.stderr
