"""audit log: every write call, accepted or refused (who, what, when, from where)

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("method", sa.String(length=200), nullable=False),
        sa.Column("resource", sa.String(length=300), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("token_id", sa.String(length=64), nullable=False),
        sa.Column("peer", sa.String(length=200), nullable=False),
        sa.Column("trace_id", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    op.create_index(op.f("ix_audit_log_time"), "audit_log", ["time"], unique=False)
    op.create_index(op.f("ix_audit_log_method"), "audit_log", ["method"], unique=False)
    op.create_index(op.f("ix_audit_log_subject"), "audit_log", ["subject"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_audit_log_subject"), table_name="audit_log")
    op.drop_index(op.f("ix_audit_log_method"), table_name="audit_log")
    op.drop_index(op.f("ix_audit_log_time"), table_name="audit_log")
    op.drop_table("audit_log")
