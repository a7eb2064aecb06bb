"""Languages: subscriber.language (BCP 47; "" means DIGEST_DEFAULT_LANGUAGE), and
article.translations, the text fields an article gives in other languages ({"ko": {"title": ...}};
existing articles get {}: their columns stay their text).

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("subscriber", schema=None) as batch_op:
        batch_op.add_column(sa.Column("language", sa.String(length=35), nullable=False, server_default=""))
    with op.batch_alter_table("article", schema=None) as batch_op:
        batch_op.add_column(sa.Column("translations", sa.JSON(), nullable=False, server_default="{}"))


def downgrade() -> None:
    with op.batch_alter_table("article", schema=None) as batch_op:
        batch_op.drop_column("translations")
    with op.batch_alter_table("subscriber", schema=None) as batch_op:
        batch_op.drop_column("language")
