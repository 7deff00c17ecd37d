"""A git step of a pass, tried again at once when it failed for a reason that passes."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from epicstar.mirror.process import GitError
from epicstar.sync.context import SyncContext, interruptible_sleep
from epicstar.sync.failures import StepFailed

T = TypeVar("T")


def git_step(ctx: SyncContext, step: str, action: Callable[[], T]) -> T:
    """``action()``, tried again when the server or the network failed for a moment (fetch,
    push and ls-remote with explicit refspecs can be repeated safely); a failure that stays
    is raised as :class:`StepFailed` named ``step``."""
    try:
        return ctx.retry.run(
            action,
            transient=lambda error: isinstance(error, GitError) and error.transient,
            what=f"git {step}",
            sleep=interruptible_sleep(ctx.stopping),
        )
    except GitError as error:
        raise StepFailed(step, error) from error
