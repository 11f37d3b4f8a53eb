"""Tables of the requirements database.

Requirements and the neutrality policy are stored as binary protobuf (the
workers read clients by the thousand; binary decodes in C); the competitors of
each policy are also kept one per row in ``client_competitors`` so ListClients
can filter on them with an index.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import DateTime, ForeignKey, Integer, LargeBinary, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from dpm.platform.audit import AuditMixin
from dpm.platform.db import new_metadata
from dpm.platform.outbox import OutboxMixin


class Base(DeclarativeBase):
    metadata = new_metadata()


class ClientRow(Base):
    __tablename__ = "clients"

    id: Mapped[str] = mapped_column(String(63), primary_key=True)
    display_name: Mapped[str] = mapped_column(String(200))
    # An OrganizationName as text, or "" for none.
    organization: Mapped[str] = mapped_column(String(100), default="")
    requirements_pb: Mapped[bytes] = mapped_column(LargeBinary)  # a Requirements message
    neutrality_policy_pb: Mapped[bytes] = mapped_column(LargeBinary)  # a NeutralityPolicy
    revision: Mapped[int] = mapped_column(Integer)
    create_time: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    update_time: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class ClientCompetitorRow(Base):
    """One row per (client, competitor organization id) of the client's current policy."""

    __tablename__ = "client_competitors"

    client_id: Mapped[str] = mapped_column(
        String(63), ForeignKey("clients.id", ondelete="CASCADE"), primary_key=True
    )
    competitor_id: Mapped[str] = mapped_column(String(63), primary_key=True, index=True)


class ClientTombstoneRow(Base):
    """The last revision of a deleted client, so a client re-created under the same id
    continues its revision sequence and no older computation can pass for a newer one."""

    __tablename__ = "client_tombstones"

    id: Mapped[str] = mapped_column(String(63), primary_key=True)
    revision: Mapped[int] = mapped_column(Integer)


class TokenRow(Base):
    """An issued bearer token: its id and what it grants, never the token itself.

    ``seq`` orders the registry (ListTokens pages by it); ``jti`` is the id the
    token carries and the one the revocation list holds.
    """

    __tablename__ = "tokens"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    jti: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    subject: Mapped[str] = mapped_column(String(200), index=True)
    label: Mapped[str] = mapped_column(String(200), default="")
    issue_time: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    expire_time: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    revoke_time: Mapped[dt.datetime | None] = mapped_column(
        DateTime(timezone=True), nullable=True, default=None
    )


class OutboxRow(OutboxMixin, Base):
    pass


class AuditRow(AuditMixin, Base):
    """Every write call, accepted or refused (``dpm.platform.audit``)."""
