"""tokens: the registry of issued bearer tokens (ids and metadata, never the tokens)

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
        "tokens",
        sa.Column("seq", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("jti", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("label", sa.String(length=200), nullable=False),
        sa.Column("issue_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expire_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoke_time", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_tokens")),
        sa.UniqueConstraint("jti", name=op.f("uq_tokens_jti")),
    )
    op.create_index(op.f("ix_tokens_subject"), "tokens", ["subject"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_tokens_subject"), table_name="tokens")
    op.drop_table("tokens")
