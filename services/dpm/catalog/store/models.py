"""Tables of the catalog database, one ``*Row`` model each.

The ownership graph is bitemporal. ``ownership_events`` (the append-only
ledger) carry when each change took effect and when it was recorded; the
ledger sequence number ``seq`` is the graph version and the record-time axis.
``holdings`` and ``ties`` rows are derived from the ledger: each carries its
effective period [valid_from, valid_to) and the ledger period
[recorded_from, recorded_to) over which it was the ledger's knowledge
(``recorded_to`` null: current knowledge). Re-deriving a pair closes the
recorded period of the rows that changed and inserts new ones; no row is
ever updated otherwise, so the graph as known at any past sequence number
stays readable.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from dpm.platform.audit import AuditMixin
from dpm.platform.db import new_metadata
from dpm.platform.outbox import OutboxMixin


class Base(DeclarativeBase):
    metadata = new_metadata()


class OrganizationRow(Base):
    """A company or fund; ``id`` is its slug."""

    __tablename__ = "organizations"

    id: Mapped[str] = mapped_column(String(63), primary_key=True)
    display_name: Mapped[str] = mapped_column(String(300))
    kind: Mapped[int] = mapped_column(Integer, index=True)
    country: Mapped[str] = mapped_column(String(2), default="")
    source_urls: Mapped[list[str]] = mapped_column(JSON, default=list)
    create_time: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    update_time: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class VendorProfileRow(Base):
    """What an organization offers as a data vendor."""

    __tablename__ = "vendor_profiles"

    organization_id: Mapped[str] = mapped_column(
        String(63), ForeignKey("organizations.id"), primary_key=True
    )
    service_model: Mapped[int] = mapped_column(Integer)
    # [{"modality": int, "monthly_capacity": int, "quality": float, "unit_price_usd": float}]
    capabilities: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    certifications: Mapped[list[int]] = mapped_column(JSON, default=list)
    workforce_regions: Mapped[list[str]] = mapped_column(JSON, default=list)
    data_residency_regions: Mapped[list[str]] = mapped_column(JSON, default=list)
    security_clearance: Mapped[bool] = mapped_column(Boolean, default=False)
    update_time: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    catalog_version: Mapped[int] = mapped_column(Integer)


class OwnershipEventRow(Base):
    """The ledger. ``seq`` is assigned densely under the counters lock: it is the graph version."""

    __tablename__ = "ownership_events"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    event_id: Mapped[str] = mapped_column(String(128), unique=True)
    # sha256 of the canonical JSON of the event's content (output-only fields excluded).
    fingerprint: Mapped[str] = mapped_column(String(64))
    # The event as JSON (google.protobuf.json_format), output-only fields excluded.
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    effective_date: Mapped[dt.date] = mapped_column(Date)
    # Never decreases along seq: "as known at t" reads the events with record_time <= t.
    record_time: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), index=True)
    # event_id of the earlier event this one corrects; an event is corrected at most once.
    supersedes: Mapped[str | None] = mapped_column(String(128), nullable=True, unique=True)


class EventPairRow(Base):
    """The (holder, held) pairs whose periods an event sets: what re-deriving a pair reads.

    ``holder`` "" stands for every holder of ``held`` (a full acquisition ends them all).
    """

    __tablename__ = "ownership_event_pairs"

    seq: Mapped[int] = mapped_column(Integer, ForeignKey("ownership_events.seq"), primary_key=True)
    holder: Mapped[str] = mapped_column(String(63), primary_key=True)
    held: Mapped[str] = mapped_column(String(63), primary_key=True)

    __table_args__ = (Index("ix_ownership_event_pairs_held_holder", "held", "holder"),)


# EventPairRow.holder of an event that concerns every holder of the held organization.
EVERY_HOLDER = ""


class EventOrganizationRow(Base):
    """Which organizations an event touches (ListOwnershipEvents' filter)."""

    __tablename__ = "ownership_event_organizations"

    seq: Mapped[int] = mapped_column(Integer, ForeignKey("ownership_events.seq"), primary_key=True)
    organization_id: Mapped[str] = mapped_column(String(63), primary_key=True)

    __table_args__ = (Index("ix_ownership_event_organizations_org_seq", "organization_id", "seq"),)


class HoldingRow(Base):
    """One period of one edge holder -> held, as the ledger knew it from recorded_from on."""

    __tablename__ = "holdings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    holder: Mapped[str] = mapped_column(String(63), ForeignKey("organizations.id"))
    held: Mapped[str] = mapped_column(String(63), ForeignKey("organizations.id"))
    # Exact fractions; null when only a range is known (*_range) or the figure is undisclosed.
    equity: Mapped[float | None] = mapped_column(Float, nullable=True)
    voting: Mapped[float | None] = mapped_column(Float, nullable=True)
    # {"minimum", "maximum", "exclusive_minimum", "exclusive_maximum"} (dpm.catalog.terms.Share).
    equity_range: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    voting_range: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    # The least the figure can be (exact, range minimum, 0 undisclosed): what the
    # sum and closed-cycle checks count.
    equity_low: Mapped[float] = mapped_column(Float, default=0.0)
    voting_low: Mapped[float] = mapped_column(Float, default=0.0)
    board_seats: Mapped[int] = mapped_column(Integer, default=0)
    valid_from: Mapped[dt.date] = mapped_column(Date)
    valid_to: Mapped[dt.date | None] = mapped_column(Date, nullable=True)
    source_url: Mapped[str] = mapped_column(Text, default="")
    # The event that set these figures, and its provenance (OwnershipEvent.provenance as JSON).
    event_id: Mapped[str] = mapped_column(String(128))
    provenance: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    # Ledger seq from which this row is knowledge, and from which it no longer is (null: now).
    recorded_from: Mapped[int] = mapped_column(Integer)
    recorded_to: Mapped[int | None] = mapped_column(Integer, nullable=True)

    __table_args__ = (
        # re-deriving a pair, the holders of one organization, walking up
        Index("ix_holdings_held_holder_recorded_to", "held", "holder", "recorded_to"),
        # walking down
        Index("ix_holdings_holder_recorded_to", "holder", "recorded_to"),
        Index("ix_holdings_valid_from", "valid_from"),
    )


class TieRow(Base):
    """A dated tie between two organizations (a leadership move, a contract...)."""

    __tablename__ = "ties"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[int] = mapped_column(Integer)
    organization: Mapped[str] = mapped_column(String(63), ForeignKey("organizations.id"))
    counterparty: Mapped[str] = mapped_column(String(63), ForeignKey("organizations.id"))
    person: Mapped[str] = mapped_column(String(300), default="")
    role: Mapped[str] = mapped_column(String(300), default="")
    effective_date: Mapped[dt.date] = mapped_column(Date, index=True)
    source_url: Mapped[str] = mapped_column(Text, default="")
    event_id: Mapped[str] = mapped_column(String(128), index=True)
    provenance: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    # Ledger seq from which this row is knowledge, and from which it no longer is (null: now).
    recorded_from: Mapped[int] = mapped_column(Integer)
    recorded_to: Mapped[int | None] = mapped_column(Integer, nullable=True)


class CountersRow(Base):
    """One row (id 1). Writers lock it first, so ledger and catalog writes are serialized."""

    __tablename__ = "counters"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    catalog_version: Mapped[int] = mapped_column(Integer, default=0)
    graph_version: Mapped[int] = mapped_column(Integer, default=0)


class OutboxRow(OutboxMixin, Base):
    """Change events waiting for the relay (``dpm.platform.outbox``)."""


class AuditRow(AuditMixin, Base):
    """Every write call, accepted or refused (``dpm.platform.audit``)."""
