"""bitemporal ledger: recorded periods, share ranges, provenance, corrections, event pairs

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02

- ``holdings`` and ``ties`` get their ledger period [recorded_from, recorded_to)
  (existing rows: from the seq of the event that wrote them, still current),
  provenance, and for holdings share ranges and the lower bounds the sum and
  cycle checks count (existing rows: the exact fraction, 0 when undisclosed).
- ``ownership_events`` get ``supersedes`` (unique: an event is corrected at
  most once) and an index on ``record_time`` ("as known at" reads).
- ``ownership_event_pairs`` lists the (holder, held) pairs each event sets
  (holder "" = every holder of held): filled from the stored events.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen here: the pair keys of each event kind as of this revision.
_HOLDER_HELD = {
    "stake_acquired": ("holder", "held"),
    "stake_changed": ("holder", "held"),
    "stake_divested": ("holder", "held"),
    "board_seat_granted": ("holder", "held"),
    "board_seat_removed": ("holder", "held"),
    "full_acquisition": ("acquirer", "target"),
}
_PREFIX = "organizations/"


def _slug(name: str) -> str:
    return name[len(_PREFIX) :] if name.startswith(_PREFIX) else name


def upgrade() -> None:
    op.create_table(
        "ownership_event_pairs",
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("holder", sa.String(length=63), nullable=False),
        sa.Column("held", sa.String(length=63), nullable=False),
        sa.ForeignKeyConstraint(
            ["seq"],
            ["ownership_events.seq"],
            name=op.f("fk_ownership_event_pairs_seq_ownership_events"),
        ),
        sa.PrimaryKeyConstraint("seq", "holder", "held", name=op.f("pk_ownership_event_pairs")),
    )
    with op.batch_alter_table("ownership_event_pairs", schema=None) as batch_op:
        batch_op.create_index(
            "ix_ownership_event_pairs_held_holder", ["held", "holder"], unique=False
        )

    with op.batch_alter_table("ownership_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("supersedes", sa.String(length=128), nullable=True))
        batch_op.create_unique_constraint(
            batch_op.f("uq_ownership_events_supersedes"), ["supersedes"]
        )
        batch_op.create_index(
            batch_op.f("ix_ownership_events_record_time"), ["record_time"], unique=False
        )

    with op.batch_alter_table("holdings", schema=None) as batch_op:
        batch_op.add_column(sa.Column("equity_range", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("voting_range", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("equity_low", sa.Float(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("voting_low", sa.Float(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("provenance", sa.JSON(), nullable=True))
        batch_op.add_column(
            sa.Column("recorded_from", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(sa.Column("recorded_to", sa.Integer(), nullable=True))
        batch_op.drop_index("ix_holdings_held_valid_to")
        batch_op.drop_index("ix_holdings_holder_valid_to")
        batch_op.create_index(
            "ix_holdings_held_holder_recorded_to", ["held", "holder", "recorded_to"], unique=False
        )
        batch_op.create_index(
            "ix_holdings_holder_recorded_to", ["holder", "recorded_to"], unique=False
        )

    with op.batch_alter_table("ties", schema=None) as batch_op:
        batch_op.add_column(sa.Column("provenance", sa.JSON(), nullable=True))
        batch_op.add_column(
            sa.Column("recorded_from", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(sa.Column("recorded_to", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_ties_event_id"), ["event_id"], unique=False)

    # Existing rows: current knowledge since the event that wrote them.
    seq_of_event = "(SELECT e.seq FROM ownership_events e WHERE e.event_id = {table}.event_id)"
    op.execute(
        "UPDATE holdings SET equity_low = COALESCE(equity, 0), voting_low = COALESCE(voting, 0), "
        f"recorded_from = COALESCE({seq_of_event.format(table='holdings')}, 0)"
    )
    op.execute(f"UPDATE ties SET recorded_from = COALESCE({seq_of_event.format(table='ties')}, 0)")

    # The pairs each stored event sets.
    bind = op.get_bind()
    events = sa.table(
        "ownership_events", sa.column("seq", sa.Integer()), sa.column("payload", sa.JSON())
    )
    pairs = sa.table(
        "ownership_event_pairs",
        sa.column("seq", sa.Integer()),
        sa.column("holder", sa.String()),
        sa.column("held", sa.String()),
    )
    batch: list[dict[str, object]] = []
    for seq, payload in bind.execute(sa.select(events.c.seq, events.c.payload)):
        for kind, (holder_key, held_key) in _HOLDER_HELD.items():
            change = (payload or {}).get(kind)
            if change is None:
                continue
            holder, held = _slug(change.get(holder_key, "")), _slug(change.get(held_key, ""))
            batch.append({"seq": seq, "holder": holder, "held": held})
            if kind == "full_acquisition":
                batch.append({"seq": seq, "holder": "", "held": held})
        if len(batch) >= 1000:
            op.bulk_insert(pairs, batch)
            batch = []
    if batch:
        op.bulk_insert(pairs, batch)


def downgrade() -> None:
    # Only current knowledge goes back to the old layout.
    op.execute("DELETE FROM ties WHERE recorded_to IS NOT NULL")
    with op.batch_alter_table("ties", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ties_event_id"))
        batch_op.drop_column("recorded_to")
        batch_op.drop_column("recorded_from")
        batch_op.drop_column("provenance")

    op.execute("DELETE FROM holdings WHERE recorded_to IS NOT NULL")
    with op.batch_alter_table("holdings", schema=None) as batch_op:
        batch_op.drop_index("ix_holdings_holder_recorded_to")
        batch_op.drop_index("ix_holdings_held_holder_recorded_to")
        batch_op.create_index("ix_holdings_holder_valid_to", ["holder", "valid_to"], unique=False)
        batch_op.create_index("ix_holdings_held_valid_to", ["held", "valid_to"], unique=False)
        batch_op.drop_column("recorded_to")
        batch_op.drop_column("recorded_from")
        batch_op.drop_column("provenance")
        batch_op.drop_column("voting_low")
        batch_op.drop_column("equity_low")
        batch_op.drop_column("voting_range")
        batch_op.drop_column("equity_range")

    with op.batch_alter_table("ownership_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ownership_events_record_time"))
        batch_op.drop_constraint(batch_op.f("uq_ownership_events_supersedes"), type_="unique")
        batch_op.drop_column("supersedes")

    with op.batch_alter_table("ownership_event_pairs", schema=None) as batch_op:
        batch_op.drop_index("ix_ownership_event_pairs_held_holder")
    op.drop_table("ownership_event_pairs")
