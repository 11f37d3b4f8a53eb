"""clients, client_competitors and outbox

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "clients",
        sa.Column("id", sa.String(length=63), nullable=False),
        sa.Column("display_name", sa.String(length=200), nullable=False),
        sa.Column("organization", sa.String(length=100), nullable=False),
        sa.Column("requirements", sa.JSON(), nullable=False),
        sa.Column("neutrality_policy", sa.JSON(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("create_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("update_time", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_clients")),
    )
    op.create_table(
        "client_competitors",
        sa.Column("client_id", sa.String(length=63), nullable=False),
        sa.Column("competitor_id", sa.String(length=63), nullable=False),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["clients.id"],
            name=op.f("fk_client_competitors_client_id_clients"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("client_id", "competitor_id", name=op.f("pk_client_competitors")),
    )
    op.create_index(
        op.f("ix_client_competitors_competitor_id"),
        "client_competitors",
        ["competitor_id"],
        unique=False,
    )
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("task", sa.String(length=200), nullable=False),
        sa.Column("queue", sa.String(length=100), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
    )
    op.create_index(op.f("ix_outbox_sent_at"), "outbox", ["sent_at"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_outbox_sent_at"), table_name="outbox")
    op.drop_table("outbox")
    op.drop_index(op.f("ix_client_competitors_competitor_id"), table_name="client_competitors")
    op.drop_table("client_competitors")
    op.drop_table("clients")
