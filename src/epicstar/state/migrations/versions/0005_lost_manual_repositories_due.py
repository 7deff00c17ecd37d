"""repositories added by hand and lost on GitHub are looked at again

Before, a repository added with ``epicstar add`` whose source answered 404 or 451 was never
due again; now its pass asks GitHub at each refresh. Those lost before the upgrade are due at
once, so they are looked at on the next run rather than never.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        sa.text(
            "UPDATE repositories SET next_due_at = CURRENT_TIMESTAMP"
            " WHERE origin = 'manual' AND state IN ('source_gone', 'blocked')"
            " AND next_due_at IS NULL"
        )
    )


def downgrade() -> None:
    """Nothing to undo: a due time on a lost repository is harmless to older versions."""
