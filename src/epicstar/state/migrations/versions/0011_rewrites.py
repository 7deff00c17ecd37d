"""Rewrites: branches and tags GitHub overwrote or deleted, and the ones held back

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("repositories", sa.Column("held_refs", sa.JSON(), nullable=True))
    op.create_table(
        "rewrites",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("repository_id", sa.BigInteger(), nullable=False),
        sa.Column("attempt_id", sa.Integer(), nullable=True),
        sa.Column("ref", sa.String(length=1024), nullable=False),
        sa.Column("old_sha", sa.String(length=64), nullable=False),
        sa.Column("new_sha", sa.String(length=64), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("commits_lost", sa.Integer(), nullable=True),
        sa.Column("commits_lost_partial", sa.Boolean(), nullable=False),
        sa.Column("kept_as", sa.String(length=1200), nullable=False),
        sa.Column("whole_repository", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("found_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("approved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("approved_by", sa.String(length=200), nullable=True),
        sa.Column("restored_as", sa.String(length=1024), nullable=True),
        sa.Column("restored_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["repository_id"], ["repositories.github_id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["attempt_id"], ["sync_attempts.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_rewrites_repository", "rewrites", ["repository_id", "found_at"])


def downgrade() -> None:
    op.drop_index("ix_rewrites_repository", table_name="rewrites")
    op.drop_table("rewrites")
    with op.batch_alter_table("repositories", schema=None) as batch_op:
        batch_op.drop_column("held_refs")
