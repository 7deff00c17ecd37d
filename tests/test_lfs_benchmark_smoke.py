"""The LFS benchmark runs end to end on a tiny repository and reports every figure.

Speed is not asserted here: the benchmark itself checks its targets (exit status 0 or 1).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.benchmark_runs import run_benchmark

pytestmark = pytest.mark.timeout(120)

SITUATIONS = ("first_mirror", "unchanged_resync", "one_new_file")


def _assert_runs(section: dict[str, Any]) -> None:
    epicstar, floor = section["epicstar"], section["plain_git_floor"]
    for contender in (epicstar, floor):
        assert len(contender["samples"]) == 1
        assert contender["samples"][0] > 0
        assert contender["median"] == contender["min"] == contender["samples"][0]
        assert len(contender["lfs_requests"]) == 1
    assert 0 < epicstar["pass_seconds"][0] < epicstar["samples"][0]
    steps = floor["steps"][0]
    assert {"git fetch", "git lfs fetch --all", "git push", "git lfs push --all"} <= set(steps)
    assert section["epicstar_over_floor"] > 0


def test_lfs_benchmark_quick_run(tmp_path: Path) -> None:
    figures_path = tmp_path / "figures.json"
    result = run_benchmark(
        "benchmarks.lfs_benchmark", "--quick", "--json", str(figures_path), timeout=110
    )

    assert result.returncode in (0, 1), result.stderr  # 2 would mean the benchmark failed
    figures = json.loads(figures_path.read_text())
    assert figures["repository"]["lfs_objects"] == 10
    assert figures["repository"]["lfs_bytes"] == 2 * 1024 * 1024
    for situation in SITUATIONS:
        _assert_runs(figures[situation])

    first = figures["first_mirror"]
    [moved] = first["epicstar"]["lfs_requests"]
    assert moved["github"]["download"] == moved["onedev"]["upload"] == 10
    assert moved["github"]["download_bytes"] == moved["onedev"]["upload_bytes"] == 2 * 1024 * 1024
    [floor_moved] = first["plain_git_floor"]["lfs_requests"]
    assert floor_moved["onedev"]["upload_bytes"] == 2 * 1024 * 1024
    assert "locks" in floor_moved["onedev"]

    unchanged = figures["unchanged_resync"]
    assert unchanged["epicstar"]["lfs_requests"][0]["requests"] == 0
    assert unchanged["epicstar_lfs_requests"] == 0
    assert unchanged["met"] is True

    [one] = figures["one_new_file"]["epicstar"]["lfs_requests"]
    assert one["github"]["download"] == one["onedev"]["upload"] == 1
    assert one["onedev"]["upload_bytes"] == 512 * 1024

    # epicstar's and the floor's project, verified after each situation
    assert len(figures["verified"]) == 6
    assert all("byte-identical" in check for check in figures["verified"])
    assert figures["targets_met"] == (result.returncode == 0)
    assert figures["environment"]["git_lfs_version"]
    for title in ("(a) first mirror", "(b) unchanged re-sync", "(c) one new"):
        assert title in result.stdout
