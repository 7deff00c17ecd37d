"""The git steps of a pass: each tried again at once when it failed for a reason that
passes, and the push that makes a OneDev project's branches and tags a cache's."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from epicstar.mirror.cache import Refs, RepoCache
from epicstar.mirror.process import GitError
from epicstar.mirror.rejections import PushRejected
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


@dataclass
class PushTarget:
    """A OneDev project that a cache's branches and tags are pushed to."""

    project_id: int
    path: str
    default_branch: str | None
    """The branch its HEAD should name (GitHub's default branch)."""
    head: str | None
    """The branch OneDev's HEAD is known to name; None when unknown."""
    created: bool = False
    """Created by this pass: it holds nothing to prune."""
    keep: tuple[str, ...] = ()
    """Branches outside the mirror (restored history) that no prune may delete."""


def push_refs(
    ctx: SyncContext, cache: RepoCache, target: PushTarget, after: Refs, *, step: str = "push"
) -> int:
    """Make ``target``'s branches and tags ``after``; returns how many refs changed.

    git never deletes the branch a repository's HEAD is on. While OneDev's HEAD is known to
    be on a branch that stays, one push with prune does it all; otherwise (the default branch
    was renamed or deleted upstream, or OneDev's HEAD is unknown) creations and updates are
    pushed first, the default branch moves, and only then is the rest pruned.
    """
    destination = ctx.onedev.git_url(target.path)
    auth = ctx.onedev_auth()
    head = target.head

    def push_pruning() -> int:
        return git_step(ctx, step, lambda: cache.push(destination, auth, keep=target.keep)).changed

    if head is not None and f"refs/heads/{head}" in after:
        try:
            return push_pruning()
        except StepFailed as failed:
            if not (
                isinstance(failed.error, PushRejected) and failed.error.only_current_branch_kept
            ):
                raise
            target.head = None  # HEAD was moved in OneDev: it is unknown now
    changed = 0
    if after:
        changed += git_step(ctx, step, lambda: cache.push(destination, auth, prune=False)).changed
    ensure_default_branch(ctx, target, after)
    if not target.created:
        changed += push_pruning()
    return changed


def ensure_default_branch(ctx: SyncContext, target: PushTarget, refs: Refs) -> None:
    """Point ``target``'s HEAD at its default branch, once that branch is among ``refs``."""
    branch = target.default_branch
    if not branch or f"refs/heads/{branch}" not in refs or target.head == branch:
        return
    ctx.onedev.set_default_branch(target.project_id, branch)
    target.head = branch
