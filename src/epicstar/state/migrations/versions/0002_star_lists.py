"""star lists

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "star_lists",
        sa.Column("key", sa.String(length=300), nullable=False),
        sa.Column("first_page_etag", sa.String(length=200), nullable=True),
        sa.Column("last_poll_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_full_walk_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("stars", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    with op.batch_alter_table("repositories", schema=None) as batch_op:
        batch_op.add_column(sa.Column("language", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("starred_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("unstarred_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("repositories", schema=None) as batch_op:
        batch_op.drop_column("unstarred_at")
        batch_op.drop_column("starred_at")
        batch_op.drop_column("language")

    op.drop_table("star_lists")
