"""review lifecycle: four eyes, result versions, browser sessions

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29 12:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("review_tasks", schema=None) as batch_op:
        batch_op.add_column(sa.Column("second_review", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column("submitted_by", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("result_version_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_foreign_key(
            "fk_review_tasks_result_version", "report_versions", ["result_version_id"], ["id"], ondelete="SET NULL"
        )
    op.create_table(
        "ui_sessions",
        sa.Column("id_hash", sa.String(length=64), nullable=False),
        sa.Column("token_id", sa.Integer(), nullable=False),
        sa.Column("csrf", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["token_id"], ["api_tokens.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id_hash"),
    )
    op.create_index(op.f("ix_ui_sessions_token_id"), "ui_sessions", ["token_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_ui_sessions_token_id"), table_name="ui_sessions")
    op.drop_table("ui_sessions")
    with op.batch_alter_table("review_tasks", schema=None) as batch_op:
        batch_op.drop_constraint("fk_review_tasks_result_version", type_="foreignkey")
        batch_op.drop_column("closed_at")
        batch_op.drop_column("result_version_id")
        batch_op.drop_column("submitted_by")
        batch_op.drop_column("second_review")
