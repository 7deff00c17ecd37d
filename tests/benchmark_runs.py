"""Runs a benchmark as its users do (``python -m benchmarks.…``), for the smoke tests."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import POSTGRES_ADMIN_URL

ROOT = Path(__file__).resolve().parents[1]

LATENCY_KEYS = {"requests", "p50_ms", "p95_ms", "p99_ms", "max_ms", "mean_ms"}
"""What every latency figure of the serve benchmarks holds."""


def run_benchmark(module: str, *args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def postgres_server_url() -> str:
    """The test PostgreSQL server, as a benchmark's ``--database-url`` takes it; the test is
    skipped when it is not reachable, and fails in CI."""
    psycopg = pytest.importorskip("psycopg")
    admin_url = POSTGRES_ADMIN_URL.replace("postgresql+psycopg://", "postgresql://")
    try:
        psycopg.connect(admin_url, connect_timeout=5).close()
    except psycopg.OperationalError as error:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL at {admin_url} must be reachable in CI: {error}")
        pytest.skip(f"PostgreSQL at {admin_url} is not reachable: {error}")
    return admin_url
