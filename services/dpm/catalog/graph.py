"""The ownership graph as of one effective date (ExportOwnershipGraph)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from dpm.catalog import ledger, organizations
from dpm.catalog.store.counters import CountersRepository
from dpm.catalog.store.holdings import HoldingRepository, TieRepository
from dpm.ownership.v1 import ownership_pb2
from dpm.platform.names import OrganizationName


def export(
    session: Session, as_of: dt.date, if_none_match: str = ""
) -> ownership_pb2.OwnershipGraph:
    """Holdings valid at as_of ([valid_from, valid_to)), ties dated on or before it.

    ``version`` is the current ledger sequence number: the graph as of any date
    is read from the ledger as it stands now. The etag also covers the catalog
    version (organizations are part of the export); when the caller's copy is
    current only the header is sent back.
    """
    version = ledger.graph_version(session)
    etag = f"g{version}-c{CountersRepository(session).read().catalog_version}"
    graph = ownership_pb2.OwnershipGraph(version=version, as_of=as_of.isoformat(), etag=etag)
    if if_none_match == etag:
        graph.not_modified = True
        return graph
    for h in HoldingRepository(session).as_of(as_of):
        item = ownership_pb2.Holding(
            holder=str(OrganizationName(h.holder)),
            held=str(OrganizationName(h.held)),
            board_seats=h.board_seats,
            valid_from=h.valid_from.isoformat(),
            valid_to=h.valid_to.isoformat() if h.valid_to else "",
            source_url=h.source_url,
            event_id=h.event_id,
        )
        if h.equity is not None:
            item.equity_fraction = h.equity
        if h.voting is not None:
            item.voting_fraction = h.voting
        graph.holdings.append(item)
    for t in TieRepository(session).as_of(as_of):
        graph.ties.append(
            ownership_pb2.Tie(
                kind=t.kind,  # type: ignore[arg-type]
                organization=str(OrganizationName(t.organization)),
                counterparty=str(OrganizationName(t.counterparty)),
                person=t.person,
                role=t.role,
                effective_date=t.effective_date.isoformat(),
                source_url=t.source_url,
                event_id=t.event_id,
            )
        )
    graph.organizations.extend(str(name) for name in organizations.all_names(session))
    return graph
