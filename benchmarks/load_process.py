"""Runs a load generator (:func:`benchmarks.load_generator.main_of`) as a child process."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from benchmarks.contenders import BenchmarkError
from benchmarks.servers import ROOT


def run_load_generator(
    module: str, plan: dict[str, Any], plan_path: Path, timeout: float
) -> dict[str, Any]:
    """``python -m module plan_path`` with ``plan`` written there; the samples it printed."""
    plan_path.write_text(json.dumps(plan))
    result = subprocess.run(
        [sys.executable, "-m", module, str(plan_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if result.returncode != 0:
        raise BenchmarkError(f"the load generator failed:\n{result.stderr[-2000:]}")
    samples: dict[str, Any] = json.loads(result.stdout)
    return samples
