"""Table staff_session: the staff cookie names a server-side session that sign-out and expiry end.

The cookie used to hold a fixed value derived from DIGEST_STAFF_TOKEN, valid after /logout and
forever. Now it holds a random id; this table keeps its SHA-256 (a copy of the table is not a set
of cookies) and when it expires (DIGEST_STAFF_SESSION_HOURS).

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "staff_session",
        sa.Column("id_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id_hash"),
    )
    op.create_index("ix_staff_session_expires_at", "staff_session", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_staff_session_expires_at", table_name="staff_session")
    op.drop_table("staff_session")
