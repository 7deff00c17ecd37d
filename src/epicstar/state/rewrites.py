"""The rewrites table: what GitHub overwrote or deleted, held back, approved or restored."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from epicstar.state.audit import Actor, record_change, repository_target
from epicstar.state.models import RefRewrite, Repository, RewriteStatus, SyncStatus


def of_repository(
    session: Session, github_id: int, *, status: RewriteStatus | None = None
) -> list[RefRewrite]:
    """A repository's rewrites (only those of ``status``, if given), newest first."""
    return list(session.scalars(_newest_first(github_id, status)))


def counts(session: Session, github_ids: Sequence[int] | None = None) -> dict[int, int]:
    """How many rewrites each repository has (those with none are left out)."""
    query = select(RefRewrite.repository_id, func.count()).group_by(RefRewrite.repository_id)
    if github_ids is not None:
        query = query.where(RefRewrite.repository_id.in_(list(github_ids)))
    return {github_id: count for github_id, count in session.execute(query).all()}


def rewrite_view(row: RefRewrite) -> dict[str, Any]:
    """One rewrite as ``epicstar history --json`` and the API show it."""
    return {
        "id": row.id,
        "ref": row.ref,
        "kind": row.kind,
        "old": row.old_sha,
        "new": row.new_sha,
        "commits_lost": row.commits_lost,
        "commits_lost_at_least": row.commits_lost_partial,
        "whole_repository": row.whole_repository,
        "status": row.status,
        "found_at": _iso(row.found_at),
        "attempt_id": row.attempt_id,
        "kept_as": row.kept_as,
        "approved_at": _iso(row.approved_at),
        "approved_by": row.approved_by,
        "restored_as": row.restored_as,
        "restored_at": _iso(row.restored_at),
    }


def approve(session: Session, repo: Repository, *, actor: Actor, now: datetime) -> list[str]:
    """Let the next pass apply every rewrite held back for ``repo``, audited; the refs
    approved (none: nothing was held). Take ``repo`` locked
    (:func:`epicstar.state.repositories.locked`).

    The repository is due at once; its held refs are forgotten, so that pass fetches."""
    rows = of_repository(session, repo.github_id, status=RewriteStatus.HELD)
    refs = sorted(set(repo.held_refs or {}) | {row.ref for row in rows})
    if not refs:
        return []
    for row in rows:
        row.status = RewriteStatus.APPROVED
        row.approved_at, row.approved_by = now, actor.describe()
    repo.held_refs = None
    if repo.sync_status == SyncStatus.HELD:
        repo.sync_status = SyncStatus.PENDING
    repo.next_due_at = now
    record_change(
        session,
        actor,
        "repository.rewrites_approved",
        repository_target(repo.github_id, repo.full_name),
        {"refs": refs},
    )
    return refs


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def page_of(
    session: Session,
    github_id: int,
    *,
    status: RewriteStatus | None = None,
    offset: int = 0,
    limit: int = 50,
) -> tuple[list[RefRewrite], int]:
    """A page of a repository's rewrites, newest first (only those of ``status``, if given),
    and how many there are in all."""
    query = _newest_first(github_id, status)
    total = session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    rows = session.scalars(query.offset(offset).limit(limit))
    return list(rows), total or 0


def _newest_first(github_id: int, status: RewriteStatus | None) -> Select[RefRewrite]:
    query = select(RefRewrite).where(RefRewrite.repository_id == github_id)
    if status is not None:
        query = query.where(RefRewrite.status == status)
    return query.order_by(RefRewrite.found_at.desc(), RefRewrite.id.desc())
