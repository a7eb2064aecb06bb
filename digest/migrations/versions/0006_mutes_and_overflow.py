"""Subscriber mutes and the overflow of an issue: subscriber.muted, digest_item.kind.

`subscriber.muted` is the reader's mute list, a JSON list of {"kind": "company"|"segment"|"tag",
"name": ...} that selection honours ("Less of this" in an email adds to it, the preferences page
removes from it). `digest_item.kind` says how an issue carried an article: "shown" (a card or one
of its connected links, in the email) or "overflow" (qualified, but past what the email holds:
shown on the issue's web page under "more"). Only "shown" items count as received.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("subscriber", schema=None) as batch_op:
        batch_op.add_column(sa.Column("muted", sa.JSON(), nullable=False, server_default="[]"))
    with op.batch_alter_table("digest_item", schema=None) as batch_op:
        batch_op.add_column(sa.Column("kind", sa.String(length=10), nullable=False, server_default="shown"))


def downgrade() -> None:
    with op.batch_alter_table("digest_item", schema=None) as batch_op:
        batch_op.drop_column("kind")
    with op.batch_alter_table("subscriber", schema=None) as batch_op:
        batch_op.drop_column("muted")
