"""``epicstar sync``: a Rich progress display on a terminal, plain lines otherwise."""

from __future__ import annotations

import sys

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from epicstar.cli.formatting import describe_report, summary_line
from epicstar.config import Settings
from epicstar.state.models import Repository
from epicstar.sync.context import SyncContext, open_context
from epicstar.sync.mirror_pass import PassReport
from epicstar.sync.runner import RunSummary, run_sync


def run_sync_command(settings: Settings, *, force: bool, retry_failed: bool) -> int:
    with open_context(settings) as ctx:
        summary = sync_with_report(ctx, force=force, retry_failed=retry_failed)
    if summary.aborted:
        print(f"epicstar: error: {summary.aborted}", file=sys.stderr)
        return 2
    print(summary_line(summary))
    return 0 if summary.ok else 1


def sync_with_report(
    ctx: SyncContext, *, force: bool = False, retry_failed: bool = False
) -> RunSummary:
    """Run a sync, showing each repository as it finishes."""
    console = Console(highlight=False)
    if console.is_terminal:
        return _with_progress(console, ctx, force=force, retry_failed=retry_failed)
    return _with_lines(ctx, force=force, retry_failed=retry_failed)


def _with_lines(ctx: SyncContext, *, force: bool, retry_failed: bool) -> RunSummary:
    def started(repo: Repository, index: int, total: int) -> None:
        print(f"[{index}/{total}] {repo.full_name} ...", flush=True)

    def finished(report: PassReport) -> None:
        if not report.fatal:  # a fatal error is reported once, by the caller
            print(f"    {describe_report(report)}", flush=True)

    return run_sync(
        ctx, force=force, retry_failed=retry_failed, on_start=started, on_finish=finished
    )


def _with_progress(
    console: Console, ctx: SyncContext, *, force: bool, retry_failed: bool
) -> RunSummary:
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
        progress.update(task, total=total, completed=index - 1, description=repo.full_name)

    def finished(report: PassReport) -> None:
        if not report.fatal:
            progress.console.print(f"{report.full_name}: {describe_report(report)}")
        progress.advance(task)

    with progress:
        return run_sync(
            ctx, force=force, retry_failed=retry_failed, on_start=started, on_finish=finished
        )
