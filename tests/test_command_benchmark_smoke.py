"""The command benchmark runs every part end to end on a small repository and reports them.

Speed is not asserted here: the benchmark itself checks its targets (exit status 0 or 1).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.benchmark_runs import run_benchmark

pytestmark = pytest.mark.timeout(180)


def test_command_benchmark_on_a_small_repository(tmp_path: Path) -> None:
    figures_path = tmp_path / "figures.json"
    result = run_benchmark(
        "benchmarks.command_benchmark", "--quick", "--json", str(figures_path), timeout=170
    )

    assert result.returncode in (0, 1), result.stderr  # 2 would mean the benchmark failed
    figures = json.loads(figures_path.read_text())
    parts = figures["parts"]
    assert list(parts) == [
        "first mirror",
        "unchanged re-sync",
        "start-up",
        "one new commit",
        "serve memory",
    ]
    first = parts["first mirror"]["figures"]
    assert first["epicstar sync"][0] > 0
    assert first["plain-git floor"][0] > 0
    assert len(figures["verified"]) == 4  # warm-up and run 1, epicstar and the floor
    assert all("heads+tags equal to GitHub's" in line for line in figures["verified"])
    startup = parts["start-up"]
    assert startup["figures"]["python -c pass"][0] < startup["figures"]["epicstar status"][0]
    assert all(ms > 0 for ms in startup["facts"]["import_ms"].values())
    commit = parts["one new commit"]
    # One changed file three directories deep (src/dN/eN/fN.txt): a commit, four trees, a blob.
    assert commit["figures"]["new objects"] == [6]
    assert commit["figures"]["bytes sent to OneDev"][0] > 0
    assert "fetch" in " ".join(commit["facts"]["git_commands"])
    assert commit["facts"]["history_sized"] == []
    memory = parts["serve memory"]
    assert 30 < memory["figures"]["peak RSS (MiB)"][0] < 1000
    assert memory["facts"]["samples"] > 10
    for part in parts.values():
        assert part["targets"]
        assert all(isinstance(met, bool) for met in part["targets"].values())
    assert ("TARGETS MET" in result.stdout) == (result.returncode == 0)
