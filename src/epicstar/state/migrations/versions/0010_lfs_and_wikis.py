"""LFS objects and wikis: what each repository's LFS and wiki mirror hold, and per attempt

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

_ATTEMPT_COUNTS = (
    "lfs_objects_fetched",
    "lfs_bytes_fetched",
    "lfs_objects_pushed",
    "lfs_bytes_pushed",
    "lfs_missing",
    "wiki_refs_changed",
)


def upgrade() -> None:
    # Plain ADD COLUMN (SQLite has it): a batch operation would reflect the table first, and
    # SQLAlchemy cannot reflect the expression index ix_repositories_name_order.
    op.add_column("repositories", sa.Column("has_wiki", sa.Boolean(), nullable=True))
    op.add_column(
        "repositories",
        sa.Column("uses_lfs", sa.Boolean(), server_default=sa.false(), nullable=False),
    )
    op.add_column("repositories", sa.Column("lfs_refs", sa.JSON(), nullable=True))
    op.add_column("repositories", sa.Column("lfs_missing", sa.JSON(), nullable=True))
    op.add_column("repositories", sa.Column("wiki_state", sa.String(length=16), nullable=True))
    op.add_column("repositories", sa.Column("wiki_project_id", sa.BigInteger(), nullable=True))
    op.add_column("repositories", sa.Column("wiki_path", sa.String(length=1024), nullable=True))
    op.add_column("repositories", sa.Column("wiki_refs", sa.JSON(), nullable=True))
    op.add_column(
        "repositories",
        sa.Column("wiki_onedev_default_branch", sa.String(length=255), nullable=True),
    )
    op.add_column(
        "repositories", sa.Column("wiki_checked_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.add_column(
        "repositories", sa.Column("wiki_synced_at", sa.DateTime(timezone=True), nullable=True)
    )
    for name in _ATTEMPT_COUNTS:
        op.add_column("sync_attempts", sa.Column(name, sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("sync_attempts", schema=None) as batch_op:
        for name in reversed(_ATTEMPT_COUNTS):
            batch_op.drop_column(name)
    with op.batch_alter_table("repositories", schema=None) as batch_op:
        for name in (
            "wiki_synced_at",
            "wiki_checked_at",
            "wiki_onedev_default_branch",
            "wiki_refs",
            "wiki_path",
            "wiki_project_id",
            "wiki_state",
            "lfs_missing",
            "lfs_refs",
            "uses_lfs",
            "has_wiki",
        ):
            batch_op.drop_column(name)
