"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "repositories",
        sa.Column("github_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("full_name", sa.String(length=300), nullable=False),
        sa.Column("origin", sa.String(length=16), nullable=False),
        sa.Column("clone_url", sa.Text(), nullable=True),
        sa.Column("html_url", sa.Text(), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("default_branch", sa.String(length=255), nullable=True),
        sa.Column("private", sa.Boolean(), nullable=False),
        sa.Column("archived", sa.Boolean(), nullable=False),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.Column("fork", sa.Boolean(), nullable=False),
        sa.Column("size_kb", sa.BigInteger(), nullable=False),
        sa.Column("metadata_etag", sa.String(length=200), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("state_reason", sa.Text(), nullable=True),
        sa.Column("sync_status", sa.String(length=24), nullable=False),
        sa.Column("onedev_project_id", sa.BigInteger(), nullable=True),
        sa.Column("onedev_path", sa.String(length=1024), nullable=True),
        sa.Column("onedev_description", sa.Text(), nullable=True),
        sa.Column("onedev_default_branch", sa.String(length=255), nullable=True),
        sa.Column("mirrored_refs", sa.JSON(), nullable=True),
        sa.Column("last_synced_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("next_due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("retry_count", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("lease_owner", sa.String(length=200), nullable=True),
        sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("github_id"),
    )
    with op.batch_alter_table("repositories", schema=None) as batch_op:
        batch_op.create_index("ix_repositories_due", ["state", "next_due_at"], unique=False)
        batch_op.create_index("ix_repositories_full_name", ["full_name"], unique=False)
        batch_op.create_index("ix_repositories_onedev_path", ["onedev_path"], unique=True)

    op.create_table(
        "sync_attempts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("repository_id", sa.BigInteger(), nullable=False),
        sa.Column("trigger", sa.String(length=32), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.String(length=24), nullable=True),
        sa.Column("refs_changed", sa.Integer(), nullable=False),
        sa.Column("new_commits", sa.Integer(), nullable=True),
        sa.Column("bytes_fetched", sa.BigInteger(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["repository_id"], ["repositories.github_id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("sync_attempts", schema=None) as batch_op:
        batch_op.create_index(
            "ix_sync_attempts_repository", ["repository_id", "started_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("sync_attempts", schema=None) as batch_op:
        batch_op.drop_index("ix_sync_attempts_repository")

    op.drop_table("sync_attempts")
    with op.batch_alter_table("repositories", schema=None) as batch_op:
        batch_op.drop_index("ix_repositories_onedev_path")
        batch_op.drop_index("ix_repositories_full_name")
        batch_op.drop_index("ix_repositories_due")

    op.drop_table("repositories")
