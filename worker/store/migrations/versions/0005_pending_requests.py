"""pending requests: documents remember that work was asked for, and whether by the LLM path

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29 12:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("documents", schema=None) as batch_op:
        batch_op.add_column(sa.Column("pending_since", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("wants_llm", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.create_index(batch_op.f("ix_documents_pending_since"), ["pending_since"], unique=False)
    # Documents stored before this revision that never finished are pending since their last update.
    op.execute("UPDATE documents SET pending_since = updated_at WHERE state = 'received'")


def downgrade() -> None:
    with op.batch_alter_table("documents", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_documents_pending_since"))
        batch_op.drop_column("wants_llm")
        batch_op.drop_column("pending_since")
