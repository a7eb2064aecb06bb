"""Tables signup_attempt and signup_mail: public signup's rate limits and its confirmation emails.

signup_attempt counts requests per client and per address (several web processes share the
limits through the database); signup_mail claims each confirmation or manage-link email before it
is sent, so that it goes out once even when two requests race, and caps them per address a day.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "signup_attempt",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_signup_attempt_kind_key_at", "signup_attempt", ["kind", "key", "created_at"])
    op.create_table(
        "signup_mail",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email_key", sa.String(length=320), nullable=False),
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("subscriber_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("message_id", sa.String(length=300), nullable=True),
        sa.Column("detail", sa.String(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("sent_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["subscriber_id"], ["subscriber.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("email_key", "kind", "day", "seq", name="uq_signup_mail_key_kind_day_seq"),
    )
    op.create_index("ix_signup_mail_subscriber_id", "signup_mail", ["subscriber_id"])


def downgrade() -> None:
    op.drop_index("ix_signup_mail_subscriber_id", table_name="signup_mail")
    op.drop_table("signup_mail")
    op.drop_index("ix_signup_attempt_kind_key_at", table_name="signup_attempt")
    op.drop_table("signup_attempt")
