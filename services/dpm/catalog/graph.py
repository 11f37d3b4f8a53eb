"""The ownership graph as of one effective date, as known now or at a past instant
(ExportOwnershipGraph in one message, StreamOwnershipGraph in parts)."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from typing import Any

from sqlalchemy import Row
from sqlalchemy.orm import Session

from dpm.catalog import organizations
from dpm.catalog.store.counters import CountersRepository
from dpm.catalog.store.holdings import HoldingRepository, TieRepository
from dpm.catalog.store.ledger import LedgerRepository
from dpm.catalog.store.models import HoldingRow, TieRow
from dpm.catalog.terms import Share, provenance_proto
from dpm.ownership.v1 import ownership_pb2
from dpm.platform.errors import FailedPrecondition
from dpm.platform.names import OrganizationName

# Most a part of StreamOwnershipGraph holds (a little more: the item that crosses it).
PART_BYTES = 1 << 20
# Most ExportOwnershipGraph answers in one message (gRPC's default limit is 4 MiB).
MESSAGE_BYTES = 3_584 * 1024


# The most events a delta may span; past it the whole graph is cheaper to send.
DELTA_EVENTS_MAX = 1000
# Etags of the graph as known now: g{ledger version}-c{catalog version}-e{tip}, the tip
# the start of the hash of the event at that version. Version numbers alone would
# lie after a restore from a backup: the ledger comes back to an older version and
# then reaches a held version again with other events.
CURRENT_ETAG = re.compile(r"g(\d+)-c(\d+)-e([0-9a-f]*)")
TIP_CHARS = 16


def _tip(events: LedgerRepository, version: int) -> str:
    return events.fingerprint_at(version)[:TIP_CHARS]


def export(
    session: Session,
    as_of: dt.date,
    if_none_match: str = "",
    as_known_at: dt.datetime | None = None,
    accept_delta: bool = False,
) -> ownership_pb2.OwnershipGraph:
    """Holdings valid at as_of ([valid_from, valid_to)), ties dated on or before it.

    Both axes are explicit: ``as_of`` is the effective date; ``as_known_at``
    the record time (None: as the ledger stands now). ``version`` is the
    newest ledger seq the read includes. The etag covers the version, the
    catalog version (organizations are part of the export) and the record
    instant; when the caller's copy is current only the header is sent back,
    and with ``accept_delta`` a copy a few stake events old gets only what
    those events changed (``delta``).
    """
    known_at = None
    events = LedgerRepository(session)
    if as_known_at is None:
        version = events.latest_seq()
    else:
        version = known_at = events.seq_known_at(as_known_at)
    catalog_version = CountersRepository(session).read().catalog_version
    etag = f"g{version}-c{catalog_version}-e{_tip(events, version)}"
    graph = ownership_pb2.OwnershipGraph(version=version, as_of=as_of.isoformat())
    if as_known_at is not None:
        graph.as_known_at.FromDatetime(as_known_at)
        etag += f"-k{graph.as_known_at.seconds}.{graph.as_known_at.nanos:09d}"
    graph.etag = etag
    if if_none_match == etag:
        graph.not_modified = True
        return graph
    if (
        accept_delta
        and as_known_at is None
        and delta(session, graph, if_none_match, catalog_version)
    ):
        return graph
    graph.holdings.extend(
        holding_to_proto(h) for h in HoldingRepository(session).as_of(as_of, known_at)
    )
    graph.ties.extend(tie_to_proto(t) for t in TieRepository(session).as_of(as_of, known_at))
    names = organizations.all_names(session, created_by=as_known_at)
    graph.organizations.extend(str(name) for name in names)
    return graph


def delta(
    session: Session, graph: ownership_pb2.OwnershipGraph, held_etag: str, catalog_version: int
) -> bool:
    """Fill ``graph`` as the change from the copy ``held_etag`` names, when that copy is
    a few events old and only holdings changed since (no organization, no tie): the
    holdings in force of every organization those events touched. False otherwise."""
    held = CURRENT_ETAG.fullmatch(held_etag)
    if held is None or int(held[2]) != catalog_version:
        return False
    since = int(held[1])
    if not 0 <= graph.version - since <= DELTA_EVENTS_MAX:
        return False
    if held[3] != _tip(LedgerRepository(session), since):
        return False  # this ledger reached that version by other events (a restore)
    if TieRepository(session).changed_between(since, graph.version):
        return False
    touched = sorted(LedgerRepository(session).organizations_between(since, graph.version))
    graph.delta_from = held_etag
    graph.changed_organizations.extend(str(OrganizationName(o)) for o in touched)
    as_of = dt.date.fromisoformat(graph.as_of)
    graph.holdings.extend(
        holding_to_proto(h) for h in HoldingRepository(session).known_as_of_held(as_of, touched)
    )
    return True


def holding_to_proto(row: HoldingRow | Row[Any]) -> ownership_pb2.Holding:
    """A holding as exported: from an ORM row or a plain one with its columns."""
    item = ownership_pb2.Holding(
        holder=OrganizationName.format(row.holder),
        held=OrganizationName.format(row.held),
        board_seats=row.board_seats,
        valid_from=row.valid_from.isoformat(),
        valid_to=row.valid_to.isoformat() if row.valid_to else "",
        source_url=row.source_url,
        event_id=row.event_id,
    )
    if row.equity is not None:
        item.equity_fraction = row.equity
    if row.voting is not None:
        item.voting_fraction = row.voting
    equity_range = Share.from_json(row.equity_range)
    if equity_range is not None:
        item.equity_range.CopyFrom(equity_range.to_proto())
    voting_range = Share.from_json(row.voting_range)
    if voting_range is not None:
        item.voting_range.CopyFrom(voting_range.to_proto())
    provenance = provenance_proto(row.provenance)
    if provenance is not None:
        item.provenance.CopyFrom(provenance)
    return item


def tie_to_proto(row: TieRow) -> ownership_pb2.Tie:
    item = ownership_pb2.Tie(
        kind=row.kind,  # type: ignore[arg-type]
        organization=str(OrganizationName(row.organization)),
        counterparty=str(OrganizationName(row.counterparty)),
        person=row.person,
        role=row.role,
        effective_date=row.effective_date.isoformat(),
        source_url=row.source_url,
        event_id=row.event_id,
    )
    provenance = provenance_proto(row.provenance)
    if provenance is not None:
        item.provenance.CopyFrom(provenance)
    return item


def one_message(graph: ownership_pb2.OwnershipGraph) -> ownership_pb2.OwnershipGraph:
    """The graph, unless it is too large for one message (then FAILED_PRECONDITION)."""
    size = graph.ByteSize()
    if size > MESSAGE_BYTES:
        raise FailedPrecondition(
            f"the graph as of {graph.as_of} is {size / 2**20:.1f} MiB, more than one message "
            f"carries ({MESSAGE_BYTES / 2**20:.1f} MiB): read it with StreamOwnershipGraph"
        )
    return graph


def parts(graph: ownership_pb2.OwnershipGraph) -> Iterator[ownership_pb2.OwnershipGraph]:
    """``graph`` in parts of about PART_BYTES that MergeFrom puts back together: the
    header first, then its organizations, holdings and ties in order."""
    header = ownership_pb2.OwnershipGraph()
    for descriptor, value in graph.ListFields():  # the scalars only: copying it all to
        if descriptor.is_repeated:  # drop the lists would copy every holding once more
            continue
        if descriptor.message_type is None:
            setattr(header, descriptor.name, value)
        else:
            getattr(header, descriptor.name).CopyFrom(value)
    yield header
    part, size = ownership_pb2.OwnershipGraph(), 0
    for field in ("organizations", "changed_organizations", "holdings", "ties"):
        for item in getattr(graph, field):
            getattr(part, field).append(item)
            size += len(item) if isinstance(item, str) else item.ByteSize()
            if size >= PART_BYTES:
                yield part
                part, size = ownership_pb2.OwnershipGraph(), 0
    if size:
        yield part
