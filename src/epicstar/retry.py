"""Try a step again, a few times within seconds, when it failed for a reason that passes.

A 502 from a proxy, a reset connection or a server restarting usually clears up in a second;
such a failure should not cost a repository its pass. Only steps that are safe to repeat
(reads, full replaces, git fetch and push with explicit refspecs, or a create that looks its
result up first) go through here. Rate limits are not this module's business (see
:mod:`epicstar.discovery.ratelimit`): they ask for minutes, not seconds.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import structlog
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential_jitter,
)

__all__ = ["DEFAULT_RETRY", "RetryPolicy", "Transient"]

T = TypeVar("T")
log = structlog.get_logger("epicstar.retry")


class Transient(Exception):
    """A failure worth trying again at once; ``retry_after`` is the server's own wish, if any."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(frozen=True)
class RetryPolicy:
    """``tries`` in all (the first included), waiting ``first_wait`` seconds, then double,
    up to ``max_wait`` (plus up to 25 % jitter); a server's ``retry-after`` replaces the wait.
    No more than ``budget`` seconds are spent waiting in all: a longer wait gives up instead.
    """

    tries: int = 4
    first_wait: float = 0.5
    max_wait: float = 2.0
    budget: float = 8.0

    def run(
        self,
        action: Callable[[], T],
        *,
        transient: Callable[[BaseException], bool],
        what: str,
        sleep: Callable[[float], None] = time.sleep,
    ) -> T:
        """``action()``, tried again while it raises an error that ``transient`` accepts;
        the last error is raised as it was once the tries or the budget run out."""
        backoff = wait_exponential_jitter(
            multiplier=self.first_wait, max=self.max_wait, exp_base=2, jitter=self.first_wait / 4
        )

        def wait(state: RetryCallState) -> float:
            asked = _retry_after(state)
            return asked if asked is not None else backoff(state)

        def stop(state: RetryCallState) -> bool:
            return (
                stop_after_attempt(self.tries)(state)
                or state.idle_for + state.upcoming_sleep > self.budget
            )

        def note(state: RetryCallState) -> None:
            error = state.outcome.exception() if state.outcome is not None else None
            log.warning(
                "retry.transient",
                step=what,
                attempt=state.attempt_number,
                wait=round(state.upcoming_sleep, 2),
                error=str(error),
            )

        retrying = Retrying(
            retry=retry_if_exception(transient),
            wait=wait,
            stop=stop,
            sleep=sleep,
            before_sleep=note,
            reraise=True,
        )
        return retrying(action)


def _retry_after(state: RetryCallState) -> float | None:
    error = state.outcome.exception() if state.outcome is not None else None
    return error.retry_after if isinstance(error, Transient) else None


DEFAULT_RETRY = RetryPolicy()
