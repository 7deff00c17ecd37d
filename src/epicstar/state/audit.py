"""The audit log: every change made through the API or the key commands, written in the
transaction of the change itself, so one is never recorded without the other."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from epicstar.state.models import AuditEntry, utcnow

ACTIONS = (
    "key.created",
    "key.revoked",
    "repository.added",
    "repository.removed",
    "repository.sync_requested",
    "repository.retry_requested",
    "repository.sync_method_changed",
    "repository.rewrites_approved",
    "repository.rewrite_restored",
    "repository.restored_branch_removed",
    "stars.poll_requested",
    "webhook.replayed",
)


@dataclass(frozen=True)
class Actor:
    """Who made a change: an API key (by id, name and prefix, never the key) or the CLI."""

    kind: str  # "key", "user" (signed in by a trusted proxy; its name in key_name) or "cli"
    key_id: int | None = None
    key_name: str | None = None
    key_prefix: str | None = None
    address: str | None = None

    def describe(self) -> str:
        if self.kind == "key":
            return f"API key {self.key_name!r} (esk_{self.key_prefix}_…)"
        if self.kind == "user":
            return f"user {self.key_name!r} (signed in by the proxy)"
        return "the command line"


CLI = Actor("cli")


def repository_target(github_id: int, full_name: str) -> str:
    """How an entry names the repository it changed."""
    return f"repository {github_id} ({full_name})"


def record_change(
    session: Session,
    actor: Actor,
    action: str,
    target: str | None,
    details: dict[str, Any] | None = None,
    *,
    at: datetime | None = None,
) -> AuditEntry:
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}")
    entry = AuditEntry(
        at=at or utcnow(),
        actor=actor.kind,
        key_id=actor.key_id,
        key_name=actor.key_name,
        key_prefix=actor.key_prefix,
        action=action,
        target=target[:300] if target else None,
        address=actor.address,
        details=details or None,
    )
    session.add(entry)
    return entry


def entries(
    session: Session, *, action: str | None, offset: int, limit: int
) -> tuple[list[AuditEntry], int]:
    """One page of the log, newest first, and how many entries match in all."""
    statement = select(AuditEntry)
    counting = select(func.count()).select_from(AuditEntry)
    if action:
        statement = statement.where(AuditEntry.action == action)
        counting = counting.where(AuditEntry.action == action)
    page = session.scalars(
        statement.order_by(AuditEntry.at.desc(), AuditEntry.id.desc()).offset(offset).limit(limit)
    )
    return list(page), int(session.scalar(counting) or 0)


def entry_view(entry: AuditEntry) -> dict[str, Any]:
    return {
        "id": entry.id,
        "at": entry.at.isoformat(),
        "actor": entry.actor,
        "key_id": entry.key_id,
        "key_name": entry.key_name,
        "key_prefix": entry.key_prefix,
        "action": entry.action,
        "target": entry.target,
        "address": entry.address,
        "details": entry.details or {},
    }
