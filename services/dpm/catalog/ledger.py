"""The ownership ledger: record an OwnershipEvent, read the ledger back.

Everything happens inside the caller's transaction; any error raised here
rolls back the whole transaction, so a refused event leaves no trace. The
ledger sequence number is the graph version and the record-time axis.

Recording rules:
- same event_id and same content: the stored event is returned, nothing is written;
- same event_id, different content: ALREADY_EXISTS;
- effective dates lie in 1800-01-01 .. 2199-12-31; free text is bounded and
  has no control characters; enum values are ones this server knows;
- an event may be dated before events already recorded (a late filing): the
  periods of every pair it touches are re-derived from all their events in
  (effective date, seq) order (``dpm.catalog.history``); when that leaves a
  recorded event unable to apply (a stake_changed with no stake left before
  it), the event is refused (FAILED_PRECONDITION naming that event);
- ``supersedes`` names an earlier event this one corrects: from this event's
  seq on, the corrected event counts as never having happened (its pairs are
  re-derived without it, its ties end); both stay readable. An event is
  corrected at most once, never by itself, and a retraction cannot be
  corrected (record the withdrawn event again instead). ``retraction``
  withdraws without replacing;
- after re-derivation the invariants hold on every date (``dpm.catalog.invariants``);
- the outbox row names the organizations whose competitor groups may see a
  changed exposure on some date: the holders and held organizations of the
  changed pairs and the organizations ties point at, with the first changed
  date; the relay adds everything that holds them from that date on before it
  publishes (``dpm.catalog.upstream``: one walk for a run of events, outside
  the write).

What each kind of event checks and does to a pair is its handler's business
(``dpm.catalog.event_kinds``); this module runs them in order.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import time
from dataclasses import dataclass
from typing import Any

from google.protobuf import json_format
from sqlalchemy.orm import Session

from dpm.catalog import validation
from dpm.catalog.event_kinds import Change, Checks, handler_for
from dpm.catalog.history import Broken, Fact, History, PairDiff, Pairs
from dpm.catalog.invariants import Fields, Touched, check
from dpm.catalog.store.counters import CountersRepository
from dpm.catalog.store.graph_walk import GraphWalk
from dpm.catalog.store.holdings import HoldingRepository, TieRepository
from dpm.catalog.store.ledger import LedgerRepository
from dpm.catalog.store.models import EVERY_HOLDER, OwnershipEventRow, TieRow
from dpm.catalog.store.organizations import OrganizationRepository
from dpm.catalog.store.outbox import OutboxRepository
from dpm.catalog.terms import AXES
from dpm.ownership.v1 import ownership_pb2
from dpm.platform.errors import (
    AlreadyExists,
    DomainError,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    Violations,
)
from dpm.platform.events import OwnershipChanged
from dpm.platform.names import OrganizationName, OwnershipEventName, check_event_id

# The members of OwnershipEvent.change, in proto order.
CHANGE_KINDS = tuple(
    f.name for f in ownership_pb2.OwnershipEvent.DESCRIPTOR.oneofs_by_name["change"].fields
)
RETRACTION = "retraction"
SUPERSEDES = "event.supersedes"


@dataclass
class Recorded:
    event: ownership_pb2.OwnershipEvent
    # False when the event was a replay of a stored one (nothing written).
    written: bool
    # The change notice written to the outbox (None for a replay).
    announced: OwnershipChanged | None = None


def record_event(
    session: Session, event: ownership_pb2.OwnershipEvent, now: dt.datetime | None = None
) -> Recorded:
    """Validate, append to the ledger, re-derive the graph and queue the re-match task.

    ``now`` is the record time (default: the clock); it never goes below the
    previous event's, so "as known at" reads follow the ledger order.
    """
    check_event_id(event.event_id, "event.event_id")
    message = _content_message(event)
    content = json_format.MessageToDict(message, preserving_proto_field_name=True)
    print_ = fingerprint(content)
    counters = CountersRepository(session)
    counters.lock()

    ledger = LedgerRepository(session)
    stored = ledger.by_event_id(event.event_id)
    if stored is not None:
        if stored.fingerprint == print_:
            superseder = ledger.superseder_of(stored.event_id)
            return Recorded(
                to_proto(stored, superseder.event_id if superseder else ""), written=False
            )
        raise AlreadyExists(
            f"ownership event {event.event_id!r} is already recorded with different content; "
            "use a new event_id for a new event",
            reason="EVENT_CONTENT_DIFFERS",
        )

    kind, effective = _check_common(event)
    change = handler_for(kind).validate(
        getattr(event, kind), Checks(kind, OrganizationRepository(session), event.supersedes)
    )
    withdrawn = _withdrawn(ledger, event)
    if effective is None:  # a retraction without a date takes the withdrawn event's
        assert withdrawn is not None
        effective = withdrawn.effective_date

    seq = counters.next_graph_version()
    holdings = HoldingRepository(session)
    ties = TieRepository(session)
    history = History(holdings, ledger, seq)
    fact = Fact.of(event, seq, effective)

    # The pairs to re-derive: the event's own, and those of the event it withdraws.
    keys = {(holder.id, held.id) for holder, held in change.pairs}
    keys |= {(EVERY_HOLDER, held.id) for held in change.every_holder_of}
    pairs = Pairs()
    history.add_event_pairs(pairs, keys, effective)
    without: set[int] = set()
    old_ties: list[TieRow] = []
    if withdrawn is not None:
        without.add(withdrawn.seq)
        history.add_event_pairs(pairs, ledger.pairs_of(withdrawn.seq), withdrawn.effective_date)
        old_ties = ties.known_of_event(withdrawn.event_id)
    try:
        diffs = history.rederive(pairs, fact, keys, without)
    except Broken as broken:
        raise _refusal(broken, fact, change) from None

    new_ties = _tie_rows(change, fact, seq)
    changed, since = _changed(diffs, [*new_ties, *old_ties])

    history.apply(diffs)
    for tie in old_ties:
        ties.retire(tie, seq)
    for tie in new_ties:
        ties.add(tie)
    check(holdings, GraphWalk(session), _touched(diffs), _fields(change, event))

    touched = {org.id for org in change.touched}
    touched |= {org for d in diffs for org in (d.holder, d.held)}
    touched |= {org for t in old_ties for org in (t.organization, t.counterparty)}
    if withdrawn is not None:
        touched |= ledger.organizations_of(withdrawn.seq)
    row = OwnershipEventRow(
        seq=seq,
        event_id=event.event_id,
        fingerprint=print_,
        payload=content,
        effective_date=effective,
        record_time=_record_time(ledger, seq, now),
        supersedes=event.supersedes or None,
    )
    ledger.append(row, sorted(touched), sorted(keys))
    announced = OwnershipChanged(
        event=OwnershipEventName(event.event_id),
        graph_version=seq,
        upstream=tuple(OrganizationName(i) for i in sorted(changed)),
        since=since.isoformat() if since is not None else "",
        written_at=time.time(),
    )
    OutboxRepository(session).add(announced)
    message.name = str(OwnershipEventName(row.event_id))
    message.graph_version = seq
    message.record_time.FromDatetime(_aware(row.record_time))
    return Recorded(message, written=True, announced=announced)


def _tie_rows(change: Change, fact: Fact, seq: int) -> list[TieRow]:
    """The rows of the ties the event records, current knowledge from ``seq`` on."""
    origin = fact.origin
    return [
        TieRow(
            kind=tie.kind,
            organization=tie.organization.id,
            counterparty=tie.counterparty.id,
            person=tie.person,
            role=tie.role,
            effective_date=origin.effective,
            source_url=origin.source_url,
            event_id=origin.event_id,
            provenance=origin.provenance,
            recorded_from=seq,
        )
        for tie in change.ties
    ]


def _changed(diffs: list[PairDiff], ties: list[TieRow]) -> tuple[set[str], dt.date | None]:
    """Where the exposures may change: both ends of every changed pair and whom the (new or
    withdrawn) ties point at; and the first date anything changed (None: nothing did).

    Every changed edge joins two of these, so what holds them on some date from
    that one on is the same set before and after the change: the relay's walk
    (``dpm.catalog.upstream``) finds it later.
    """
    roots = {org for d in diffs for org in (d.holder, d.held)}
    roots |= {t.counterparty for t in ties}
    dates = [d.since() for d in diffs] + [t.effective_date for t in ties]
    return roots, min(dates, default=None)


def _check_common(event: ownership_pb2.OwnershipEvent) -> tuple[str, dt.date | None]:
    """The change's kind and the effective date (None: a retraction that states none)."""
    v = Violations()
    kind = event.WhichOneof("change")
    if kind is None:
        v.add("event.change", f"one of {', '.join(CHANGE_KINDS)} must be set")
    effective = validation.date(
        v, event.effective_date, "event.effective_date", required=kind != RETRACTION
    )
    validation.url(v, event.source_url, "event.source_url")
    validation.text(v, event.summary, "event.summary", validation.SUMMARY_LIMIT, multiline=True)
    validation.provenance(v, event.provenance, "event.provenance")
    v.raise_if_any()
    assert kind is not None
    return kind, effective


def _withdrawn(
    ledger: LedgerRepository, event: ownership_pb2.OwnershipEvent
) -> OwnershipEventRow | None:
    """The event ``event.supersedes`` names, once it is known it may be withdrawn."""
    if not event.supersedes:
        return None
    check_event_id(event.supersedes, SUPERSEDES)
    if event.supersedes == event.event_id:
        raise InvalidArgument.one(SUPERSEDES, "an event cannot supersede itself")
    name = OwnershipEventName(event.supersedes)
    target = ledger.by_event_id(event.supersedes)
    if target is None:
        raise InvalidArgument.one(SUPERSEDES, f"{name} does not exist")
    earlier = ledger.superseder_of(event.supersedes)
    if earlier is not None:
        later = OwnershipEventName(earlier.event_id)
        raise FailedPrecondition(
            f"{name} is already superseded by {later}; to correct the correction, "
            f"supersede {later}",
            reason="ALREADY_SUPERSEDED",
        )
    if RETRACTION in target.payload:
        raise FailedPrecondition(
            f"{name} is a retraction and has no effect to withdraw; to restore what it "
            "withdrew, record that event again under a new event_id",
            reason="SUPERSEDES_RETRACTION",
        )
    return target


def _refusal(broken: Broken, new: Fact, change: Change) -> DomainError:
    cause, origin = broken.cause, broken.origin
    if origin.seq == new.origin.seq:
        if cause.field:
            return InvalidArgument.one(f"{change.prefix}.{cause.field}", cause.message)
        return FailedPrecondition(cause.message, reason=cause.reason)
    return FailedPrecondition(
        f"with this event, {OwnershipEventName(origin.event_id)} ({origin.kind} on "
        f"{origin.effective.isoformat()}) no longer applies: {cause.message}; "
        "correct it first with an event that supersedes it",
        reason="CONFLICTS_WITH_RECORDED_EVENT",
    )


def _fields(change: Change, event: ownership_pb2.OwnershipEvent) -> Fields:
    """Where sum and cycle refusals point: the event's figures, else what it corrects."""
    fallback = SUPERSEDES if event.supersedes else change.prefix
    return Fields(change.equity_field or fallback, change.voting_field or fallback)


def _touched(diffs: list[PairDiff]) -> list[Touched]:
    """The held organizations whose incoming holdings changed, for the invariants."""
    since: dict[str, dt.date] = {}
    carried: dict[str, set[str]] = {}
    for diff in diffs:
        day = diff.since()
        since[diff.held] = min(day, since.get(diff.held, day))
        carried.setdefault(diff.held, set()).update(a for a in AXES if diff.carries(a))
    return [Touched(held, since[held], frozenset(carried[held])) for held in since]


def _record_time(ledger: LedgerRepository, seq: int, now: dt.datetime | None) -> dt.datetime:
    instant = _aware(now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    previous = ledger.record_time(seq - 1)
    if previous is not None:
        instant = max(instant, _aware(previous))
    return instant


def get_event(session: Session, name: OwnershipEventName) -> ownership_pb2.OwnershipEvent:
    ledger = LedgerRepository(session)
    row = ledger.by_event_id(name.id)
    if row is None:
        raise NotFound(f"{name} does not exist")
    superseder = ledger.superseder_of(row.event_id)
    return to_proto(row, superseder.event_id if superseder else "")


def graph_version(session: Session) -> int:
    """The sequence number of the newest event; 0 before the first."""
    return LedgerRepository(session).latest_seq()


def list_page(
    session: Session, organization: OrganizationName | None, after: int | None, limit: int
) -> list[ownership_pb2.OwnershipEvent]:
    """Events in ledger order, optionally only those touching one organization."""
    ledger = LedgerRepository(session)
    org_id = organization.id if organization is not None else None
    rows = ledger.page(org_id, after, limit)
    superseders = ledger.superseders([row.event_id for row in rows])
    return [to_proto(row, superseders.get(row.event_id, "")) for row in rows]


def content_of(event: ownership_pb2.OwnershipEvent) -> dict[str, Any]:
    """The event's caller-supplied content as JSON (output-only fields dropped)."""
    return json_format.MessageToDict(_content_message(event), preserving_proto_field_name=True)


def _content_message(event: ownership_pb2.OwnershipEvent) -> ownership_pb2.OwnershipEvent:
    """A copy of the event without its output-only fields."""
    content = ownership_pb2.OwnershipEvent()
    content.CopyFrom(event)
    content.ClearField("name")
    content.ClearField("graph_version")
    content.ClearField("record_time")
    content.ClearField("superseded_by")
    return content


def fingerprint(content: dict[str, Any]) -> str:
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def to_proto(row: OwnershipEventRow, superseded_by: str = "") -> ownership_pb2.OwnershipEvent:
    event = json_format.ParseDict(
        row.payload, ownership_pb2.OwnershipEvent(), ignore_unknown_fields=True
    )
    event.name = str(OwnershipEventName(row.event_id))
    event.graph_version = row.seq
    event.record_time.FromDatetime(_aware(row.record_time))
    event.superseded_by = superseded_by
    return event


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
