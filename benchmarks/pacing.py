"""The load generators' clock (nanoseconds of :func:`time.perf_counter_ns`): the measured
window and the open-loop schedule.

Open loop: ``rate`` requests per second in all, spread evenly over the connections; each
connection sends on a fixed schedule (``rate / connections`` per second, the connections'
schedules staggered) whatever the answers do. When an answer comes back after the next request
was due, that next request is timed from the moment it was *due*, not from when it could be
written, so a slow answer counts against every request it held up (no coordinated omission).
When the connection was idle but the client itself woke late (timer granularity, CPU), the
request is timed from its write; that lag is reported apart as the client's.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

NS = 1_000_000_000
START_DELAY_NS = 200_000_000  # after every connection is open, before the first request


@dataclass(frozen=True)
class Window:
    """When sending starts, when counting starts (after the warm-up), and when both end."""

    start: int
    measured_from: int
    end: int

    @classmethod
    def starting_soon(cls, warmup: float, duration: float) -> Window:
        """A window starting :data:`START_DELAY_NS` from now; ``warmup`` and ``duration`` in s."""
        start = time.perf_counter_ns() + START_DELAY_NS
        measured_from = start + round(warmup * NS)
        return cls(start, measured_from, measured_from + round(duration * NS))

    def covered_ns(self) -> int:
        """How much of the measured window has passed (all of it once its end has)."""
        return min(time.perf_counter_ns(), self.end) - self.measured_from


@dataclass(frozen=True)
class Timing:
    """One request answered in the measured window."""

    latency_ns: int  # from its due time when the previous answer held it up, else its write
    from_schedule_ns: int  # from its due time
    client_lag_ns: int | None  # how late the client wrote it; None when it was held up


class OpenLoop:
    """The schedule of the connection in ``slot`` of ``connections`` sharing ``rate``."""

    def __init__(self, window: Window, rate: float, connections: int, slot: int) -> None:
        self._window = window
        self._period = round(NS * connections / rate)
        self._due = window.start + round(slot * self._period / connections)
        self._previous_done = 0

    async def next_due(self) -> bool:
        """Sleeps until the next request is due; False when it would fall after the window."""
        if self._due >= self._window.end:
            return False
        now = time.perf_counter_ns()
        if self._due > now:
            await asyncio.sleep((self._due - now) / NS)
        return True

    def answered(self, written: int, done: int) -> Timing | None:
        """The due request was written and answered then: its timing (None in the warm-up);
        the next request falls due one period later."""
        due, held_up = self._due, self._previous_done > self._due
        self._previous_done = done
        self._due += self._period
        if due < self._window.measured_from:
            return None
        return Timing(
            latency_ns=done - (due if held_up else written),
            from_schedule_ns=done - due,
            client_lag_ns=None if held_up else max(0, written - due),
        )
