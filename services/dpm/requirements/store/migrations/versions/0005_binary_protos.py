"""clients: requirements and policy stored as binary protobuf, not proto JSON

Reading a client decoded its two JSON documents with ``json_format``, a walk in
Python; the worker reads clients by the thousand, and binary protobuf decodes
in C. Existing rows are converted (and back on downgrade).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from alembic import op
from google.protobuf import json_format
from google.protobuf.message import Message

from dpm.requirements.v1 import requirements_pb2 as pb

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

COLUMNS: dict[str, type[Message]] = {
    "requirements": pb.Requirements,
    "neutrality_policy": pb.NeutralityPolicy,
}
BATCH = 1000


def upgrade() -> None:
    _replace(
        old="",
        new="_pb",
        new_type=sa.LargeBinary(),
        convert=lambda value, message: json_format.ParseDict(
            value, message(), ignore_unknown_fields=True
        ).SerializeToString(),
    )


def downgrade() -> None:
    _replace(
        old="_pb",
        new="",
        new_type=sa.JSON(),
        convert=lambda value, message: json_format.MessageToDict(
            message.FromString(value), preserving_proto_field_name=True
        ),
    )


def _replace(
    old: str,
    new: str,
    new_type: sa.types.TypeEngine[Any],
    convert: Callable[[Any, type[Message]], Any],
) -> None:
    """Add ``{column}{new}``, fill it from ``{column}{old}`` row by row, drop the old."""
    with op.batch_alter_table("clients") as batch:
        for column in COLUMNS:
            batch.add_column(sa.Column(f"{column}{new}", new_type, nullable=True))
    old_type = sa.JSON() if new else sa.LargeBinary()
    clients = sa.table(
        "clients",
        sa.column("id", sa.String()),
        *(sa.column(f"{c}{old}", old_type) for c in COLUMNS),
        *(sa.column(f"{c}{new}", new_type) for c in COLUMNS),
    )
    connection = op.get_bind()
    rows = connection.execute(sa.select(clients.c.id, *(clients.c[f"{c}{old}"] for c in COLUMNS)))
    update = (
        sa.update(clients)
        .where(clients.c.id == sa.bindparam("key"))
        .values({f"{c}{new}": sa.bindparam(f"{c}{new}") for c in COLUMNS})
    )
    values = [
        {
            "key": row[0],
            **{
                f"{c}{new}": convert(value, message)
                for (c, message), value in zip(COLUMNS.items(), row[1:], strict=True)
            },
        }
        for row in rows.all()
    ]
    for start in range(0, len(values), BATCH):
        connection.execute(update, values[start : start + BATCH])
    with op.batch_alter_table("clients") as batch:
        for column in COLUMNS:
            batch.drop_column(f"{column}{old}")
            batch.alter_column(f"{column}{new}", existing_type=new_type, nullable=False)
