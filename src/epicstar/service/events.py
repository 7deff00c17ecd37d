"""What passes and polls tell the operator: Prometheus counters and Apprise notifications."""

from __future__ import annotations

from typing import TYPE_CHECKING

import structlog

from epicstar.state.models import AttemptOutcome, SyncStatus

if TYPE_CHECKING:  # `epicstar sync` has no metrics, so loads no Prometheus client
    from epicstar.metrics import Metrics
    from epicstar.notify import Notifier
    from epicstar.sync.mirror_pass import PassReport

log = structlog.get_logger("epicstar.service")


class ServiceEvents:
    """The service's :class:`epicstar.sync.context.SyncEvents`; it never raises.

    ``epicstar sync`` uses it without metrics: a process that exits at once has no scraper.
    """

    def __init__(self, metrics: Metrics | None, notifier: Notifier) -> None:
        self.metrics = metrics
        self.notifier = notifier

    def pass_finished(self, report: PassReport) -> None:
        try:
            self._pass_finished(report)
        except Exception:
            log.exception("events.failed", github_id=report.github_id)

    def _pass_finished(self, report: PassReport) -> None:
        if report.outcome is None:
            return
        if self.metrics is not None:
            self.metrics.observe_pass(report.outcome, report.seconds, report.bytes_fetched)
            self.metrics.observe_rewrites([rewrite.kind for rewrite in report.rewrites])
        if report.rewrites:
            self.notifier.rewritten(
                report.full_name,
                report.github_id,
                report.rewrites,
                held=any(r.ref in report.held for r in report.rewrites),
                onedev_path=report.onedev_path,
            )
        if report.project_created and report.onedev_path:
            self.notifier.new_mirror(report.full_name, report.github_id, report.onedev_path)
        if (
            report.outcome == AttemptOutcome.PERMANENT_FAILURE
            and report.previous_status != SyncStatus.PERMANENT_FAILURE
        ):
            self.notifier.permanent_failure(
                report.full_name,
                report.github_id,
                report.error,
                report.attempts,
                onedev_path=report.onedev_path,
            )
        elif (
            report.outcome in (AttemptOutcome.SOURCE_GONE, AttemptOutcome.BLOCKED)
            and report.previous_state != report.outcome  # not a look again at a lost one
        ):
            self.source_lost(report.github_id, report.full_name, report.outcome, report.error or "")

    def source_lost(self, github_id: int, full_name: str, state: str, reason: str) -> None:
        try:
            self.notifier.source_lost(full_name, github_id, state, reason)
        except Exception:
            log.exception("events.failed", github_id=github_id)
