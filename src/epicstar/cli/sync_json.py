"""``epicstar sync --json``: one JSON document for scripts, the same shape for a dry run.

``{"dry_run", "poll", "repositories": [...], "summary": {...}}``; the README's CLI section
describes every field. Numbers a dry run cannot know before fetching are ``null``.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from typing import Any

from epicstar.cli.formatting import describe_report
from epicstar.state.models import AttemptOutcome
from epicstar.sync.mirror_pass import PassReport
from epicstar.sync.plan import Plan, PlannedPass
from epicstar.sync.poll import PollReport
from epicstar.sync.runner import RunSummary


def run_document(summary: RunSummary, *, exit_code: int) -> dict[str, Any]:
    return {
        "dry_run": False,
        "poll": _poll(summary.poll),
        "repositories": [_report(report) for report in summary.reports],
        "summary": _summary(
            [report.outcome for report in summary.reports],
            poll_error=summary.poll_error,
            skipped_permanent=summary.skipped_permanent,
            aborted=summary.aborted,
            exit_code=exit_code,
        ),
    }


def plan_document(plan: Plan, *, exit_code: int) -> dict[str, Any]:
    return {
        "dry_run": True,
        "poll": _poll(plan.poll),
        "repositories": [_planned(planned) for planned in plan.passes],
        "summary": _summary(
            [planned.outcome for planned in plan.passes],
            poll_error=plan.poll_error,
            skipped_permanent=plan.skipped_permanent,
            aborted=None,
            exit_code=exit_code,
        ),
    }


def _poll(report: PollReport | None) -> dict[str, Any] | None:
    if report is None:
        return None
    return {
        "source": report.source,
        "requests": report.requests,
        "not_modified": report.not_modified,
        "full_walk": report.full_walk,
        "stars_seen": report.stars_seen,
        "changes": [
            {
                "kind": change.kind,
                "github_id": change.github_id,
                "full_name": change.full_name,
                "detail": change.detail or None,
            }
            for change in report.changes
        ],
    }


def _report(report: PassReport) -> dict[str, Any]:
    return {
        "github_id": report.github_id,
        "full_name": report.full_name,
        "onedev_path": report.onedev_path,
        "outcome": report.outcome.value if report.outcome is not None else None,
        "error": report.error,
        "project_created": report.project_created,
        "renamed_from": report.renamed_from,
        "refs_changed": report.refs_changed,
        "new_commits": report.new_commits,
        "bytes": report.bytes_fetched,
        "lfs": None if report.lfs is None else dataclasses.asdict(report.lfs),
        "wiki_refs_changed": report.wiki_refs_changed,
        "rewrites": [
            {
                "ref": rewrite.ref,
                "kind": rewrite.kind,
                "old": rewrite.old,
                "new": rewrite.new,
                "commits_lost": rewrite.commits_lost,
                "whole_repository": rewrite.whole_repository,
            }
            for rewrite in report.rewrites
        ],
        "held_refs": sorted(report.held),
        "seconds": round(report.seconds, 3),
        "detail": describe_report(report),
    }


def _planned(planned: PlannedPass) -> dict[str, Any]:
    return {
        "github_id": planned.github_id,
        "full_name": planned.full_name,
        "onedev_path": planned.onedev_path,
        "outcome": planned.outcome.value,
        "error": planned.error,
        "project_created": planned.project_created,
        "renamed_from": planned.renamed_from,
        "refs_changed": planned.refs_changed,
        "new_commits": None,
        "bytes": None,
        "lfs": None,
        "wiki_refs_changed": None,
        "rewrites": None,
        "held_refs": None,
        "seconds": None,
        "detail": planned.action,
    }


def _summary(
    outcomes: list[AttemptOutcome | None],
    *,
    poll_error: str | None,
    skipped_permanent: int,
    aborted: str | None,
    exit_code: int,
) -> dict[str, Any]:
    counts = Counter(outcome for outcome in outcomes if outcome is not None)
    return {
        "repositories": len(outcomes),
        "outcomes": {outcome.value: counts[outcome] for outcome in AttemptOutcome},
        "skipped_by_another_worker": sum(1 for outcome in outcomes if outcome is None),
        "skipped_permanent": skipped_permanent,
        "poll_error": poll_error,
        "aborted": aborted,
        "ok": exit_code == 0,
        "exit_code": exit_code,
    }
