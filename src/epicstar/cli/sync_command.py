"""``epicstar sync``: a Rich progress bar over the whole run on a terminal, plain lines
otherwise (one per repository, as each pass ends); with ``--json``, the plain lines on stderr
and one JSON document on stdout. Failures are listed again at the end."""

from __future__ import annotations

import json
import os
import sys
from typing import TYPE_CHECKING, Any, TextIO

from epicstar.cli.formatting import (
    describe_change,
    describe_poll,
    describe_report,
    failure_lines,
    plan_summary_line,
    summary_line,
)
from epicstar.cli.sync_json import plan_document, run_document
from epicstar.config import Settings
from epicstar.notify import build_notifier
from epicstar.service.events import ServiceEvents
from epicstar.state.models import AttemptOutcome, Repository
from epicstar.sync.context import SyncContext, open_context
from epicstar.sync.mirror_pass import PassReport
from epicstar.sync.plan import plan_sync
from epicstar.sync.poll import PollReport
from epicstar.sync.runner import RunSummary, run_sync

if TYPE_CHECKING:
    from rich.console import Console


def run_sync_command(
    settings: Settings,
    *,
    force: bool,
    retry_failed: bool,
    full: bool,
    due_only: bool,
    as_json: bool = False,
) -> int:
    # Closed last: the run's notifications are delivered (for a bounded time) before exit.
    with (
        build_notifier(settings) as notifier,
        open_context(settings, events=ServiceEvents(None, notifier)) as ctx,
    ):
        options: dict[str, Any] = dict(
            force=force,
            retry_failed=retry_failed,
            poll=True,
            full_walk=full,
            due_only=due_only,
            jobs=settings.jobs,
        )
        if as_json:  # stdout holds the document alone
            summary = _with_lines(ctx, out=sys.stderr, **options)
        else:
            summary = sync_with_report(ctx, **options)
    code = 2 if summary.aborted else 0 if summary.ok else 1
    for line in failure_lines(summary):
        print(line, file=sys.stderr if as_json else sys.stdout)
    if summary.aborted:
        print(f"epicstar: error: {summary.aborted}", file=sys.stderr)
    if as_json:
        print(json.dumps(run_document(summary, exit_code=code), indent=2))
    elif not summary.aborted:
        print(summary_line(summary))
    return code


def run_dry_run(
    settings: Settings,
    *,
    force: bool,
    retry_failed: bool,
    full: bool,
    due_only: bool,
    as_json: bool = False,
) -> int:
    """Print the plan; its exit code is the one the real run would give, as far as reading
    can tell (1 when a repository would fail or a permanent failure would be left out)."""
    with open_context(settings) as ctx:
        plan = plan_sync(
            ctx, full_walk=full, retry_failed=retry_failed, due_only=due_only, force=force
        )
    code = 0 if plan.ok else 1
    if as_json:
        print(json.dumps(plan_document(plan, exit_code=code), indent=2))
        return code
    if plan.poll is not None:
        print(describe_poll(plan.poll))
    for line in plan.lines:
        print(f"  {line}")
    print(f"dry run: nothing was changed; {plan_summary_line(plan)}")
    return code


def sync_with_report(ctx: SyncContext, **options: Any) -> RunSummary:
    """Run a sync, showing the poll and each repository as it finishes."""
    if sys.stdout.isatty() or os.environ.get("FORCE_TERMINAL"):  # else no need to load Rich
        from rich.console import Console

        console = Console(highlight=False)
        if console.is_terminal:
            return _with_progress(console, ctx, **options)
    return _with_lines(ctx, **options)


def _with_lines(ctx: SyncContext, *, out: TextIO | None = None, **options: Any) -> RunSummary:
    out = out or sys.stdout

    def polled(report: PollReport) -> None:
        print(describe_poll(report), file=out, flush=True)
        for change in report.changes:
            print(f"    {describe_change(change)}", file=out, flush=True)

    total = finished_count = 0

    def started(repo: Repository, index: int, count: int) -> None:
        nonlocal total
        total = count

    def finished(report: PassReport) -> None:
        nonlocal finished_count
        finished_count += 1  # passes finish one at a time (the runner's lock)
        if not report.fatal:  # a fatal error is reported once, by the caller
            line = f"{report.full_name}: {describe_report(report)}"
            print(f"[{finished_count}/{total}] {line}", file=out, flush=True)

    return run_sync(ctx, on_poll=polled, on_start=started, on_finish=finished, **options)


def _with_progress(console: Console, ctx: SyncContext, **options: Any) -> RunSummary:
    """One bar over the whole run; above it, each pass that changed something or failed
    (an up-to-date repository only moves the bar)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    progress = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )
    task = progress.add_task("syncing", total=None)

    def started(repo: Repository, index: int, total: int) -> None:
        progress.update(task, total=total, description=f"syncing (last started: {repo.full_name})")

    def finished(report: PassReport) -> None:
        if not report.fatal and report.outcome != AttemptOutcome.UNCHANGED:
            progress.console.print(f"{report.full_name}: {describe_report(report)}", markup=False)
        progress.advance(task)

    def polled(report: PollReport) -> None:
        progress.console.print(describe_poll(report), markup=False)
        for change in report.changes:
            progress.console.print(f"  {describe_change(change)}", markup=False)

    with progress:
        return run_sync(ctx, on_poll=polled, on_start=started, on_finish=finished, **options)
