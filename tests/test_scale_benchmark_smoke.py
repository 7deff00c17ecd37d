"""The scale benchmark runs end to end on a handful of repositories and reports its figures.

Speed is not asserted here: the benchmark itself checks its target (exit status 0 or 1).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.benchmark_runs import run_benchmark

pytestmark = pytest.mark.timeout(120)


def test_scale_benchmark_on_a_few_repositories(tmp_path: Path) -> None:
    figures_path = tmp_path / "figures.json"
    result = run_benchmark(
        "benchmarks.scale_benchmark",
        "--repositories",
        "6",
        "--jobs",
        "3",
        "--runs",
        "1",
        "--json",
        str(figures_path),
        timeout=110,
    )

    assert result.returncode in (0, 1), result.stderr  # 2 would mean the benchmark failed
    figures = json.loads(figures_path.read_text())
    assert figures["repositories"] == 6
    assert figures["first_mirror"]["outcomes"] == {"mirrored": 6}
    assert [(run["jobs"], run["outcomes"]) for run in figures["runs"]] == [
        (1, {"unchanged": 6}),
        (3, {"unchanged": 6}),
    ]
    for run in [figures["first_mirror"], *figures["runs"]]:
        assert run["seconds"] > 0
        assert min(run["epicstar_cpu"], run["git_cpu"], run["sandbox_cpu"]) > 0
    assert "6 unchanged repositories" in result.stdout
    assert figures["target_seconds"] == pytest.approx(0.18)
