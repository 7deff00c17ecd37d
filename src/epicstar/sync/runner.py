"""One sync run: every repository that should be mirrored gets one pass, one at a time."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from epicstar.discovery import GitHubAuthError, GitHubError
from epicstar.state.models import Repository
from epicstar.sync.context import SyncContext
from epicstar.sync.mirror_pass import PassReport, mirror_once
from epicstar.sync.poll import PollReport, poll_stars, stars_source
from epicstar.sync.selection import reset_permanent_failures, select_repositories


@dataclass
class RunSummary:
    reports: list[PassReport] = field(default_factory=list)
    aborted: str | None = None
    skipped_permanent: int = 0
    poll: PollReport | None = None
    poll_error: str | None = None  # the starred list could not be read this time

    @property
    def ok(self) -> bool:
        """Every repository that should be mirrored is up to date.

        A repository whose source is gone or blocked is no longer one that can be mirrored:
        it changes state, its mirror is kept, and it does not fail the run.
        """
        if self.aborted or self.skipped_permanent or self.poll_error or self.not_done:
            return False
        return not any(report.failed for report in self.reports)

    @property
    def not_done(self) -> int:
        """Repositories left alone because another pass held them throughout the wait."""
        return sum(1 for report in self.reports if report.outcome is None)


def run_sync(
    ctx: SyncContext,
    *,
    force: bool = False,
    retry_failed: bool = False,
    due_only: bool = False,
    trigger: str = "cli",
    poll: bool = False,
    full_walk: bool = False,
    on_poll: Callable[[PollReport], None] | None = None,
    on_start: Callable[[Repository, int, int], None] | None = None,
    on_finish: Callable[[PassReport], None] | None = None,
) -> RunSummary:
    """Optionally poll the starred list first, then give every repository one pass."""
    summary = RunSummary()
    preflight(ctx)
    if poll and stars_source(ctx) is not None:
        try:
            summary.poll = poll_stars(ctx, full=full_walk)
        except GitHubAuthError:
            raise
        except GitHubError as error:
            # Known repositories are still mirrored; the run reports the poll as failed.
            summary.poll_error = str(error)
        if summary.poll is not None and on_poll is not None:
            on_poll(summary.poll)
    with ctx.db.session() as session:
        selection = select_repositories(
            session, retry_failed=retry_failed, due_only=due_only, now=ctx.clock()
        )
        if retry_failed:
            reset_permanent_failures(session)
    todo = selection.todo
    summary.skipped_permanent = selection.skipped_permanent
    for index, repo in enumerate(todo, start=1):
        if on_start is not None:
            on_start(repo, index, len(todo))
        report = mirror_once(ctx, repo.github_id, trigger=trigger, force=force, wait=ctx.lease_wait)
        summary.reports.append(report)
        if on_finish is not None:
            on_finish(report)
        if report.fatal:
            summary.aborted = report.error
            break
    return summary


def preflight(ctx: SyncContext) -> None:
    """A wrong URL or token stops the run before any repository is touched."""
    ctx.onedev.server_version()
    ctx.github.check_token()
