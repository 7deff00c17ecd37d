"""How a run is shown: a line per repository (Rich progress on a terminal), a summary line,
or with ``--json`` one JSON document."""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TextIO

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from epicstar.agent.delivery import Delivery, Outcome
from epicstar.agent.run import Hooks, RunReport, StarsRead


def describe_stars(stars: StarsRead) -> str:
    if stars.not_modified and not stars.changes:
        read = "unchanged (answered from its ETag)"
    else:
        read = f"{stars.stars} read" + (", the whole list" if stars.full_walk else "")
    changes = f", {len(stars.changes)} changes" if stars.changes else ""
    return f"stars: {read}{changes} ({stars.requests} requests)"


def describe_delivery(delivery: Delivery) -> str:
    parts = [delivery.outcome]
    if delivery.refs_changed:
        parts.append(f"{delivery.refs_changed} refs")
    if delivery.commits_posted:
        verb = "to post" if delivery.outcome == Outcome.WOULD_DELIVER else "posted"
        parts.append(f"{delivery.commits_posted} commits {verb}")
    if delivery.detail:
        parts.append(delivery.detail)
    if delivery.error:
        parts.append(delivery.error)
    return f"{delivery.full_name}: " + "; ".join(parts)


def summary_line(report: RunReport) -> str:
    counts = Counter(delivery.outcome for delivery in report.deliveries)
    said = ", ".join(f"{count} {outcome}" for outcome, count in sorted(counts.items()))
    prefix = "dry run, nothing was changed on the server: " if report.dry_run else ""
    return f"{prefix}{said or 'nothing to deliver'}"


def document(report: RunReport) -> dict[str, Any]:
    """The ``--json`` document."""
    return {
        "dry_run": report.dry_run,
        "ok": report.ok,
        "exit_code": report.exit_code,
        "aborted": report.aborted,
        "stars": {
            "requests": report.stars.requests,
            "not_modified": report.stars.not_modified,
            "full_walk": report.stars.full_walk,
            "changes": [
                {"kind": c.kind, "github_id": c.github_id, "full_name": c.full_name}
                for c in report.stars.changes
            ],
        },
        "repositories": [
            {
                "github_id": d.github_id,
                "full_name": d.full_name,
                "outcome": d.outcome,
                "refs_changed": d.refs_changed,
                "commits_posted": d.commits_posted,
                "detail": d.detail or None,
                "error": d.error,
            }
            for d in report.deliveries
        ],
    }


def line_hooks(out: TextIO | None = None) -> Hooks:
    """Plain lines, flushed as they come (for logs and pipes)."""

    def say(text: str) -> None:
        print(text, file=out or sys.stdout, flush=True)

    return Hooks(
        polled=lambda stars: say(describe_stars(stars)),
        finished=lambda delivery: say(describe_delivery(delivery)),
    )


@contextmanager
def progress_hooks(console: Console) -> Iterator[Hooks]:
    """A progress bar over the repositories, with a line for each as it finishes."""
    progress = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )
    task = progress.add_task("reading stars", total=None)

    def started(full_name: str, index: int, total: int) -> None:
        progress.update(task, total=total, completed=index - 1, description=full_name)

    def finished(delivery: Delivery) -> None:
        progress.console.print(describe_delivery(delivery), markup=False, highlight=False)
        progress.advance(task)

    with progress:
        yield Hooks(
            polled=lambda stars: progress.console.print(describe_stars(stars), markup=False),
            started=started,
            finished=finished,
        )
