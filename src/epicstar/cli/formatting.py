"""Words and numbers for people: one line per pass, one line per run."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

from epicstar.state.models import AttemptOutcome
from epicstar.sync.holder import describe_holder

if TYPE_CHECKING:
    from epicstar.sync.mirror_pass import PassReport
    from epicstar.sync.plan import Plan
    from epicstar.sync.poll import PollReport
    from epicstar.sync.runner import RunSummary
    from epicstar.sync.stars import Change


def size(count: int) -> str:
    value = float(count)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GiB"


def plural(count: int, noun: str, nouns: str | None = None) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {nouns or noun + 's'}"


def describe_report(report: PassReport) -> str:
    took = f"{report.seconds:.1f}s"
    where = f" -> {report.onedev_path}" if report.onedev_path else ""
    if report.renamed_from:
        where += f" (renamed on GitHub from {report.renamed_from})"
    if report.outcome is None:
        holder = describe_holder(report.held_by) if report.held_by else "another worker"
        return f"not done: {holder} is mirroring it and held it throughout the wait"
    if report.outcome == AttemptOutcome.MIRRORED and report.refs_total == 0:
        created = "new project; " if report.project_created else ""
        return f"{created}the repository has no commits yet, nothing to push{where}"
    if report.outcome == AttemptOutcome.MIRRORED:
        created = "new project, " if report.project_created else ""
        commits = (
            f", {plural(report.new_commits, 'new commit')}"
            if report.new_commits is not None
            else ""
        )
        return (
            f"mirrored ({created}{plural(report.refs_changed, 'ref')} updated{commits}, "
            f"{size(report.bytes_fetched)} fetched) in {took}{where}{_extras(report)}"
        )
    if report.outcome == AttemptOutcome.UNCHANGED:
        return f"up to date in {took}{where}{_extras(report)}"
    return f"{report.outcome}: {report.error}"


def _extras(report: PassReport) -> str:
    """What the pass did beside the code: LFS objects and the wiki."""
    parts = []
    lfs = report.lfs
    if lfs is not None:
        words = f"LFS: {plural(lfs.objects_fetched, 'object')} ({size(lfs.bytes_fetched)}) fetched"
        words += f", {lfs.objects_pushed} pushed"
        if lfs.missing:
            words += f", {lfs.missing} NOT mirrored (see `epicstar status`)"
        parts.append(words)
    if report.wiki_refs_changed:
        parts.append(f"wiki: {plural(report.wiki_refs_changed, 'ref')} updated")
    if report.rewrites:
        rewritten = plural(len(report.rewrites), "ref")
        whole = " (the whole history)" if report.rewrites[0].whole_repository else ""
        parts.append(
            f"{rewritten} rewritten or deleted on GitHub{whole}, old tips kept "
            f"(`epicstar history {report.full_name}`)"
        )
    if report.held:
        parts.append(
            f"HELD: {', '.join(sorted(report.held))} left as they were in OneDev "
            f"(`epicstar approve {report.full_name}` applies them)"
        )
    return "".join(f"; {part}" for part in parts)


def failure_lines(summary: RunSummary) -> list[str]:
    """The repositories that failed or were not done, again at the end of a long run; none
    when a fatal error stopped it (that error is the one thing to say)."""
    if summary.aborted:
        return []
    left = [report for report in summary.reports if report.failed or report.outcome is None]
    if not left:
        return []
    heading = f"{plural(len(left), 'repository', 'repositories')} not mirrored this time:"
    return [heading, *(f"  {report.full_name}: {describe_report(report)}" for report in left)]


def summary_line(summary: RunSummary) -> str:
    if not summary.reports and not summary.skipped_permanent and not summary.poll_error:
        return "No repositories to mirror yet: `epicstar add OWNER/NAME`."
    parts = _outcome_counts(
        [report.outcome for report in summary.reports],
        ("mirrored", "up to date"),
        lambda outcome: outcome,
    )
    if summary.not_done:
        parts.append(f"{summary.not_done} not done (held by another worker)")
    line = f"{plural(len(summary.reports), 'repository', 'repositories')}: " + ", ".join(parts)
    return line + _left_out(summary.poll_error, summary.skipped_permanent)


def plan_summary_line(plan: Plan) -> str:
    """What the dry run expects the real run's summary line to say."""
    parts = _outcome_counts(
        [planned.outcome for planned in plan.passes],
        ("to mirror", "up to date"),
        lambda outcome: f"would end {outcome}",
    )
    line = f"{plural(len(plan.passes), 'repository', 'repositories')}: " + ", ".join(parts)
    return line + _left_out(plan.poll_error, plan.skipped_permanent)


def _outcome_counts(
    outcomes: list[AttemptOutcome | None],
    labels: tuple[str, str],
    other: Callable[[str], str],
) -> list[str]:
    """``N mirrored, N up to date`` (under ``labels``), then each other outcome that occurs."""
    counts = Counter(outcomes)
    parts = [
        f"{counts[AttemptOutcome.MIRRORED]} {labels[0]}",
        f"{counts[AttemptOutcome.UNCHANGED]} {labels[1]}",
    ]
    for outcome in (
        AttemptOutcome.FAILED,
        AttemptOutcome.PERMANENT_FAILURE,
        AttemptOutcome.SOURCE_GONE,
        AttemptOutcome.BLOCKED,
        AttemptOutcome.INTERRUPTED,  # never planned
    ):
        if counts[outcome]:
            parts.append(f"{counts[outcome]} {other(outcome.value.replace('_', ' '))}")
    return parts


def _left_out(poll_error: str | None, skipped_permanent: int) -> str:
    text = ""
    if poll_error:
        text += f"; the starred list could not be read ({poll_error})"
    if skipped_permanent:
        text += (
            f"; {skipped_permanent} in permanent failure not retried "
            "(see `epicstar status`, then `epicstar sync --retry-failed`)"
        )
    return text


def describe_poll(report: PollReport) -> str:
    who = f"stars of {report.source}"
    cost = plural(report.requests, "request")
    if report.not_modified:
        return f"{who}: unchanged since the last poll ({cost}, answered 304: free)"
    walk = "full walk" if report.full_walk else "quick poll"
    changes = plural(len(report.changes), "change")
    return f"{who}: {walk} of {report.stars_seen} stars in {cost}, {changes}"


def describe_change(change: Change) -> str:
    detail = f": {change.detail}" if change.detail else ""
    return f"{change.kind:8} {change.full_name}{detail}"


def when(moment: datetime | None) -> str:
    if moment is None:
        return "never"
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")
