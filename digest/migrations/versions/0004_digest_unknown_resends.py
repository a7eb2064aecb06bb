"""Ledger column digest.unknown_resends: how often a row was resent after its sender died mid-send.

An `unknown` row (its sender stopped after handing the message over, so nobody knows whether the
server took it) is resent once. The claim used to mark that by raising the row's attempts to the
maximum minus one, so one later 4xx failed it for good although the server had said it did not
take the message. The count keeps the bound (a row that becomes unknown again is not resent a
second time) without touching attempts.

Revision ID: 0004
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("digest", schema=None) as batch_op:
        batch_op.add_column(sa.Column("unknown_resends", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("digest", schema=None) as batch_op:
        batch_op.drop_column("unknown_resends")
