"""Latency statistics of a benchmark run: nearest-rank percentiles of nanosecond samples."""

from __future__ import annotations

import math
from dataclasses import dataclass


def percentile(sorted_values: list[int], pct: float) -> int:
    """Nearest-rank percentile of an ascending list (the value below which ``pct`` % lie)."""
    if not sorted_values:
        return 0
    rank = max(1, math.ceil(pct / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


def p99_ms(samples_ns: list[int]) -> float | None:
    """The 99th percentile in milliseconds; None without samples."""
    return percentile(sorted(samples_ns), 99) / 1e6 if samples_ns else None


@dataclass(frozen=True)
class Latency:
    """Milliseconds, from one run's samples (nanoseconds)."""

    requests: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    mean_ms: float

    @classmethod
    def of(cls, samples_ns: list[int]) -> Latency:
        values = sorted(samples_ns)
        ms = 1e-6
        return cls(
            requests=len(values),
            p50_ms=percentile(values, 50) * ms,
            p95_ms=percentile(values, 95) * ms,
            p99_ms=percentile(values, 99) * ms,
            max_ms=(values[-1] if values else 0) * ms,
            mean_ms=(sum(values) / len(values) if values else 0) * ms,
        )

    def summary(self) -> str:
        """For progress lines: ``p50 1.23 ms, p95 …, p99 …, max …``."""
        return (
            f"p50 {self.p50_ms:.2f} ms, p95 {self.p95_ms:.2f} ms, "
            f"p99 {self.p99_ms:.2f} ms, max {self.max_ms:.2f} ms"
        )
