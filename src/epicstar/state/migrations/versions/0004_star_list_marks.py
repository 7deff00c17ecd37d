"""star list marks: where the last page is, its ETag, and the newest star

The ETag of page 1 is forgotten, so the next poll reads the list once and learns the rest.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("star_lists", schema=None) as batch_op:
        batch_op.add_column(sa.Column("last_page_url", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("last_page_etag", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("newest_star_id", sa.BigInteger(), nullable=True))
    op.execute(sa.text("UPDATE star_lists SET first_page_etag = NULL"))


def downgrade() -> None:
    with op.batch_alter_table("star_lists", schema=None) as batch_op:
        batch_op.drop_column("newest_star_id")
        batch_op.drop_column("last_page_etag")
        batch_op.drop_column("last_page_url")
