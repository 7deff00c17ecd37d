"""One sync run: every repository that should be mirrored gets one pass, ``jobs`` at a time."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

from epicstar.discovery import GitHubAuthError, GitHubError
from epicstar.state.models import Repository
from epicstar.sync.context import SyncContext
from epicstar.sync.mirror_pass import PassReport, mirror_once
from epicstar.sync.poll import PollReport, poll_stars, stars_source
from epicstar.sync.selection import (
    needing_metadata,
    reset_permanent_failures,
    select_repositories,
)


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
    jobs: int = 1,
    on_poll: Callable[[PollReport], None] | None = None,
    on_start: Callable[[Repository, int, int], None] | None = None,
    on_finish: Callable[[PassReport], None] | None = None,
) -> RunSummary:
    """Optionally poll the starred list first, then give every repository one pass, up to
    ``jobs`` passes at once.

    ``on_start`` and ``on_finish`` are called from the threads that run the passes, one call
    at a time. A fatal failure (a wrong token, a full disk) starts no further pass; those
    already running finish. ``summary.reports`` keeps the order of the selection.
    """
    summary = RunSummary()
    preflight(ctx)
    if poll and stars_source(ctx) is not None:
        with ctx.db.session() as session:
            wanted = needing_metadata(
                session, retry_failed=retry_failed, due_only=due_only, now=ctx.clock()
            )
        try:
            summary.poll = poll_stars(ctx, full=full_walk, metadata_wanted=wanted)
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
    summary.skipped_permanent = selection.skipped_permanent
    run = _Passes(ctx, selection.todo, trigger=trigger, force=force)
    ctx.described = summary.poll.described if summary.poll is not None else frozenset()
    try:
        summary.reports, summary.aborted = run.all(jobs, on_start=on_start, on_finish=on_finish)
    finally:
        ctx.described = frozenset()
    return summary


class _Passes:
    """The passes of one run, handed out one repository at a time to ``jobs`` threads."""

    def __init__(
        self, ctx: SyncContext, todo: Sequence[Repository], *, trigger: str, force: bool
    ) -> None:
        self._ctx = ctx
        self._todo = todo
        self._trigger = trigger
        self._force = force
        self._lock = threading.Lock()
        self._next = 0
        self._started = 0
        self._reports: dict[int, PassReport] = {}
        self._aborted: str | None = None
        self._stopped = False
        self._error: BaseException | None = None

    def all(
        self,
        jobs: int,
        *,
        on_start: Callable[[Repository, int, int], None] | None,
        on_finish: Callable[[PassReport], None] | None,
    ) -> tuple[list[PassReport], str | None]:
        def work() -> None:
            try:
                for position, repo in self._handed_out():
                    self._run_one(position, repo, on_start=on_start, on_finish=on_finish)
            except BaseException as error:  # Ctrl+C, or a pass that could not even begin
                self._give_way(error)

        threads = [
            threading.Thread(target=work, name=f"epicstar-pass-{number}", daemon=True)
            for number in range(1, min(max(jobs, 1), len(self._todo)))
        ]
        for thread in threads:
            thread.start()
        work()  # this thread runs passes too: with one job, no thread is started
        try:
            for thread in threads:
                thread.join()
        except BaseException as error:  # Ctrl+C while the last passes run
            self._give_way(error)
            for thread in threads:
                thread.join()
        if self._error is not None:
            raise self._error
        return [self._reports[position] for position in sorted(self._reports)], self._aborted

    def _give_way(self, error: BaseException) -> None:
        """No further pass starts; on Ctrl+C the running ones stop their git and record
        themselves as interrupted."""
        with self._lock:
            self._error = self._error or error
            self._stopped = True
        if not isinstance(error, Exception):
            self._ctx.stop_reason = "interrupted"
            self._ctx.stopping.set()

    def _run_one(
        self,
        position: int,
        repo: Repository,
        *,
        on_start: Callable[[Repository, int, int], None] | None,
        on_finish: Callable[[PassReport], None] | None,
    ) -> None:
        with self._lock:
            self._started += 1
            if on_start is not None:
                on_start(repo, self._started, len(self._todo))
        report = mirror_once(
            self._ctx,
            repo.github_id,
            trigger=self._trigger,
            force=self._force,
            wait=self._ctx.lease_wait,
        )
        with self._lock:
            self._reports[position] = report
            if report.fatal:
                self._stopped = True
                self._aborted = self._aborted or report.error
            if on_finish is not None:
                on_finish(report)

    def _handed_out(self) -> Iterator[tuple[int, Repository]]:
        while True:
            with self._lock:
                if self._stopped or self._next >= len(self._todo):
                    return
                position = self._next
                self._next += 1
            yield position, self._todo[position]


def preflight(ctx: SyncContext) -> None:
    """A wrong URL or token stops the run before any repository is touched."""
    ctx.onedev.server_version()
    ctx.github.check_token()
