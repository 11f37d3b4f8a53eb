"""The ownership graph as of one date -> BODS 0.4 statements (dicts), valid against the schema.

``snapshot`` reads what is needed inside the caller's read transaction;
``statements`` then builds the statements lazily from it, so the caller can
stream them after the transaction is closed.

- Every organization is an entity statement (kind PERSON: a person statement)
  whose recordId is its resource name (``OrganizationName``): importing
  the export lands on the same organizations.
- Every holding in force is a relationship statement (subject = held,
  interestedParty = holder): shareholding (exact share or range; no share
  when undisclosed), votingRights when the votes differ from the equity,
  boardMember while it carries board seats; startDate = the start of the
  current period, endDate = its end when known.
- A leadership role of a person (what an import makes of
  seniorManagingOfficial) is a seniorManagingOfficial relationship. Other ties
  have no BODS interest of their own: they are otherInfluenceOrControl
  relationships whose details carry the tie ("dpmatch tie {...}"), which
  dpmatch's importer reads back as the same tie.

Ids are deterministic: recordIds from the organizations and edges, and
statementIds from the date and the content, so the same graph exported twice
gives the same statements.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from dpm.catalog import graph, organizations
from dpm.catalog.bods import ids
from dpm.catalog.bods.mapping import KINDS, SOURCE_TYPES, TIE_MARKER
from dpm.catalog.bods.reading import KIND_MARKER
from dpm.catalog.v1 import catalog_pb2
from dpm.ownership.v1 import ownership_pb2
from dpm.platform.names import OrganizationName

BODS_VERSION = "0.4"
PUBLISHER = "dpmatch"
PAGE = 1000
KIND_NAMES = {kind: name for name, kind in KINDS.items()}
SOURCE_NAMES = {kind: name for name, kind in SOURCE_TYPES.items()}

Json = dict[str, Any]


@dataclass
class Snapshot:
    as_of: dt.date
    graph: ownership_pb2.OwnershipGraph
    # Every organization, by id.
    parties: dict[str, catalog_pb2.Organization] = field(default_factory=dict)

    @property
    def version(self) -> int:
        return self.graph.version


def snapshot(session: Session, as_of: dt.date) -> Snapshot:
    """The graph as of ``as_of`` and every organization, read in the caller's transaction."""
    found = Snapshot(as_of, graph.export(session, as_of))
    after: str | None = None
    while True:
        page = organizations.list_page(session, 0, after, PAGE)
        for org in page:
            found.parties[OrganizationName.trusted(org.name).id] = org
        if len(page) < PAGE:
            return found
        after = OrganizationName.trusted(page[-1].name).id


def statements(snap: Snapshot) -> Iterator[Json]:
    """Entity and person statements, then relationship statements."""
    for slug in sorted(snap.parties):
        yield _party(snap, snap.parties[slug])
    for holding in snap.graph.holdings:
        yield _holding(snap, holding)
    for tie in snap.graph.ties:
        yield _tie(snap, tie)


def _party(snap: Snapshot, org: catalog_pb2.Organization) -> Json:
    record_id = org.name
    if org.kind == catalog_pb2.ORGANIZATION_KIND_PERSON:
        person: Json = {
            "isComponent": False,
            "personType": "knownPerson",
            "names": [{"type": "legal", "fullName": org.display_name}],
        }
        if org.country:
            person["nationalities"] = [{"name": org.country, "code": org.country}]
        return _statement(snap, record_id, "person", record_id, person)
    entity_type: Json = {"type": "registeredEntity"}
    if org.kind in KIND_NAMES:
        entity_type["details"] = KIND_MARKER + KIND_NAMES[org.kind]
    entity: Json = {"isComponent": False, "entityType": entity_type, "name": org.display_name}
    if org.country:
        entity["jurisdiction"] = {"name": org.country, "code": org.country}
    if org.source_urls:
        entity["uri"] = org.source_urls[0]
    return _statement(snap, record_id, "entity", record_id, entity)


def _holding(snap: Snapshot, h: ownership_pb2.Holding) -> Json:
    dates: Json = {"startDate": h.valid_from}
    if h.valid_to:
        dates["endDate"] = h.valid_to
    interests: list[Json] = []
    seats_only = (
        h.board_seats > 0
        and h.HasField("equity_fraction")
        and h.equity_fraction == 0.0
        and h.HasField("voting_fraction")
        and h.voting_fraction == 0.0
    )
    if not seats_only:
        shareholding: Json = {"type": "shareholding", "directOrIndirect": "direct"}
        share = _share(h, "equity")
        if share is not None:
            shareholding["share"] = share
        interests.append(shareholding | dates)
        votes = _share(h, "voting")
        if votes is not None and votes != share:
            interests.append(
                {"type": "votingRights", "directOrIndirect": "direct", "share": votes} | dates
            )
    if h.board_seats > 0:
        board: Json = {"type": "boardMember", "directOrIndirect": "direct"}
        if h.board_seats > 1:
            board["details"] = f"{h.board_seats} board seats"
        interests.append(board | dates)
    record_id = f"dpmatch:holding:{_slug(h.holder)}:{_slug(h.held)}"
    details = _relationship(h.held, h.holder, interests)
    return _statement(snap, record_id, "relationship", h.held, details, _source(h))


def _tie(snap: Snapshot, t: ownership_pb2.Tie) -> Json:
    record_id = f"dpmatch:tie:{t.event_id}:{ownership_pb2.TieKind.Name(t.kind).lower()}"
    person = snap.parties.get(_slug(t.organization))
    if (
        t.kind == ownership_pb2.TIE_KIND_LEADERSHIP_MOVE
        and person is not None
        and person.kind == catalog_pb2.ORGANIZATION_KIND_PERSON
    ):
        # A person's leadership role at the counterparty.
        interest: Json = {
            "type": "seniorManagingOfficial",
            "directOrIndirect": "direct",
            "startDate": t.effective_date,
        }
        if t.role:
            interest["details"] = t.role
        details = _relationship(t.counterparty, t.organization, [interest])
        return _statement(snap, record_id, "relationship", t.counterparty, details, _source(t))
    marker: Json = {"kind": ownership_pb2.TieKind.Name(t.kind)}
    if t.person:
        marker["person"] = t.person
    if t.role:
        marker["role"] = t.role
    interest = {
        "type": "otherInfluenceOrControl",
        "directOrIndirect": "direct",
        "startDate": t.effective_date,
        "details": TIE_MARKER + json.dumps(marker, ensure_ascii=False, sort_keys=True),
    }
    details = _relationship(t.organization, t.counterparty, [interest])
    return _statement(snap, record_id, "relationship", t.organization, details, _source(t))


def _relationship(subject: str, interested: str, interests: list[Json]) -> Json:
    return {
        "isComponent": False,
        "subject": subject,
        "interestedParty": interested,
        "interests": interests,
    }


def _share(h: ownership_pb2.Holding, axis: str) -> Json | None:
    """A figure as a BODS share (percent); None when undisclosed."""
    if h.HasField(f"{axis}_fraction"):
        return {"exact": _percent(getattr(h, f"{axis}_fraction"))}
    if not h.HasField(f"{axis}_range"):
        return None
    share_range = getattr(h, f"{axis}_range")
    share: Json = {}
    if share_range.HasField("minimum"):
        key = "exclusiveMinimum" if share_range.exclusive_minimum else "minimum"
        share[key] = _percent(share_range.minimum)
    if share_range.HasField("maximum"):
        key = "exclusiveMaximum" if share_range.exclusive_maximum else "maximum"
        share[key] = _percent(share_range.maximum)
    return share or None


def _percent(fraction: float) -> float:
    value = round(fraction * 100, 9)
    return int(value) if value == int(value) else value


def _source(item: ownership_pb2.Holding | ownership_pb2.Tie) -> Json | None:
    source: Json = {}
    provenance = item.provenance
    if provenance.source_type in SOURCE_NAMES:
        source["type"] = [SOURCE_NAMES[provenance.source_type]]
    if provenance.asserted_by:
        source["assertedBy"] = [{"name": provenance.asserted_by}]
    if item.source_url:
        source["url"] = item.source_url
    return source or None


def _statement(
    snap: Snapshot,
    record_id: str,
    record_type: str,
    declaration_subject: str,
    details: Json,
    source: Json | None = None,
) -> Json:
    day = snap.as_of.isoformat()
    content = json.dumps([details, source], sort_keys=True, ensure_ascii=False)
    statement: Json = {
        "statementId": ids.exported_statement_id(day, record_id, content),
        "declarationSubject": declaration_subject,
        "statementDate": day,
        "publicationDetails": {
            "publicationDate": day,
            "bodsVersion": BODS_VERSION,
            "publisher": {"name": PUBLISHER},
        },
        "recordId": record_id,
        "recordType": record_type,
        "recordStatus": "new",
        "recordDetails": details,
    }
    if source:
        statement["source"] = source
    return statement


def _slug(name: str) -> str:
    return OrganizationName.trusted(name).id
