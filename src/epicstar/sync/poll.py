"""One poll of the starred list: read it, reconcile the table, carry out the unstar policy."""

from __future__ import annotations

from dataclasses import dataclass, field

import structlog

from epicstar.state.models import Repository
from epicstar.sync.context import SyncContext
from epicstar.sync.filters import Filters
from epicstar.sync.stars import (
    Change,
    full_walk_due,
    list_state,
    newest_known_stars,
    reconcile,
    walk_stars,
)
from epicstar.sync.unstarred import apply_unstar_policy, restore_from_holding

log = structlog.get_logger("epicstar.stars")


@dataclass
class PollReport:
    source: str  # whose stars
    changes: list[Change] = field(default_factory=list)
    requests: int = 0
    not_modified: bool = False
    full_walk: bool = False
    stars_seen: int = 0
    dry_run: bool = False


def stars_source(ctx: SyncContext) -> str | None:
    """Whose starred list to read, or None when neither a token nor a user is configured."""
    if ctx.settings.github_user:
        return ctx.settings.github_user
    if ctx.settings.github_token is not None:
        return "the token's user"
    return None


def poll_stars(ctx: SyncContext, *, full: bool = False, dry_run: bool = False) -> PollReport:
    user = ctx.settings.github_user
    report = PollReport(source=stars_source(ctx) or "", dry_run=dry_run)
    now = ctx.clock()
    with ctx.db.session() as session:
        state = list_state(session, user, lock=not dry_run)
        full = full or full_walk_due(state, now, ctx.settings.full_walk_interval)
        walk = walk_stars(
            ctx.github,
            user,
            etag=state.first_page_etag,
            newest_known=newest_known_stars(session),
            full=full,
        )
        report.requests = walk.requests
        report.not_modified = walk.not_modified
        report.full_walk = walk.complete
        report.stars_seen = len(walk.stars)
        report.changes = reconcile(ctx, session, walk, Filters.from_settings(ctx.settings), now)
        if dry_run:
            session.rollback()
            return report
        state.first_page_etag = walk.etag
        state.last_poll_at = now
        if walk.complete:
            state.last_full_walk_at = now
            state.stars = len(walk.stars)
    _carry_out(ctx, report)
    for change in report.changes:
        if change.kind in ("gone", "blocked"):
            lost = "source_gone" if change.kind == "gone" else "blocked"
            ctx.events.source_lost(change.github_id, change.full_name, lost, change.detail)
    log.info(
        "stars.polled",
        requests=report.requests,
        not_modified=report.not_modified,
        full_walk=report.full_walk,
        changes=len(report.changes),
    )
    return report


def _carry_out(ctx: SyncContext, report: PollReport) -> None:
    """OneDev side of unstars and re-stars, one repository at a time, after the table."""
    for index, change in enumerate(report.changes):
        if change.kind not in ("unstar", "restar"):
            continue
        with ctx.db.session() as session:
            row = session.get(Repository, change.github_id)
            if row is None:
                continue
            try:
                if change.kind == "unstar":
                    done = apply_unstar_policy(ctx, row)
                else:
                    done = restore_from_holding(ctx, row) or "mirror in place"
            except Exception as error:  # recorded on the row; the poll goes on
                row.error = f"{change.kind}: {error}"
                done = f"failed: {error}"
            report.changes[index] = Change(change.kind, change.github_id, change.full_name, done)
