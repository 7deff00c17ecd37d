"""One mirror pass for one repository, recorded as one sync attempt.

lease → GitHub metadata (conditional) → OneDev project → compare advertised refs with the
last mirrored ones → fetch and push only when they differ → default branch → record.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

import structlog
from sqlalchemy import update
from sqlalchemy.orm import Session

from epicstar.discovery import SourceBlocked, SourceGone
from epicstar.mirror.cache import Refs, RepoCache
from epicstar.mirror.process import GitError
from epicstar.state import repositories
from epicstar.state.models import (
    AttemptOutcome,
    Repository,
    RepoState,
    SyncAttempt,
    SyncStatus,
)
from epicstar.sync.context import SyncContext
from epicstar.sync.failures import Failure, StepFailed, backoff, classify, jittered
from epicstar.sync.lease import LeaseKeeper
from epicstar.sync.metadata import apply_metadata
from epicstar.sync.placement import mirror_description
from epicstar.sync.visibility import check_private_mirror

log = structlog.get_logger("epicstar.sync")
T = TypeVar("T")


@dataclass
class PassReport:
    github_id: int
    full_name: str
    outcome: AttemptOutcome | None  # None: another worker holds the lease
    onedev_path: str | None = None
    project_created: bool = False
    refs_changed: int = 0
    refs_total: int = 0
    renamed_from: str | None = None
    new_commits: int | None = None
    bytes_fetched: int = 0
    seconds: float = 0.0
    error: str | None = None
    fatal: bool = False

    @property
    def failed(self) -> bool:
        return self.outcome in (AttemptOutcome.FAILED, AttemptOutcome.PERMANENT_FAILURE)


def mirror_once(
    ctx: SyncContext, github_id: int, *, trigger: str, force: bool = False
) -> PassReport:
    started = time.monotonic()
    with ctx.db.session() as session:
        repo = session.get(Repository, github_id)
        if repo is None:
            raise LookupError(f"repository {github_id} is not tracked")
        previous_status = repo.sync_status
        now = ctx.clock()
        # One holder per pass, not per process: threads of one worker share its context.
        holder = f"{ctx.worker_id}:{uuid.uuid4().hex[:8]}"
        leased = repositories.take_lease(session, github_id, holder, now=now, duration=ctx.lease)
        if not leased:
            return PassReport(github_id, repo.full_name, outcome=None)
        # The clock again: taking the lease may have waited for another holder's commit.
        started_at = ctx.clock()
        _close_abandoned_attempts(session, github_id, started_at)
        attempt = SyncAttempt(repository_id=github_id, trigger=trigger, started_at=started_at)
        session.add(attempt)
        session.flush()
        attempt_id = attempt.id
        session.refresh(repo)
        session.expunge(repo)

    report = PassReport(github_id, repo.full_name, outcome=None, onedev_path=repo.onedev_path)
    bound = log.bind(github_id=github_id, repository=repo.full_name, attempt=attempt_id)
    bound.info("pass.started", trigger=trigger)
    keeper = LeaseKeeper(ctx.db, github_id, holder, ctx.lease, ctx.clock)
    try:
        with keeper:
            _run(ctx, repo, report, force=force)
    except (SourceGone, SourceBlocked) as gone:
        _mark_gone(repo, gone, previous_status)
        report.outcome = (
            AttemptOutcome.SOURCE_GONE if isinstance(gone, SourceGone) else AttemptOutcome.BLOCKED
        )
        report.error = repo.error
    except Exception as error:  # every failure is recorded, then classified
        failure = classify(error)
        if failure.unexpected:
            bound.exception("pass.crashed")
        _mark_failed(ctx, repo, failure)
        report.outcome = AttemptOutcome(repo.sync_status)
        report.error = repo.error
        report.fatal = failure.fatal
    except BaseException:  # interrupted (Ctrl+C, shutdown): release the lease, keep no lie
        repo.sync_status = previous_status
        report.outcome = AttemptOutcome.FAILED
        report.error = "interrupted before the pass finished"
        report.seconds = time.monotonic() - started
        _record(ctx, repo, attempt_id, report)
        raise
    report.seconds = time.monotonic() - started
    report.full_name = repo.full_name
    report.onedev_path = repo.onedev_path
    _record(ctx, repo, attempt_id, report)
    bound.info(
        "pass.finished",
        outcome=report.outcome,
        refs_changed=report.refs_changed,
        new_commits=report.new_commits,
        bytes=report.bytes_fetched,
        seconds=round(report.seconds, 3),
        error=report.error,
    )
    return report


def _run(ctx: SyncContext, repo: Repository, report: PassReport, *, force: bool) -> None:
    response = ctx.github.get_repository(repo.full_name, etag=repo.metadata_etag)
    if response.repository is not None and response.repository.id != repo.github_id:
        # The name now belongs to another repository; ours is only known by its id now.
        response = ctx.github.get_repository_by_id(repo.github_id, etag=repo.metadata_etag)
    if response.repository is not None:
        previous_name = repo.full_name
        apply_metadata(repo, response.repository, response.etag)
        if repo.full_name != previous_name:
            report.renamed_from = previous_name
    if repo.disabled:
        repo.error = "disabled on GitHub: not fetched"
        repo.sync_status = SyncStatus.COMPLETED
        report.outcome = AttemptOutcome.UNCHANGED
        return

    owner, _, name = repo.full_name.partition("/")
    description = mirror_description(repo.github_id, repo.description, repo.html_url)

    def path_in_use(path: str) -> bool:
        with ctx.db.session() as session:
            return repositories.path_taken(session, path, except_id=repo.github_id)

    placement = ctx.placer.place(
        github_id=repo.github_id,
        owner=owner,
        name=name,
        stored_id=repo.onedev_project_id,
        stored_path=repo.onedev_path,
        description=description,
        path_in_use=path_in_use,
    )
    if placement.created or placement.project_id != repo.onedev_project_id:
        # A new or adopted project: nothing in it can be assumed.
        repo.mirrored_refs = None
        repo.onedev_default_branch = None
        repo.onedev_description = description if placement.created else None
    if (placement.project_id, placement.path) != (repo.onedev_project_id, repo.onedev_path):
        repo.onedev_project_id = placement.project_id
        repo.onedev_path = placement.path
        _save_placement(ctx, repo)
    report.project_created = placement.created
    report.onedev_path = placement.path

    if repo.private:
        check_private_mirror(ctx.onedev, placement.project_id, repo.full_name)
    if repo.onedev_description != description:
        ctx.onedev.set_description(placement.project_id, description)
        repo.onedev_description = description

    _mirror_refs(ctx, repo, report, force=force)
    report.refs_total = len(repo.mirrored_refs or {})
    _ensure_default_branch(ctx, repo)
    repo.sync_status = SyncStatus.COMPLETED
    repo.retry_count = 0
    repo.error = None
    repo.last_synced_at = ctx.clock()
    settings = ctx.settings
    interval = settings.archived_refresh_interval if repo.archived else settings.refresh_interval
    repo.next_due_at = ctx.clock() + jittered(interval)


def _mirror_refs(ctx: SyncContext, repo: Repository, report: PassReport, *, force: bool) -> None:
    if repo.clone_url is None:
        raise LookupError("GitHub gave no clone_url for this repository")
    cache = ctx.cache(repo.github_id, repo.size_kb)
    with cache.locked(wait=ctx.lease.total_seconds()):
        _transfer(ctx, repo, report, cache, repo.clone_url, force=force)


def _transfer(
    ctx: SyncContext,
    repo: Repository,
    report: PassReport,
    cache: RepoCache,
    source: str,
    *,
    force: bool,
) -> None:
    cache.ensure()
    source_auth = ctx.github_auth(source)
    mirrored = repo.mirrored_refs
    if mirrored is not None and not force:
        advertised = _step("ls-remote", lambda: cache.remote_refs(source, source_auth))
        if advertised == mirrored:
            report.outcome = AttemptOutcome.UNCHANGED
            return

    before = cache.local_refs()
    bytes_before = cache.object_bytes()
    _step("fetch", lambda: cache.fetch(source, source_auth))
    after = cache.local_refs()
    report.bytes_fetched = max(0, cache.object_bytes() - bytes_before)
    report.new_commits = _new_commits(cache, before, after)

    destination = ctx.onedev.git_url(repo.onedev_path or "")
    if after or mirrored:
        pushed = _step("push", lambda: cache.push(destination, ctx.onedev_auth()))
        report.refs_changed = pushed.changed
    repo.mirrored_refs = after
    report.outcome = AttemptOutcome.MIRRORED


def _new_commits(cache: RepoCache, before: Refs, after: Refs) -> int | None:
    tips = sorted({sha for name, sha in after.items() if before.get(name) != sha})
    try:
        return cache.count_commits(tips, sorted(set(before.values())))
    except GitError:
        return None


def _ensure_default_branch(ctx: SyncContext, repo: Repository) -> None:
    branch = repo.default_branch
    refs = repo.mirrored_refs or {}
    if not branch or f"refs/heads/{branch}" not in refs or repo.onedev_project_id is None:
        return
    if repo.onedev_default_branch == branch:
        return
    ctx.onedev.set_default_branch(repo.onedev_project_id, branch)
    repo.onedev_default_branch = branch


def _step(step: str, action: Callable[[], T]) -> T:
    try:
        return action()
    except GitError as error:
        raise StepFailed(step, error) from error


def _mark_gone(repo: Repository, gone: SourceGone | SourceBlocked, previous: str) -> None:
    if isinstance(gone, SourceBlocked):
        repo.state = RepoState.BLOCKED
        repo.state_reason = gone.reason
    else:
        repo.state = RepoState.SOURCE_GONE
        repo.state_reason = "404"
    repo.error = f"{gone}; the mirror in OneDev is kept as it was"
    repo.sync_status = previous if previous != SyncStatus.IN_PROGRESS else SyncStatus.PENDING
    repo.next_due_at = None


def _mark_failed(ctx: SyncContext, repo: Repository, failure: Failure) -> None:
    repo.error = _redact(failure.message, ctx.secrets)
    repo.retry_count += 1
    if failure.permanent or repo.retry_count >= ctx.settings.max_attempts:
        repo.sync_status = SyncStatus.PERMANENT_FAILURE
        repo.next_due_at = None
        return
    repo.sync_status = SyncStatus.FAILED
    delay = backoff(
        repo.retry_count, base=ctx.settings.retry_base_delay, cap=ctx.settings.retry_max_delay
    )
    repo.next_due_at = max(ctx.clock() + delay, failure.retry_at or ctx.clock())


def _save_placement(ctx: SyncContext, repo: Repository) -> None:
    """Store the chosen project at once, so a crash later in the pass cannot lose it."""
    with ctx.db.session() as session:
        row = session.get(Repository, repo.github_id)
        if row is not None:
            row.onedev_project_id = repo.onedev_project_id
            row.onedev_path = repo.onedev_path
            row.mirrored_refs = repo.mirrored_refs
            row.onedev_default_branch = repo.onedev_default_branch
            row.onedev_description = repo.onedev_description


def _record(ctx: SyncContext, repo: Repository, attempt_id: int, report: PassReport) -> None:
    finished: datetime = ctx.clock()
    with ctx.db.session() as session:
        merged = session.merge(repo)
        merged.lease_owner = None
        merged.lease_expires_at = None
        attempt = session.get(SyncAttempt, attempt_id)
        if attempt is not None:
            attempt.finished_at = finished
            attempt.outcome = report.outcome
            attempt.refs_changed = report.refs_changed
            attempt.new_commits = report.new_commits
            attempt.bytes_fetched = report.bytes_fetched
            attempt.error = report.error


def _close_abandoned_attempts(session: Session, github_id: int, now: datetime) -> None:
    """Attempts of a pass whose worker died (its lease lapsed) are closed as failed."""
    session.execute(
        update(SyncAttempt)
        .where(SyncAttempt.repository_id == github_id, SyncAttempt.finished_at.is_(None))
        .values(
            finished_at=now,
            outcome=AttemptOutcome.FAILED,
            error="the worker stopped before the pass finished; its lease lapsed",
        )
        .execution_options(synchronize_session=False)
    )


def _redact(text: str, secrets: list[str]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text
