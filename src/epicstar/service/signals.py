"""SIGINT and SIGTERM for a service: the first asks for a stop, any later one hurries it."""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Callable, Iterator
from types import FrameType

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@contextlib.contextmanager
def stop_signals(*, first: Callable[[], None], later: Callable[[], None]) -> Iterator[None]:
    """While inside, the first SIGINT or SIGTERM calls ``first``, every other one ``later``."""
    seen = 0

    def handle(_signum: int, _frame: FrameType | None) -> None:
        nonlocal seen
        seen += 1
        (first if seen == 1 else later)()

    previous = {sig: signal.signal(sig, handle) for sig in STOP_SIGNALS}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
