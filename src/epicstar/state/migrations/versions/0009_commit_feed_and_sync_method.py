"""the commit feed, and each repository's sync method (server or agent)

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("repositories", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("sync_method", sa.String(length=8), server_default="server", nullable=False)
        )
    op.create_table(
        "commits",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("repository_id", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("ref", sa.String(length=255), nullable=False),
        sa.Column("sha", sa.String(length=40), nullable=False),
        sa.Column("author_name", sa.String(length=200), nullable=False),
        sa.Column("author_email", sa.String(length=320), nullable=False),
        sa.Column("authored_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("committer_name", sa.String(length=200), nullable=False),
        sa.Column("committer_email", sa.String(length=320), nullable=False),
        sa.Column("committed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("additions", sa.Integer(), nullable=True),
        sa.Column("deletions", sa.Integer(), nullable=True),
        sa.Column("files_changed", sa.Integer(), nullable=True),
        sa.Column("is_merge", sa.Boolean(), nullable=False),
        sa.Column("parent_count", sa.Integer(), nullable=False),
        sa.Column("branches", sa.JSON(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["repository_id"], ["repositories.github_id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("commits", schema=None) as batch_op:
        batch_op.create_index(
            "ix_commits_identity", ["repository_id", "kind", "ref", "sha"], unique=True
        )
        batch_op.create_index("ix_commits_seen", ["first_seen_at", "id"], unique=False)
        batch_op.create_index(
            "ix_commits_repository_seen", ["repository_id", "first_seen_at", "id"], unique=False
        )
        batch_op.create_index(
            "ix_commits_author_email_seen", ["author_email", "first_seen_at", "id"], unique=False
        )
    op.create_index(
        "ix_commits_author_name_seen",
        "commits",
        [sa.text("lower(author_name)"), "first_seen_at", "id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_commits_author_name_seen", table_name="commits")
    op.drop_table("commits")
    with op.batch_alter_table("repositories", schema=None) as batch_op:
        batch_op.drop_column("sync_method")
