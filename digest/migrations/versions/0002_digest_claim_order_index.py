"""Ledger index for claims in schedule order: digest(state, scheduled_for, id).

A claim takes the earliest-scheduled sendable rows. With only an index on `state`, both SQLite and
PostgreSQL sorted every pending row for each claim of 50 (64 ms a claim with 80,000 pending on
SQLite); with this index a claim reads its rows in order and stops. It also serves every lookup by
state, so the single-column index on `state` goes.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("digest", schema=None) as batch_op:
        batch_op.create_index("ix_digest_state_scheduled", ["state", "scheduled_for", "id"], unique=False)
        batch_op.drop_index("ix_digest_state")


def downgrade() -> None:
    with op.batch_alter_table("digest", schema=None) as batch_op:
        batch_op.create_index("ix_digest_state", ["state"], unique=False)
        batch_op.drop_index("ix_digest_state_scheduled")
