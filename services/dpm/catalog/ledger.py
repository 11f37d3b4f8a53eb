"""The ownership ledger: record an OwnershipEvent, read the ledger back.

Everything happens inside the caller's transaction; any error raised here
rolls back the whole transaction, so a refused event leaves no trace. The
ledger sequence number is the graph version.

Recording rules:
- same event_id and same content: the stored event is returned, nothing is written;
- same event_id, different content: ALREADY_EXISTS;
- events apply in effective-date order per holding: an event dated before the
  start of the holding's current period is refused (FAILED_PRECONDITION).
  Back-dated (out-of-order) history is a later issue: it needs re-deriving the
  periods after the inserted date.

What each kind of event checks and writes is its handler's business
(``dpm.catalog.event_kinds``); this module runs them in order: id, replay,
common fields, the handler's validate, its apply, the invariants
(``dpm.catalog.invariants``), the ledger row and the outbox row.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from google.protobuf import json_format
from sqlalchemy.orm import Session

from dpm.catalog.event_kinds import Checks, Writes, handler_for
from dpm.catalog.invariants import check_closed_cycles, check_sums
from dpm.catalog.store.counters import CountersRepository
from dpm.catalog.store.graph_walk import GraphWalk
from dpm.catalog.store.holdings import HoldingRepository, TieRepository
from dpm.catalog.store.ledger import LedgerRepository
from dpm.catalog.store.models import OwnershipEventRow
from dpm.catalog.store.organizations import OrganizationRepository
from dpm.catalog.store.outbox import OutboxRepository
from dpm.ownership.v1 import ownership_pb2
from dpm.platform.dates import parse_date
from dpm.platform.errors import AlreadyExists, InvalidArgument, NotFound
from dpm.platform.events import OwnershipChanged
from dpm.platform.names import OrganizationName, OwnershipEventName, check_event_id

# The members of OwnershipEvent.change, in proto order.
CHANGE_KINDS = tuple(
    f.name for f in ownership_pb2.OwnershipEvent.DESCRIPTOR.oneofs_by_name["change"].fields
)


@dataclass
class Recorded:
    event: ownership_pb2.OwnershipEvent
    # False when the event was a replay of a stored one (nothing written).
    written: bool


def record_event(
    session: Session, event: ownership_pb2.OwnershipEvent, now: dt.datetime | None = None
) -> Recorded:
    """Validate, append to the ledger, apply to the graph and queue the re-match task."""
    check_event_id(event.event_id, "event.event_id")
    content = content_of(event)
    print_ = fingerprint(content)
    counters = CountersRepository(session)
    counters.lock()

    ledger = LedgerRepository(session)
    stored = ledger.by_event_id(event.event_id)
    if stored is not None:
        if stored.fingerprint == print_:
            return Recorded(to_proto(stored), written=False)
        raise AlreadyExists(
            f"ownership event {event.event_id!r} is already recorded with different content; "
            "use a new event_id for a new event",
            reason="EVENT_CONTENT_DIFFERS",
        )

    effective = parse_date(event.effective_date, "event.effective_date")
    kind = event.WhichOneof("change")
    if kind is None:
        raise InvalidArgument.one("event.change", f"one of {', '.join(CHANGE_KINDS)} must be set")
    if event.source_url and not event.source_url.startswith(("http://", "https://")):
        raise InvalidArgument.one("event.source_url", "must be an http or https URL")

    handler = handler_for(kind)
    message = getattr(event, kind)
    walk = GraphWalk(session)
    change = handler.validate(message, Checks(kind, OrganizationRepository(session)))
    before = walk.ancestors_of(org.id for org in change.roots)

    seq = counters.next_graph_version()
    holdings = HoldingRepository(session)
    writes = Writes(event.event_id, effective, event.source_url, holdings, TieRepository(session))
    handler.apply(message, writes, change)
    holdings.save()

    check_sums(holdings, change)
    check_closed_cycles(walk, change)
    after = walk.ancestors_of(org.id for org in change.roots)

    row = OwnershipEventRow(
        seq=seq,
        event_id=event.event_id,
        fingerprint=print_,
        payload=content,
        effective_date=effective,
        record_time=now or dt.datetime.now(dt.UTC),
    )
    ledger.append(row, sorted(org.id for org in change.touched))
    OutboxRepository(session).add(
        OwnershipChanged(
            event=OwnershipEventName(event.event_id),
            graph_version=seq,
            upstream=tuple(OrganizationName(i) for i in sorted(before | after)),
        )
    )
    return Recorded(to_proto(row), written=True)


def get_event(session: Session, name: OwnershipEventName) -> ownership_pb2.OwnershipEvent:
    row = LedgerRepository(session).by_event_id(name.id)
    if row is None:
        raise NotFound(f"{name} does not exist")
    return to_proto(row)


def graph_version(session: Session) -> int:
    """The sequence number of the newest event; 0 before the first."""
    return LedgerRepository(session).latest_seq()


def list_page(
    session: Session, organization: OrganizationName | None, after: int | None, limit: int
) -> list[ownership_pb2.OwnershipEvent]:
    """Events in ledger order, optionally only those touching one organization."""
    org_id = organization.id if organization is not None else None
    return [to_proto(row) for row in LedgerRepository(session).page(org_id, after, limit)]


def content_of(event: ownership_pb2.OwnershipEvent) -> dict[str, Any]:
    """The event's caller-supplied content as JSON (output-only fields dropped)."""
    content = ownership_pb2.OwnershipEvent()
    content.CopyFrom(event)
    content.ClearField("name")
    content.ClearField("graph_version")
    content.ClearField("record_time")
    return json_format.MessageToDict(content, preserving_proto_field_name=True)


def fingerprint(content: dict[str, Any]) -> str:
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def to_proto(row: OwnershipEventRow) -> ownership_pb2.OwnershipEvent:
    event = json_format.ParseDict(row.payload, ownership_pb2.OwnershipEvent())
    event.name = str(OwnershipEventName(row.event_id))
    event.graph_version = row.seq
    event.record_time.FromDatetime(_aware(row.record_time))
    return event


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
