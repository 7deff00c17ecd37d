"""The tables: repositories, their sync attempts and new commits, starred lists, webhook
deliveries, API keys, the audit log, dashboard sessions and rewritten refs."""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    TypeDecorator,
    false,
    func,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from epicstar.state import mirror_parts

COMMIT_NAME_LIMIT = 200
COMMIT_EMAIL_LIMIT = 320


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite stores naive values)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use timezone-aware UTC datetimes")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class RepoState(enum.StrEnum):
    ACTIVE = "active"
    UNSTARRED = "unstarred"
    SOURCE_GONE = "source_gone"
    BLOCKED = "blocked"
    EXCLUDED = "excluded"


class SyncStatus(enum.StrEnum):
    PENDING = "pending"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    FAILED = "failed"
    PERMANENT_FAILURE = "permanent_failure"
    HELD = "held"  # EPICSTAR_REWRITE_POLICY=hold kept rewritten refs back; waits for approval


class Origin(enum.StrEnum):
    """How a repository came to be tracked."""

    STAR = "star"
    MANUAL = "manual"


class WikiState(enum.StrEnum):
    """What is known of a repository's GitHub wiki (``None``: never looked for)."""

    ABSENT = "absent"  # GitHub has none (no page yet, or the wiki is turned off)
    MIRRORED = "mirrored"  # mirrored to the child project ``wiki``
    GONE = "gone"  # it was mirrored and has gone from GitHub; the mirror is kept


class SyncMethod(enum.StrEnum):
    """Who fetches a repository from GitHub."""

    SERVER = "server"  # the server's workers
    AGENT = "agent"  # an agent where the GitHub token lives; it pushes to the server


class FeedKind(enum.StrEnum):
    """What a row of the commit feed announces."""

    COMMIT = "commit"  # a commit new on some branch
    TAG = "tag"  # a tag created or moved; the row describes the commit it points at
    MIRROR = "mirror"  # the first mirror of a repository; the row describes its head commit


class FeedSource(enum.StrEnum):
    PASS = "pass"  # noqa: S105 (not a password) found by a mirror pass in the server's cache
    INGESTED = "ingested"  # posted to the ingestion API (the agent, or another tool)


class AttemptOutcome(enum.StrEnum):
    MIRRORED = "mirrored"  # refs were fetched and pushed
    UNCHANGED = "unchanged"  # the source advertised what was already mirrored
    SOURCE_GONE = "source_gone"
    BLOCKED = "blocked"
    FAILED = "failed"
    PERMANENT_FAILURE = "permanent_failure"
    INTERRUPTED = "interrupted"  # stopped by a shutdown or Ctrl+C; due again at once


class RewriteStatus(enum.StrEnum):
    APPLIED = "applied"  # mirrored to OneDev; the old tip kept in the cache
    HELD = "held"  # EPICSTAR_REWRITE_POLICY=hold: OneDev keeps the old tip until approved
    APPROVED = "approved"  # approved; the next pass applies it
    WITHDRAWN = "withdrawn"  # held, then GitHub put the ref back (or moved it from elsewhere)


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime}


class Repository(Base):
    __tablename__ = "repositories"

    github_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    full_name: Mapped[str] = mapped_column(String(300))
    origin: Mapped[str] = mapped_column(String(16), default=Origin.MANUAL)
    sync_method: Mapped[str] = mapped_column(
        String(8), default=SyncMethod.SERVER, server_default=SyncMethod.SERVER.value
    )

    clone_url: Mapped[str | None] = mapped_column(Text)
    html_url: Mapped[str | None] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(Text)
    default_branch: Mapped[str | None] = mapped_column(String(255))
    private: Mapped[bool] = mapped_column(Boolean, default=False)
    archived: Mapped[bool] = mapped_column(Boolean, default=False)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    fork: Mapped[bool] = mapped_column(Boolean, default=False)
    size_kb: Mapped[int] = mapped_column(BigInteger, default=0)
    language: Mapped[str | None] = mapped_column(String(100))
    metadata_etag: Mapped[str | None] = mapped_column(String(200))
    starred_at: Mapped[datetime | None]
    unstarred_at: Mapped[datetime | None]

    state: Mapped[str] = mapped_column(String(16), default=RepoState.ACTIVE)
    state_reason: Mapped[str | None] = mapped_column(Text)
    sync_status: Mapped[str] = mapped_column(String(24), default=SyncStatus.PENDING)

    onedev_project_id: Mapped[int | None] = mapped_column(BigInteger)
    onedev_path: Mapped[str | None] = mapped_column(String(1024))
    onedev_description: Mapped[str | None] = mapped_column(Text)
    onedev_default_branch: Mapped[str | None] = mapped_column(String(255))
    mirrored_refs: Mapped[dict[str, str] | None] = mapped_column(JSON)
    held_refs: Mapped[dict[str, str | None] | None] = mapped_column(JSON)
    """Rewrites held back (EPICSTAR_REWRITE_POLICY=hold): ref → GitHub's tip (None: deleted
    there). ``mirrored_refs`` keeps the old tips OneDev still holds."""

    has_wiki: Mapped[bool | None] = mapped_column(Boolean)
    uses_lfs: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    lfs_refs: Mapped[dict[str, str] | None] = mapped_column(JSON)
    """The refs whose LFS objects were last handled: LFS is due again when they differ from
    ``mirrored_refs``."""
    lfs_missing: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    """LFS objects referenced but not mirrored: ``{"count": n, "objects": [{"oid", "size",
    "path", "reason"}, ...]}`` (the first thousand named)."""
    wiki_state: Mapped[str | None] = mapped_column(String(16))
    wiki_project_id: Mapped[int | None] = mapped_column(BigInteger)
    wiki_path: Mapped[str | None] = mapped_column(String(1024))
    wiki_refs: Mapped[dict[str, str] | None] = mapped_column(JSON)
    wiki_onedev_default_branch: Mapped[str | None] = mapped_column(String(255))
    wiki_checked_at: Mapped[datetime | None]
    wiki_synced_at: Mapped[datetime | None]

    last_synced_at: Mapped[datetime | None]
    last_attempt_at: Mapped[datetime | None]
    next_due_at: Mapped[datetime | None]
    retry_count: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)

    lease_owner: Mapped[str | None] = mapped_column(String(200))
    lease_expires_at: Mapped[datetime | None]

    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    attempts: Mapped[list[SyncAttempt]] = relationship(
        back_populates="repository", cascade="all, delete-orphan", passive_deletes=True
    )

    __table_args__ = (
        Index("ix_repositories_full_name", "full_name"),
        Index("ix_repositories_onedev_path", "onedev_path", unique=True),
        Index("ix_repositories_due", "state", "next_due_at"),
        Index("ix_repositories_updated_at", "updated_at"),
        Index("ix_repositories_state_status_attempt", "state", "sync_status", "last_attempt_at"),
    )

    def as_status(self) -> dict[str, Any]:
        return {
            "github_id": self.github_id,
            "full_name": self.full_name,
            "onedev_path": self.onedev_path,
            "onedev_project_id": self.onedev_project_id,
            "state": self.state,
            "state_reason": self.state_reason,
            "sync_status": self.sync_status,
            "origin": self.origin,
            "sync_method": self.sync_method,
            "starred_at": _iso(self.starred_at),
            "last_synced_at": _iso(self.last_synced_at),
            "last_attempt_at": _iso(self.last_attempt_at),
            "next_due_at": _iso(self.next_due_at),
            "retry_count": self.retry_count,
            "refs": len(self.mirrored_refs or {}),
            "held_refs": sorted(self.held_refs or {}),
            "error": self.error,
            "warning": mirror_parts.warning(self),
            "lfs": mirror_parts.lfs_status(self),
            "wiki": mirror_parts.wiki_status(self),
        }


# The repositories page lists by name in any case; its deep pages need the order indexed.
Index("ix_repositories_name_order", func.lower(Repository.full_name), Repository.github_id)


class SyncAttempt(Base):
    __tablename__ = "sync_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    repository_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("repositories.github_id", ondelete="CASCADE")
    )
    trigger: Mapped[str] = mapped_column(String(32))
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]
    outcome: Mapped[str | None] = mapped_column(String(24))
    refs_changed: Mapped[int] = mapped_column(Integer, default=0)
    new_commits: Mapped[int | None] = mapped_column(Integer)
    bytes_fetched: Mapped[int] = mapped_column(BigInteger, default=0)
    lfs_objects_fetched: Mapped[int | None] = mapped_column(BigInteger)
    lfs_bytes_fetched: Mapped[int | None] = mapped_column(BigInteger)
    lfs_objects_pushed: Mapped[int | None] = mapped_column(BigInteger)
    lfs_bytes_pushed: Mapped[int | None] = mapped_column(BigInteger)
    lfs_missing: Mapped[int | None] = mapped_column(BigInteger)
    wiki_refs_changed: Mapped[int | None] = mapped_column(BigInteger)
    error: Mapped[str | None] = mapped_column(Text)

    repository: Mapped[Repository] = relationship(back_populates="attempts")

    __table_args__ = (
        Index("ix_sync_attempts_repository", "repository_id", "started_at"),
        Index("ix_sync_attempts_started_at", "started_at"),
    )

    @property
    def duration_seconds(self) -> float | None:
        if self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()


class RefRewrite(Base):
    """A branch or tag GitHub overwrote or deleted; its old tip is kept in the cache."""

    __tablename__ = "rewrites"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    repository_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("repositories.github_id", ondelete="CASCADE")
    )
    attempt_id: Mapped[int | None] = mapped_column(
        Integer, ForeignKey("sync_attempts.id", ondelete="SET NULL")
    )
    ref: Mapped[str] = mapped_column(String(1024))
    old_sha: Mapped[str] = mapped_column(String(64))
    new_sha: Mapped[str | None] = mapped_column(String(64))  # None: deleted
    kind: Mapped[str] = mapped_column(String(16))  # a RewriteKind of epicstar.mirror.rewrites
    commits_lost: Mapped[int | None] = mapped_column(Integer)
    """Commits of the old tip no branch or tag of the mirror reaches any more; None when they
    could not be counted."""
    commits_lost_partial: Mapped[bool] = mapped_column(Boolean, default=False)
    """``commits_lost`` is a lower bound: the pass read only the newest
    :data:`epicstar.mirror.rewrites.COUNT_LIMIT` commits lost."""
    kept_as: Mapped[str] = mapped_column(String(1200))  # the ref in the cache
    whole_repository: Mapped[bool] = mapped_column(Boolean, default=False)
    """Found by a pass that saw every branch rewritten: one history rewrite, not many."""
    status: Mapped[str] = mapped_column(String(16), default=RewriteStatus.APPLIED)
    found_at: Mapped[datetime] = mapped_column(default=utcnow)
    approved_at: Mapped[datetime | None]
    approved_by: Mapped[str | None] = mapped_column(String(200))
    restored_as: Mapped[str | None] = mapped_column(String(1024))  # a branch in OneDev
    restored_at: Mapped[datetime | None]

    __table_args__ = (Index("ix_rewrites_repository", "repository_id", "found_at"),)


class Commit(Base):
    """One row of the feed of what is new: a commit, a tag, or a first mirror.

    A commit is stored once per repository (``kind`` "commit", ``ref`` empty); a tag row per
    tag name and target; a first-mirror row per repository and head.
    """

    __tablename__ = "commits"

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    repository_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("repositories.github_id", ondelete="CASCADE")
    )
    kind: Mapped[str] = mapped_column(String(8), default=FeedKind.COMMIT)
    ref: Mapped[str] = mapped_column(String(255), default="")
    sha: Mapped[str] = mapped_column(String(40))
    author_name: Mapped[str] = mapped_column(String(COMMIT_NAME_LIMIT), default="")
    author_email: Mapped[str] = mapped_column(String(COMMIT_EMAIL_LIMIT), default="")
    authored_at: Mapped[datetime | None]
    committer_name: Mapped[str] = mapped_column(String(COMMIT_NAME_LIMIT), default="")
    committer_email: Mapped[str] = mapped_column(String(COMMIT_EMAIL_LIMIT), default="")
    committed_at: Mapped[datetime | None]
    title: Mapped[str] = mapped_column(Text, default="")
    body: Mapped[str] = mapped_column(Text, default="")
    additions: Mapped[int | None] = mapped_column(Integer)
    deletions: Mapped[int | None] = mapped_column(Integer)
    files_changed: Mapped[int | None] = mapped_column(Integer)
    is_merge: Mapped[bool] = mapped_column(Boolean, default=False)
    parent_count: Mapped[int] = mapped_column(Integer, default=1)
    branches: Mapped[list[str]] = mapped_column(JSON, default=list)
    source: Mapped[str] = mapped_column(String(16), default=FeedSource.PASS)
    first_seen_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        Index("ix_commits_identity", "repository_id", "kind", "ref", "sha", unique=True),
        Index("ix_commits_seen", "first_seen_at", "id"),
        Index("ix_commits_repository_seen", "repository_id", "first_seen_at", "id"),
        Index("ix_commits_author_email_seen", "author_email", "first_seen_at", "id"),
    )


# The feed filters by an author's name in any case.
Index(
    "ix_commits_author_name_seen", func.lower(Commit.author_name), Commit.first_seen_at, Commit.id
)


class StarListState(Base):
    """What the last polls of one starred list left behind (one row per list)."""

    __tablename__ = "star_lists"

    key: Mapped[str] = mapped_column(String(300), primary_key=True)
    first_page_etag: Mapped[str | None] = mapped_column(String(200))
    last_page_url: Mapped[str | None] = mapped_column(Text)  # None: page 1 is the last
    last_page_etag: Mapped[str | None] = mapped_column(String(200))
    newest_star_id: Mapped[int | None] = mapped_column(BigInteger)
    last_poll_at: Mapped[datetime | None]
    last_full_walk_at: Mapped[datetime | None]
    stars: Mapped[int] = mapped_column(Integer, default=0)  # how many the list held


class WebhookDelivery(Base):
    """One GitHub webhook delivery, stored once: a redelivery (same id) is a duplicate."""

    __tablename__ = "webhook_deliveries"

    delivery_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    event: Mapped[str] = mapped_column(String(64))
    action: Mapped[str | None] = mapped_column(String(64))
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    outcome: Mapped[str] = mapped_column(String(200))
    # What replaying needs, kept for EPICSTAR_WEBHOOK_RETENTION_DAYS: the raw body and its
    # content type (the signature was checked on arrival).
    body: Mapped[bytes | None] = mapped_column(LargeBinary)
    content_type: Mapped[str | None] = mapped_column(String(200))

    __table_args__ = (Index("ix_webhook_deliveries_received_at", "received_at"),)


class ApiKey(Base):
    """An API key: its prefix in clear (lookup, display), its secret only as an Argon2id hash."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(100))
    prefix: Mapped[str] = mapped_column(String(32), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(200))
    scopes: Mapped[list[str]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str] = mapped_column(String(200))
    expires_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]
    last_used_ip: Mapped[str | None] = mapped_column(String(64))
    usage_count: Mapped[int] = mapped_column(BigInteger, default=0)


def key_is_live(revoked_at: datetime | None, expires_at: datetime | None, now: datetime) -> bool:
    """Whether a key with these revocation and expiry times is accepted at ``now``."""
    return revoked_at is None and (expires_at is None or expires_at > now)


class AuditEntry(Base):
    """One change made through the API or the key commands: who, what, on what, from where."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor: Mapped[str] = mapped_column(String(16))  # "key" or "cli"
    key_id: Mapped[int | None] = mapped_column(Integer)  # kept when the key is gone
    key_name: Mapped[str | None] = mapped_column(String(100))
    key_prefix: Mapped[str | None] = mapped_column(String(32))
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str | None] = mapped_column(String(300))
    address: Mapped[str | None] = mapped_column(String(64))
    details: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    __table_args__ = (Index("ix_audit_log_action_at", "action", "at"),)


class DashboardSession(Base):
    """A browser signed in to the dashboard: with an API key, or by a trusted proxy's header.

    The cookie holds a random token; only its SHA-256 is stored. A key's sessions end with
    the key (revoked, expired or deleted), a proxy user's when the proxy stops naming them.
    """

    __tablename__ = "dashboard_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    key_id: Mapped[int | None] = mapped_column(
        Integer, ForeignKey("api_keys.id", ondelete="CASCADE")
    )
    user_name: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    address: Mapped[str | None] = mapped_column(String(64))

    __table_args__ = (Index("ix_dashboard_sessions_expires_at", "expires_at"),)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None
