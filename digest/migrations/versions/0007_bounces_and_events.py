"""Delivery events and where a suppression came from: delivery_event, suppression.source/status_code.

`delivery_event` records each report that came back after a send (a webhook's bounce, complaint or
subscription change; later a DSN, an ARF report or a mailto unsubscribe read from a mailbox), with
a unique `event_key` so that a replayed report changes nothing, and is what soft bounces are
counted from. `suppression.source` (smtp, dsn, arf, webhook, mailto, web, staff) and
`suppression.status_code` keep the evidence beside `detail` (the diagnostic line).

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "delivery_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_key", sa.String(length=200), nullable=True),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("email_key", sa.String(length=320), nullable=False),
        sa.Column("digest_id", sa.Integer(), nullable=True),
        sa.Column("status_code", sa.String(length=40), nullable=True),
        sa.Column("detail", sa.String(), nullable=True),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("event_key", name="uq_delivery_event_event_key"),
    )
    op.create_index("ix_delivery_event_email_kind", "delivery_event", ["email_key", "kind", "received_at"])
    with op.batch_alter_table("suppression", schema=None) as batch_op:
        batch_op.add_column(sa.Column("source", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("status_code", sa.String(length=40), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("suppression", schema=None) as batch_op:
        batch_op.drop_column("status_code")
        batch_op.drop_column("source")
    op.drop_index("ix_delivery_event_email_kind", table_name="delivery_event")
    op.drop_table("delivery_event")
