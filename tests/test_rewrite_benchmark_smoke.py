"""The rewrite benchmark runs end to end on a tiny history and reports every figure.

Speed is not asserted here: the benchmark itself checks its targets (exit status 0 or 1).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.benchmark_runs import run_benchmark

pytestmark = pytest.mark.timeout(120)


def test_rewrite_benchmark_quick_run(tmp_path: Path) -> None:
    figures_path = tmp_path / "figures.json"
    result = run_benchmark(
        "benchmarks.rewrite_benchmark", "--quick", "--json", str(figures_path), timeout=110
    )

    assert result.returncode in (0, 1), result.stderr  # 2 would mean the benchmark failed
    assert "purge" in result.stdout
    figures = json.loads(figures_path.read_text())
    assert set(figures) == {"purge", "force-push"}
    purge, forced = figures["purge"], figures["force-push"]
    assert purge["rewrites_recorded"] == [11]  # 6 branches and 5 tags, every one kept
    assert purge["commits_lost_on_main"] == [300]
    assert forced["rewrites_recorded"] == [1]
    assert forced["commits_lost_on_main"] == [1]
    for figure in (purge, forced):
        assert 0 < figure["finding_seconds"][0] < figure["epicstar_seconds"][0]
        assert figure["plain_git_seconds"][0] > 0
        assert figure["ratio"] == pytest.approx(
            figure["epicstar_median"] / figure["plain_git_median"]
        )
