"""One mirror pass for one repository, recorded as one sync attempt.

lease → GitHub metadata (conditional) → OneDev project → compare advertised refs with the
last mirrored ones → fetch and push only when they differ (the default branch moves before
its old branch is pruned) → default branch → the wiki, likewise → record.

A repository in ``agent`` mode is never fetched from GitHub, nor is GitHub asked about it: an
agent pushes it into the cache (:mod:`epicstar.web.agent_git`) and the pass pushes the cache's
refs to OneDev when they differ from the last mirrored ones. Until the agent's first push
there is nothing to mirror: the pass records that as unchanged, and OneDev is not touched.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import structlog
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from epicstar import feed
from epicstar.discovery import SourceBlocked, SourceGone
from epicstar.mirror.cache import Refs, RepoCache
from epicstar.mirror.process import GitError
from epicstar.mirror.rewrites import Rewrite, kept_tips
from epicstar.state import repositories
from epicstar.state.models import (
    AttemptOutcome,
    FeedSource,
    Origin,
    RefRewrite,
    Repository,
    RepoState,
    RewriteStatus,
    SyncAttempt,
    SyncMethod,
    SyncStatus,
)
from epicstar.sync.context import SyncContext
from epicstar.sync.failures import Failure, backoff, classify, jittered
from epicstar.sync.holder import holder_is_gone
from epicstar.sync.lease import LeaseKeeper
from epicstar.sync.lfs_step import LfsTally, lfs_due, mirror_lfs
from epicstar.sync.metadata import refresh_metadata
from epicstar.sync.placement import mirror_description
from epicstar.sync.restore import restored_branches
from epicstar.sync.rewrite_step import RewriteStep, settle_rewrites, upstream_refs
from epicstar.sync.steps import PushTarget, ensure_default_branch, git_step, push_refs
from epicstar.sync.unstarred import restore_from_holding
from epicstar.sync.visibility import check_private_mirror, check_private_parents
from epicstar.sync.wiki_step import mirror_wiki

log = structlog.get_logger("epicstar.sync")

LEASE_LOOK_AGAIN = 0.5
"""Seconds between looks at a lease another pass holds, while waiting for it."""


@dataclass
class PassReport:
    github_id: int
    full_name: str
    outcome: AttemptOutcome | None  # None: not done, another pass holds the lease
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
    previous_status: str | None = None
    previous_state: str | None = None
    attempts: int = 0  # failed attempts in a row, this one included
    held_by: str | None = None  # the holder of the lease that kept this pass from running
    feed_rows: list[feed.FeedRow] = field(default_factory=list, repr=False)
    """What the pass adds to the feed of what is new, stored with its outcome."""
    lfs: LfsTally | None = None
    """What the LFS part did; None when it had nothing to do."""
    wiki_refs_changed: int | None = None
    """Refs of the wiki mirror that changed; None when the wiki was not looked at."""
    rewrites: list[Rewrite] = field(default_factory=list)
    """Branches and tags GitHub overwrote or deleted, first seen by this pass, their old tips
    kept in the cache."""
    held: dict[str, str | None] = field(default_factory=dict)
    """Refs held back by EPICSTAR_REWRITE_POLICY=hold: ref → GitHub's tip."""
    settled: dict[int, tuple[str, str | None]] = field(default_factory=dict, repr=False)
    """Rewrites recorded by earlier passes whose status this pass changed."""

    @property
    def failed(self) -> bool:
        return self.outcome in (
            AttemptOutcome.FAILED,
            AttemptOutcome.PERMANENT_FAILURE,
            AttemptOutcome.INTERRUPTED,
        )


@dataclass
class _Pass:
    """A pass that holds its repository's lease and has opened its attempt."""

    repo: Repository
    holder: str
    pass_id: str
    attempt_id: int
    previous_status: str
    started: float
    leased_at: datetime
    decided: tuple[object, ...]
    """The repository's :data:`_DECISION` when the pass began."""


_DECISION = ("state", "state_reason", "origin", "unstarred_at")
"""Whether and why a repository is mirrored: decided by people, the starred list and the
filters. A pass decides it only when it finds the source lost or back; if anyone else
decided while it ran (a removal through the API, an unstar), theirs stands, with the due
time they gave."""


def mirror_once(
    ctx: SyncContext,
    github_id: int,
    *,
    trigger: str,
    force: bool = False,
    wait: timedelta = timedelta(0),
) -> PassReport:
    """One pass; with ``wait``, wait that long for another live pass to release the lease."""
    begun = _begin(ctx, github_id, trigger, wait)
    if isinstance(begun, PassReport):
        return begun
    with structlog.contextvars.bound_contextvars(
        correlation_id=f"pass-{begun.pass_id}", github_id=github_id, attempt=begun.attempt_id
    ):
        log.info("pass.started", repository=begun.repo.full_name, trigger=trigger)
        report = _carry_out(ctx, begun, force=force)
        log.info(
            "pass.finished",
            repository=report.full_name,
            outcome=report.outcome,
            refs_changed=report.refs_changed,
            new_commits=report.new_commits,
            bytes=report.bytes_fetched,
            seconds=round(report.seconds, 3),
            error=report.error,
        )
        ctx.events.pass_finished(report)
    return report


def _begin(ctx: SyncContext, github_id: int, trigger: str, wait: timedelta) -> _Pass | PassReport:
    """Take the lease and open the attempt; a report with no outcome when that can't be.

    A lease held by a process of this machine that is gone is taken over at once; one held
    by a live pass (or one this machine cannot check) is waited for, up to ``wait``.
    """
    started = time.monotonic()
    pass_id = uuid.uuid4().hex[:12]
    # One holder per pass, not per process: threads of one worker share its context.
    holder = f"{ctx.worker_id}:{pass_id}"
    while True:
        with ctx.db.session() as session:
            repo = session.get(Repository, github_id)
            if repo is None:
                raise LookupError(f"repository {github_id} is not tracked")
            if ctx.stopping.is_set():
                return PassReport(github_id, repo.full_name, outcome=None)
            previous_status = repo.sync_status
            now = ctx.clock()
            held_by = repositories.lease_holder(session, github_id, now=now)
            gone = held_by if held_by is not None and holder_is_gone(held_by) else None
            if repositories.take_lease(
                session, github_id, holder, now=now, duration=ctx.lease, from_holder=gone
            ):
                if gone is not None:
                    log.info("lease.taken_over", github_id=github_id, holder=gone)
                why = "its process is gone" if gone is not None else "its lease lapsed"
                attempt_id = _open_attempt(ctx, session, repo, trigger, why)
                return _Pass(
                    repo,
                    holder,
                    pass_id,
                    attempt_id,
                    previous_status,
                    time.monotonic(),
                    now,
                    _decision_of(repo),
                )
        remaining = wait.total_seconds() - (time.monotonic() - started)
        if remaining <= 0 or ctx.stopping.wait(min(LEASE_LOOK_AGAIN, remaining)):
            return PassReport(github_id, repo.full_name, outcome=None, held_by=held_by)


def _open_attempt(
    ctx: SyncContext, session: Session, repo: Repository, trigger: str, why: str
) -> int:
    """Close the attempts a dead pass left open (``why`` it died) and open this one."""
    # The clock again: taking the lease may have waited for another holder's commit.
    started_at = ctx.clock()
    _close_abandoned_attempts(session, repo.github_id, started_at, why)
    attempt = SyncAttempt(repository_id=repo.github_id, trigger=trigger, started_at=started_at)
    session.add(attempt)
    session.flush()
    session.refresh(repo)
    session.expunge(repo)
    return attempt.id


def _carry_out(ctx: SyncContext, begun: _Pass, *, force: bool) -> PassReport:
    """Run the pass under its lease, classify how it ended, and record that."""
    repo, previous = begun.repo, begun.previous_status
    report = PassReport(
        repo.github_id,
        repo.full_name,
        outcome=None,
        onedev_path=repo.onedev_path,
        previous_status=previous,
        previous_state=repo.state,
    )
    try:
        with LeaseKeeper(ctx.db, repo.github_id, begun.holder, ctx.lease, ctx.clock):
            _run(ctx, repo, report, force=force)
    except (SourceGone, SourceBlocked) as gone:
        _mark_gone(ctx, repo, gone, previous)
        report.outcome = (
            AttemptOutcome.SOURCE_GONE if isinstance(gone, SourceGone) else AttemptOutcome.BLOCKED
        )
        report.error = repo.error
    except Exception as error:  # every failure is recorded, then classified
        if ctx.stopping.is_set():
            _mark_interrupted(ctx, repo, report, previous, ctx.stop_reason)
        else:
            failure = classify(error)
            if failure.unexpected:
                log.exception("pass.crashed")
            _mark_failed(ctx, repo, failure)
            report.outcome = AttemptOutcome(repo.sync_status)
            report.error = repo.error
            report.fatal = failure.fatal
    except BaseException:  # Ctrl+C: release the lease, keep no lie, then stop
        _mark_interrupted(ctx, repo, report, previous, "interrupted")
        report.seconds = time.monotonic() - begun.started
        _record(ctx, repo, begun, report)
        raise
    report.seconds = time.monotonic() - begun.started
    report.full_name = repo.full_name
    report.onedev_path = repo.onedev_path
    report.attempts = repo.retry_count
    _record(ctx, repo, begun, report)
    return report


def _run(ctx: SyncContext, repo: Repository, report: PassReport, *, force: bool) -> None:
    if repo.sync_method == SyncMethod.AGENT:
        if _awaits_agent(ctx, repo):
            _wait_for_agent(ctx, repo, report)
            return
    elif repo.state in repositories.LOST_STATES or repo.github_id not in ctx.described:
        report.renamed_from = refresh_metadata(ctx.github, repo)
        if repo.state in repositories.LOST_STATES:
            # Added by hand and looked at again on its schedule: GitHub serves it again.
            repo.state, repo.state_reason = RepoState.ACTIVE, None
    if repo.disabled:
        repo.error = "disabled on GitHub: not fetched"
        repo.sync_status = SyncStatus.COMPLETED
        repo.next_due_at = _next_refresh(ctx, repo)
        report.outcome = AttemptOutcome.UNCHANGED
        return

    # Mirrored again after an unstar moved it away (policy `move`), e.g. added by hand.
    restore_from_holding(ctx, repo)
    owner, _, name = repo.full_name.partition("/")
    description = mirror_description(repo.github_id, repo.description, repo.html_url)

    def path_in_use(path: str) -> bool:
        with ctx.db.session() as session:
            return repositories.path_taken(session, path, except_id=repo.github_id)

    def vet_parent(parent_path: str) -> None:
        if repo.private:
            check_private_parents(ctx.onedev, parent_path, repo.full_name)

    placement = ctx.placer.place(
        github_id=repo.github_id,
        owner=owner,
        name=name,
        stored_id=repo.onedev_project_id,
        stored_path=repo.onedev_path,
        description=description,
        path_in_use=path_in_use,
        vet_parent=vet_parent,
    )
    if placement.created or placement.project_id != repo.onedev_project_id:
        # A new or adopted project: nothing in it can be assumed.
        repo.mirrored_refs = None
        repo.lfs_refs = None
        repo.onedev_default_branch = None
        repo.onedev_description = description if placement.created else None
        repo.wiki_refs = None
        repo.wiki_onedev_default_branch = None
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
    _ensure_default_branch(ctx, repo, repo.mirrored_refs or {})
    report.wiki_refs_changed = mirror_wiki(ctx, repo, force=force, kept=report.rewrites)
    if report.wiki_refs_changed and report.outcome == AttemptOutcome.UNCHANGED:
        report.outcome = AttemptOutcome.MIRRORED
    repo.sync_status = SyncStatus.HELD if repo.held_refs else SyncStatus.COMPLETED
    repo.retry_count = 0
    repo.error = None
    repo.last_synced_at = ctx.clock()
    repo.next_due_at = _next_refresh(ctx, repo)


def _awaits_agent(ctx: SyncContext, repo: Repository) -> bool:
    """Whether the agent has pushed nothing yet: an empty cache, or none at all."""
    return not ctx.cache(repo.github_id, repo.size_kb).local_refs()


def _wait_for_agent(ctx: SyncContext, repo: Repository, report: PassReport) -> None:
    """Nothing to mirror until the agent pushes: no failure, and what OneDev holds stays.

    A repository never mirrored stays pending; its agent's push asks for the next pass.
    """
    repo.sync_status = SyncStatus.PENDING if repo.mirrored_refs is None else SyncStatus.COMPLETED
    repo.retry_count = 0
    repo.error = None
    repo.next_due_at = _next_refresh(ctx, repo)
    report.outcome = AttemptOutcome.UNCHANGED


def _next_refresh(ctx: SyncContext, repo: Repository) -> datetime:
    settings = ctx.settings
    interval = settings.archived_refresh_interval if repo.archived else settings.refresh_interval
    return ctx.clock() + jittered(interval)


def _mirror_refs(ctx: SyncContext, repo: Repository, report: PassReport, *, force: bool) -> None:
    if repo.sync_method == SyncMethod.AGENT:
        cache = ctx.cache(repo.github_id, repo.size_kb)
        with cache.locked(wait=ctx.lease.total_seconds()):
            _mirror_cache(ctx, repo, report, cache, force=force)
        return
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
        advertised = git_step(ctx, "ls-remote", lambda: cache.remote_refs(source, source_auth))
        if advertised == upstream_refs(repo) and not _cache_lacks_lfs_refs(ctx, repo, cache):
            report.outcome = AttemptOutcome.UNCHANGED
            report.lfs = mirror_lfs(ctx, repo, cache, source)
            return

    before = cache.local_refs()
    bytes_before = cache.object_bytes()
    git_step(ctx, "fetch", lambda: cache.fetch(source, source_auth))
    after = cache.local_refs()
    before = _recover_overwritten(ctx, repo, cache, before, after)
    after = _settle(report, repo, settle_rewrites(ctx, repo, cache, before, after))
    report.bytes_fetched = max(0, cache.object_bytes() - bytes_before)
    report.new_commits = _new_commits(cache, before, after)
    report.feed_rows = _feed_rows(repo, cache, mirrored, after)

    if after or mirrored:
        report.refs_changed = _push(ctx, repo, report, cache, after)
    repo.mirrored_refs = after
    report.outcome = AttemptOutcome.MIRRORED
    report.lfs = mirror_lfs(ctx, repo, cache, source, force=force)


def _recover_overwritten(
    ctx: SyncContext, repo: Repository, cache: RepoCache, before: Refs, after: Refs
) -> Refs:
    """``before``, and the refs OneDev holds that GitHub changed but the cache had lost (it
    was deleted): their objects are fetched back from OneDev when the cache lacks them, so
    that what GitHub overwrote can still be kept. Costs nothing unless the cache lost refs."""
    lost = {
        ref: sha
        for ref, sha in (repo.mirrored_refs or {}).items()
        if ref not in before and after.get(ref) != sha
    }
    if lost:  # a pass whose push failed may have kept them already
        kept = kept_tips(cache)
        lost = {ref: sha for ref, sha in lost.items() if (ref, sha) not in kept}
    if not lost or repo.onedev_path is None:
        return before
    if missing := cache.missing(sorted(set(lost.values()))):
        url = ctx.onedev.git_url(repo.onedev_path)
        git_step(ctx, "fetch from OneDev", lambda: cache.fetch_objects(url, ctx.onedev_auth()))
        missing = cache.missing(sorted(missing))
    return {**{ref: sha for ref, sha in lost.items() if sha not in missing}, **before}


def _settle(report: PassReport, repo: Repository, step: RewriteStep) -> Refs:
    """Take what :func:`settle_rewrites` decided; the refs the mirror is to hold."""
    report.rewrites, report.held, report.settled = step.found, step.held, step.settled
    repo.held_refs = step.held or None
    return step.refs


def _cache_lacks_lfs_refs(ctx: SyncContext, repo: Repository, cache: RepoCache) -> bool:
    """Whether LFS is due on refs the cache no longer holds (it was removed, say): they must
    be fetched again before their history can be read."""
    if not lfs_due(ctx, repo):
        return False
    return bool(cache.missing(sorted(set((repo.mirrored_refs or {}).values()))))


def _mirror_cache(
    ctx: SyncContext, repo: Repository, report: PassReport, cache: RepoCache, *, force: bool
) -> None:
    """What the agent pushed into the cache, to OneDev (a cache emptied meanwhile never
    empties the mirror)."""
    mirrored = repo.mirrored_refs
    after = cache.local_refs()
    cache.tidy()
    if not after or (after == mirrored and not force):
        report.outcome = AttemptOutcome.UNCHANGED
        return
    before = mirrored or {}
    after = _settle(
        report, repo, settle_rewrites(ctx, repo, cache, before, after, check_present=True)
    )
    report.new_commits = _new_commits(cache, before, after)
    report.feed_rows = _feed_rows(repo, cache, mirrored, after)
    report.refs_changed = _push(ctx, repo, report, cache, after)
    repo.mirrored_refs = after
    report.outcome = AttemptOutcome.MIRRORED


def _push(
    ctx: SyncContext, repo: Repository, report: PassReport, cache: RepoCache, after: Refs
) -> int:
    """Make OneDev's branches and tags ``after`` (:func:`push_refs`); how many changed."""
    target = _push_target(repo, report)
    target.keep = restored_branches(ctx, repo.github_id, wiki=False)
    try:
        return push_refs(ctx, cache, target, after)
    finally:
        repo.onedev_default_branch = target.head


def _push_target(repo: Repository, report: PassReport | None = None) -> PushTarget:
    assert repo.onedev_project_id is not None  # placed before anything is pushed
    return PushTarget(
        project_id=repo.onedev_project_id,
        path=repo.onedev_path or "",
        default_branch=repo.default_branch,
        head=repo.onedev_default_branch,
        created=report is not None and report.project_created,
    )


def _new_commits(cache: RepoCache, before: Refs, after: Refs) -> int | None:
    tips = sorted({sha for name, sha in after.items() if before.get(name) != sha})
    try:
        return cache.count_commits(tips, sorted(set(before.values())))
    except GitError:
        return None


def _feed_rows(
    repo: Repository, cache: RepoCache, mirrored: Refs | None, after: Refs
) -> list[feed.FeedRow]:
    """What is new since the refs last mirrored (an agent posts its commits itself); the
    mirror does not fail for a feed that cannot be read."""
    try:
        return feed.pass_rows(
            cache,
            mirrored,
            after,
            default_branch=repo.default_branch,
            commits=repo.sync_method != SyncMethod.AGENT,
        )
    except (GitError, ValueError):
        log.warning("feed.unreadable", exc_info=True)
        return []


def _ensure_default_branch(ctx: SyncContext, repo: Repository, refs: Refs) -> None:
    if repo.onedev_project_id is None:
        return
    target = _push_target(repo)
    ensure_default_branch(ctx, target, refs)
    repo.onedev_default_branch = target.head


def _mark_gone(
    ctx: SyncContext, repo: Repository, gone: SourceGone | SourceBlocked, previous: str
) -> None:
    """The mirror is kept; a repository added by hand is looked at again at its next refresh
    (no starred list can tell when it is back)."""
    if isinstance(gone, SourceBlocked):
        repo.state = RepoState.BLOCKED
        repo.state_reason = gone.reason
    else:
        repo.state = RepoState.SOURCE_GONE
        repo.state_reason = "404"
    repo.error = f"{gone}; the mirror in OneDev is kept as it was"
    repo.sync_status = previous if previous != SyncStatus.IN_PROGRESS else SyncStatus.PENDING
    repo.next_due_at = None
    if repo.origin == Origin.MANUAL:
        repo.error += "; GitHub is asked again at each refresh"
        repo.next_due_at = _next_refresh(ctx, repo)


def _mark_interrupted(
    ctx: SyncContext, repo: Repository, report: PassReport, previous: str, why: str
) -> None:
    """Give the repository back as it was, due at once; an interruption is not a failure."""
    repo.sync_status = previous if previous != SyncStatus.IN_PROGRESS else SyncStatus.PENDING
    repo.next_due_at = ctx.clock()
    report.outcome = AttemptOutcome.INTERRUPTED
    report.error = f"{why} before the pass finished; it runs again"


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


def _record(ctx: SyncContext, repo: Repository, begun: _Pass, report: PassReport) -> None:
    """Store the attempt, and the repository's new state if this pass still holds its lease.

    A pass whose lease lapsed (the database was unreachable for a lease's length) may have
    been overtaken by another worker; its view of the row is stale and must not win.
    """
    finished: datetime = ctx.clock()
    with ctx.db.session() as session:
        # A write first: it locks the row (and, on SQLite, the database) before reading it.
        still_held = session.execute(
            update(Repository)
            .where(Repository.github_id == repo.github_id, Repository.lease_owner == begun.holder)
            .values(lease_owner=begun.holder)
            .execution_options(synchronize_session=False)
        )
        if getattr(still_held, "rowcount", 0) == 1:
            stored = session.get(Repository, repo.github_id, populate_existing=True)
            assert stored is not None  # the lease is held: the row is there
            due = stored.next_due_at
            if _decision_of(stored) != begun.decided:
                _keep_decision(repo, stored)
            elif due is not None and due > begun.leased_at and repo.next_due_at is not None:
                # Made due while the pass ran (a push webhook): what it saw may be stale.
                repo.next_due_at = min(repo.next_due_at, due)
            if repo.held_refs:
                _drop_approved(session, repo)
            merged = session.merge(repo)
            merged.lease_owner = None
            merged.lease_expires_at = None
            # The copy carries the time the lease was taken; the row changed now (the
            # dashboard's live updates watch this column).
            merged.updated_at = finished
            if report.outcome == AttemptOutcome.MIRRORED and report.feed_rows:
                feed.store(
                    session,
                    repo.github_id,
                    report.feed_rows,
                    source=FeedSource.PASS,
                    seen_at=finished,
                )
        else:
            log.warning("pass.lease_lost")
            report.error = "; ".join(
                filter(None, [report.error, "the lease was lost: its outcome was not kept"])
            )
        _record_rewrites(session, repo.github_id, begun.attempt_id, report, finished)
        attempt = session.get(SyncAttempt, begun.attempt_id)
        if attempt is not None:
            attempt.finished_at = finished
            attempt.outcome = report.outcome
            attempt.refs_changed = report.refs_changed
            attempt.new_commits = report.new_commits
            attempt.bytes_fetched = report.bytes_fetched
            attempt.wiki_refs_changed = report.wiki_refs_changed
            if report.lfs is not None:
                attempt.lfs_objects_fetched = report.lfs.objects_fetched
                attempt.lfs_bytes_fetched = report.lfs.bytes_fetched
                attempt.lfs_objects_pushed = report.lfs.objects_pushed
                attempt.lfs_bytes_pushed = report.lfs.bytes_pushed
                attempt.lfs_missing = report.lfs.missing
            attempt.error = report.error


def _record_rewrites(
    session: Session, github_id: int, attempt_id: int, report: PassReport, now: datetime
) -> None:
    """Store the rewrites the pass found, and the new status of those it settled; kept even
    when the lease was lost (their old tips are in the cache)."""
    for rewrite in report.rewrites:
        session.add(
            RefRewrite(
                repository_id=github_id,
                attempt_id=attempt_id,
                ref=rewrite.ref,
                old_sha=rewrite.old,
                new_sha=rewrite.new,
                kind=rewrite.kind,
                commits_lost=rewrite.commits_lost,
                commits_lost_partial=rewrite.commits_lost_partial,
                kept_as=rewrite.kept_as,
                whole_repository=rewrite.whole_repository,
                status=RewriteStatus.HELD if rewrite.ref in report.held else RewriteStatus.APPLIED,
                found_at=now,
            )
        )
    for rewrite_id, (status, new) in report.settled.items():
        row = session.get(RefRewrite, rewrite_id)
        if row is None:
            continue
        # Approved while the pass ran: it stays so, and the next pass applies it.
        if not (row.status == RewriteStatus.APPROVED and status == RewriteStatus.HELD):
            row.status = status
        row.new_sha = new


def _drop_approved(session: Session, repo: Repository) -> None:
    """Refs approved while the pass ran are held no longer: the next pass fetches them."""
    approved = set(
        session.scalars(
            select(RefRewrite.ref).where(
                RefRewrite.repository_id == repo.github_id,
                RefRewrite.status == RewriteStatus.APPROVED,
            )
        )
    )
    held = {ref: tip for ref, tip in (repo.held_refs or {}).items() if ref not in approved}
    if held != repo.held_refs:
        repo.held_refs = held or None
        if not held and repo.sync_status == SyncStatus.HELD:
            repo.sync_status = SyncStatus.COMPLETED


def _decision_of(repo: Repository) -> tuple[object, ...]:
    return tuple(getattr(repo, name) for name in _DECISION)


def _keep_decision(repo: Repository, stored: Repository) -> None:
    for name in (*_DECISION, "next_due_at"):
        setattr(repo, name, getattr(stored, name))


def _close_abandoned_attempts(session: Session, github_id: int, now: datetime, why: str) -> None:
    """Attempts of a pass whose worker died are closed as failed."""
    session.execute(
        update(SyncAttempt)
        .where(SyncAttempt.repository_id == github_id, SyncAttempt.finished_at.is_(None))
        .values(
            finished_at=now,
            outcome=AttemptOutcome.FAILED,
            error=f"the worker stopped before the pass finished; {why}",
        )
        .execution_options(synchronize_session=False)
    )


def _redact(text: str, secrets: list[str]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text
