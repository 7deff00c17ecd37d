"""What a pass does with the branches and tags GitHub overwrote or deleted.

Each old tip is kept in the cache (:mod:`epicstar.mirror.rewrites`) and recorded. Under
``EPICSTAR_REWRITE_POLICY=mirror`` the mirror then follows GitHub; under ``hold`` the cache's
ref is put back to its old tip, so the push leaves OneDev's as it was, and the repository
waits for ``epicstar approve``. A rewrite already recorded (held, then approved) is the same
rewrite on later passes: it is not recorded or announced again.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import structlog
from sqlalchemy import select

from epicstar.mirror.cache import Refs, RepoCache
from epicstar.mirror.rewrites import Rewrite, find_rewrites, preserve
from epicstar.state.models import RefRewrite, Repository, RewriteStatus
from epicstar.sync.context import SyncContext

log = structlog.get_logger("epicstar.sync")

OPEN = (RewriteStatus.HELD, RewriteStatus.APPROVED)


@dataclass
class RewriteStep:
    refs: Refs
    """What the mirror holds once the pass is done: GitHub's refs, held ones at old tips."""
    found: list[Rewrite] = field(default_factory=list)
    """Rewrites seen for the first time, their old tips kept."""
    held: dict[str, str | None] = field(default_factory=dict)
    """Refs held back: ref → GitHub's tip (None: deleted there)."""
    settled: dict[int, tuple[str, str | None]] = field(default_factory=dict)
    """Rewrites recorded before whose status changed: id → (status, GitHub's tip)."""


def upstream_refs(repo: Repository) -> Refs | None:
    """The refs GitHub advertised at the last fetch: those mirrored, with held ones at the tips
    GitHub gave them. An unchanged repository advertises exactly these."""
    if repo.mirrored_refs is None:
        return None
    refs = dict(repo.mirrored_refs)
    for ref, tip in (repo.held_refs or {}).items():
        if tip is None:
            refs.pop(ref, None)
        else:
            refs[ref] = tip
    return refs


def settle_rewrites(
    ctx: SyncContext,
    repo: Repository,
    cache: RepoCache,
    before: Refs,
    after: Refs,
    *,
    check_present: bool = False,
) -> RewriteStep:
    """Find what moving the cache from ``before`` to ``after`` overwrote, keep it, and decide
    (by the policy and the approvals) which refs follow GitHub.

    ``check_present``: ``before`` may name objects the cache lacks (an agent's cache emptied
    and pushed again); those cannot be kept and are left out.
    """
    if check_present:
        gone = cache.missing([old for ref, old in before.items() if after.get(ref) != old])
        before = {ref: old for ref, old in before.items() if old not in gone}
    found = find_rewrites(cache, before, after)
    hold = ctx.settings.rewrite_policy == "hold"
    if not found and not repo.held_refs and not hold:
        return RewriteStep(refs=after)
    step = RewriteStep(refs=dict(after))
    fresh = _decide(step, found, _open_rewrites(ctx, repo.github_id), hold=hold)
    if fresh:
        step.found = preserve(cache, fresh, ctx.clock())
    if step.held:
        log.info("pass.held", refs=sorted(step.held))
        kept_back = {ref: before[ref] for ref in step.held}
        cache.set_refs(kept_back)
        step.refs.update(kept_back)
    return step


def _decide(
    step: RewriteStep, found: list[Rewrite], open_rows: dict[str, RefRewrite], *, hold: bool
) -> list[Rewrite]:
    """Which rewrites are held and which recorded ones settle; returns those seen first."""
    fresh = []
    for rewrite in found:
        row = open_rows.pop(rewrite.ref, None)
        if row is None or row.old_sha != rewrite.old:
            if row is not None:
                step.settled[row.id] = (RewriteStatus.WITHDRAWN, row.new_sha)
            fresh.append(rewrite)
            if hold:
                step.held[rewrite.ref] = rewrite.new
        elif row.status == RewriteStatus.APPROVED or not hold:
            step.settled[row.id] = (RewriteStatus.APPLIED, rewrite.new)
        else:
            step.held[rewrite.ref] = rewrite.new
            if row.new_sha != rewrite.new:
                step.settled[row.id] = (RewriteStatus.HELD, rewrite.new)
    for row in open_rows.values():  # GitHub put the ref back before anyone approved
        step.settled[row.id] = (RewriteStatus.WITHDRAWN, row.new_sha)
    return fresh


def _open_rewrites(ctx: SyncContext, github_id: int) -> dict[str, RefRewrite]:
    with ctx.db.session() as session:
        rows = session.scalars(
            select(RefRewrite).where(
                RefRewrite.repository_id == github_id, RefRewrite.status.in_(OPEN)
            )
        ).all()
        session.expunge_all()
    return {row.ref: row for row in rows}
