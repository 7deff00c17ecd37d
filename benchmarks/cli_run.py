"""What the command-line benchmarks share: a scratch directory, the figures printed and kept,
and the exit status (0 targets met, 1 not, 2 the benchmark failed)."""

from __future__ import annotations

import json
import logging
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import structlog


def run_main(
    prefix: str,
    measure: Callable[[Path], dict[str, Any]],
    summary: Callable[[dict[str, Any]], str],
    json_path: Path | None,
) -> int:
    """Measure in a scratch directory removed afterwards; print ``summary`` of the figures and
    write them to ``json_path`` if given; the exit status follows their ``target_met`` (or
    ``targets_met``)."""
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.ERROR))
    scratch = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        results = measure(scratch)
    except Exception as error:
        print(f"benchmark failed: {type(error).__name__}: {error}", file=sys.stderr)
        return 2
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    print(summary(results))
    if json_path is not None:
        json_path.write_text(json.dumps(results, indent=2) + "\n")
    return 0 if results.get("target_met", results.get("targets_met")) else 1
