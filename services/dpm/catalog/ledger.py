"""The ownership ledger: validate an OwnershipEvent and apply it to the graph.

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
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from google.protobuf import json_format
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dpm.catalog.counters import lock_counters
from dpm.catalog.store.models import (
    EventOrganization,
    Holding,
    Organization,
    OutboxRow,
    OwnershipEvent,
    Tie,
)
from dpm.ownership.v1 import ownership_pb2
from dpm.platform.dates import parse_date
from dpm.platform.errors import (
    AlreadyExists,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    Violations,
)
from dpm.platform.names import EVENT_ID, org_id, org_name, parse_name
from dpm.platform.outbox import add_outbox_row
from dpm.worker.queues import Queue, Task

EPS = 1e-9
EVENT_COLLECTION = "ownershipEvents"


def event_name(event_id: str) -> str:
    return f"{EVENT_COLLECTION}/{event_id}"


def parse_event_name(name: str, field: str = "name") -> str:
    prefix = f"{EVENT_COLLECTION}/"
    if not name:
        raise InvalidArgument.one(field, "is required")
    if not name.startswith(prefix) or not EVENT_ID.match(name[len(prefix) :]):
        raise InvalidArgument.one(
            field, f"{name!r} must look like '{prefix}{{event_id}}' ([A-Za-z0-9._:-], 1-128)"
        )
    return name[len(prefix) :]


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


def to_proto(row: OwnershipEvent) -> ownership_pb2.OwnershipEvent:
    event = json_format.ParseDict(row.payload, ownership_pb2.OwnershipEvent())
    event.name = event_name(row.event_id)
    event.graph_version = row.seq
    event.record_time.FromDatetime(_aware(row.record_time))
    return event


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def get_event(session: Session, event_id: str) -> ownership_pb2.OwnershipEvent:
    row = session.scalars(select(OwnershipEvent).where(OwnershipEvent.event_id == event_id)).first()
    if row is None:
        raise NotFound(f"{event_name(event_id)} does not exist")
    return to_proto(row)


def graph_version(session: Session) -> int:
    return int(session.scalar(select(func.coalesce(func.max(OwnershipEvent.seq), 0))) or 0)


@dataclass
class Recorded:
    event: ownership_pb2.OwnershipEvent
    # False when the event was a replay of a stored one (nothing written).
    written: bool


@dataclass
class _Change:
    """What one event did, for the invariant checks and the outbox."""

    kind: str
    # held ids whose holder sums must be re-checked
    sums: set[str] = field(default_factory=set)
    # held ids whose incoming equity grew: a closed cycle could have formed through them
    cycles: set[str] = field(default_factory=set)
    # ids whose competitor groups may see a changed exposure (ancestors are added)
    roots: set[str] = field(default_factory=set)
    touched: set[str] = field(default_factory=set)
    cycle_field: str = ""


def record_event(
    session: Session, event: ownership_pb2.OwnershipEvent, now: dt.datetime | None = None
) -> Recorded:
    """Validate, append to the ledger, apply to the graph and queue the re-match task."""
    if not event.event_id:
        raise InvalidArgument.one("event.event_id", "is required")
    if not EVENT_ID.match(event.event_id):
        raise InvalidArgument.one(
            "event.event_id",
            f"{event.event_id!r} must be 1-128 characters of A-Z, a-z, 0-9, '.', '_', ':', '-'",
        )
    content = content_of(event)
    print_ = fingerprint(content)
    counters = lock_counters(session)

    stored = session.scalars(
        select(OwnershipEvent).where(OwnershipEvent.event_id == event.event_id)
    ).first()
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
        raise InvalidArgument.one(
            "event.change",
            "one of stake_acquired, stake_changed, stake_divested, full_acquisition, "
            "leadership_move, board_seat_granted, board_seat_removed, contract_tie must be set",
        )
    if event.source_url and not event.source_url.startswith(("http://", "https://")):
        raise InvalidArgument.one("event.source_url", "must be an http or https URL")

    graph = _Graph(session)
    change = _validate(session, event, kind)
    before = graph.ancestors_of(change.roots)

    counters.graph_version += 1
    seq = counters.graph_version
    _apply(session, event, kind, effective, change)
    session.flush()

    _check_sums(session, change)
    _check_closed_cycles(graph, change)
    after = graph.ancestors_of(change.roots)

    row = OwnershipEvent(
        seq=seq,
        event_id=event.event_id,
        fingerprint=print_,
        payload=content,
        effective_date=effective,
        record_time=now or dt.datetime.now(dt.UTC),
    )
    session.add(row)
    session.flush()
    for org in sorted(change.touched):
        session.add(EventOrganization(seq=seq, organization_id=org))
    add_outbox_row(
        session,
        OutboxRow,
        Task.OWNERSHIP_CHANGED,
        Queue.REMATCH,
        {"event_id": event.event_id, "graph_version": seq, "upstream": sorted(before | after)},
    )
    session.flush()
    return Recorded(to_proto(row), written=True)


# ---------------------------------------------------------------------------- validation


def _org(session: Session, value: str, field: str) -> str:
    ident = parse_name(value, "organizations", field)
    if session.get(Organization, ident) is None:
        raise InvalidArgument.one(field, f"{value} does not exist")
    return ident


def _fraction(v: Violations, message: Any, name: str, field: str) -> None:
    if not message.HasField(name):
        return
    value = getattr(message, name)
    v.check(
        math.isfinite(value) and 0.0 <= value <= 1.0,
        field,
        f"{value!r} must be a fraction in [0, 1]",
    )


def _pair(
    session: Session, prefix: str, a_name: str, a: str, b_name: str, b: str
) -> tuple[str, str]:
    first = _org(session, a, f"{prefix}.{a_name}")
    second = _org(session, b, f"{prefix}.{b_name}")
    if first == second:
        raise InvalidArgument.one(f"{prefix}.{b_name}", "an organization cannot hold itself")
    return first, second


def _validate(session: Session, event: ownership_pb2.OwnershipEvent, kind: str) -> _Change:
    prefix = f"event.{kind}"
    change = _Change(kind)
    msg = getattr(event, kind)
    v = Violations()
    if kind in ("stake_acquired", "stake_changed"):
        _fraction(v, msg, "equity_fraction", f"{prefix}.equity_fraction")
        _fraction(v, msg, "voting_fraction", f"{prefix}.voting_fraction")
        v.check(msg.board_seats >= 0, f"{prefix}.board_seats", "must not be negative")
        v.raise_if_any()
        holder, held = _pair(session, prefix, "holder", msg.holder, "held", msg.held)
        change.sums.add(held)
        change.cycles.add(held)
        change.roots.add(holder)
        change.touched |= {holder, held}
        change.cycle_field = f"{prefix}.equity_fraction"
    elif kind == "stake_divested":
        holder, held = _pair(session, prefix, "holder", msg.holder, "held", msg.held)
        change.roots.add(holder)
        change.touched |= {holder, held}
    elif kind == "full_acquisition":
        acquirer, target = _pair(session, prefix, "acquirer", msg.acquirer, "target", msg.target)
        change.cycles.add(target)
        change.roots.add(acquirer)
        change.touched |= {acquirer, target}
        change.cycle_field = f"{prefix}.target"
    elif kind in ("board_seat_granted", "board_seat_removed"):
        v.check(msg.seats >= 0, f"{prefix}.seats", "must not be negative")
        v.raise_if_any()
        holder, held = _pair(session, prefix, "holder", msg.holder, "held", msg.held)
        change.roots.add(holder)
        change.touched |= {holder, held}
    elif kind == "leadership_move":
        v.check(bool(msg.person.strip()), f"{prefix}.person", "is required")
        v.raise_if_any()
        source = _org(session, msg.from_organization, f"{prefix}.from_organization")
        dest = _org(session, msg.to_organization, f"{prefix}.to_organization")
        if source == dest:
            raise InvalidArgument.one(
                f"{prefix}.to_organization", "must differ from from_organization"
            )
        change.roots.add(dest)
        change.touched |= {source, dest}
    elif kind == "contract_tie":
        v.check(
            msg.kind != ownership_pb2.TIE_KIND_UNSPECIFIED,
            f"{prefix}.kind",
            "must not be TIE_KIND_UNSPECIFIED",
        )
        v.raise_if_any()
        org = _org(session, msg.organization, f"{prefix}.organization")
        other = _org(session, msg.counterparty, f"{prefix}.counterparty")
        if org == other:
            raise InvalidArgument.one(f"{prefix}.counterparty", "must differ from organization")
        change.roots.add(other)
        change.touched |= {org, other}
    else:  # a oneof member added to the proto but not here
        raise InvalidArgument.one(f"event.{kind}", "is not supported by this server")
    return change


# ---------------------------------------------------------------------------- applying


def _current(session: Session, holder: str, held: str) -> Holding | None:
    return session.scalars(
        select(Holding).where(
            Holding.holder == holder, Holding.held == held, Holding.valid_to.is_(None)
        )
    ).first()


def _close(row: Holding, effective: dt.date) -> None:
    if effective < row.valid_from:
        raise FailedPrecondition(
            f"effective date {effective.isoformat()} is before the current period of "
            f"{org_name(row.holder)} in {org_name(row.held)} (from {row.valid_from.isoformat()}); "
            "recording history out of order is not supported yet",
            reason="OUT_OF_ORDER",
        )
    row.valid_to = effective


def _apply(
    session: Session,
    event: ownership_pb2.OwnershipEvent,
    kind: str,
    effective: dt.date,
    change: _Change,
) -> None:
    msg = getattr(event, kind)

    def open_(
        holder: str, held: str, equity: float | None, voting: float | None, seats: int
    ) -> None:
        session.add(
            Holding(
                holder=holder,
                held=held,
                equity=equity,
                voting=voting,
                board_seats=seats,
                valid_from=effective,
                valid_to=None,
                source_url=event.source_url,
                event_id=event.event_id,
            )
        )

    if kind in ("stake_acquired", "stake_changed"):
        holder, held = org_id(msg.holder), org_id(msg.held)
        cur = _current(session, holder, held)
        if cur is None and kind == "stake_changed":
            raise FailedPrecondition(
                f"{org_name(holder)} holds no stake in {org_name(held)} to change; "
                "record stake_acquired first",
                reason="NO_HOLDING",
            )
        equity = msg.equity_fraction if msg.HasField("equity_fraction") else None
        # Absent voting fraction = same as the equity fraction.
        voting = msg.voting_fraction if msg.HasField("voting_fraction") else equity
        # Seats that come with the stake; 0 on an existing holding keeps its seats
        # (board_seat_removed is how seats go).
        seats = msg.board_seats if (cur is None or msg.board_seats > 0) else cur.board_seats
        if cur is not None:
            _close(cur, effective)
        open_(holder, held, equity, voting, seats)
    elif kind == "stake_divested":
        holder, held = org_id(msg.holder), org_id(msg.held)
        cur = _current(session, holder, held)
        if cur is None:
            raise FailedPrecondition(
                f"{org_name(holder)} holds no stake in {org_name(held)} to divest",
                reason="NO_HOLDING",
            )
        _close(cur, effective)
    elif kind == "full_acquisition":
        acquirer, target = org_id(msg.acquirer), org_id(msg.target)
        rows = session.scalars(
            select(Holding).where(Holding.held == target, Holding.valid_to.is_(None))
        ).all()
        seats = 0
        for row in rows:
            if row.holder == acquirer:
                seats = row.board_seats
            change.roots.add(row.holder)
            change.touched.add(row.holder)
            _close(row, effective)
        open_(acquirer, target, 1.0, 1.0, seats)
    elif kind in ("board_seat_granted", "board_seat_removed"):
        holder, held = org_id(msg.holder), org_id(msg.held)
        seats = msg.seats or 1
        cur = _current(session, holder, held)
        if kind == "board_seat_granted":
            if cur is None:
                open_(holder, held, 0.0, 0.0, seats)
            else:
                _close(cur, effective)
                open_(holder, held, cur.equity, cur.voting, cur.board_seats + seats)
        else:
            if cur is None or cur.board_seats < seats:
                have = 0 if cur is None else cur.board_seats
                raise FailedPrecondition(
                    f"{org_name(holder)} has {have} board seat(s) at {org_name(held)}, "
                    f"cannot remove {seats}",
                    reason="NO_BOARD_SEAT",
                )
            _close(cur, effective)
            left = cur.board_seats - seats
            # A holding that was only a board seat ends with its last seat.
            if left or cur.equity != 0.0 or cur.voting != 0.0:
                open_(holder, held, cur.equity, cur.voting, left)
    elif kind == "leadership_move":
        session.add(
            Tie(
                kind=ownership_pb2.TIE_KIND_LEADERSHIP_MOVE,
                organization=org_id(msg.from_organization),
                counterparty=org_id(msg.to_organization),
                person=msg.person.strip(),
                role=msg.role.strip(),
                effective_date=effective,
                source_url=event.source_url,
                event_id=event.event_id,
            )
        )
    elif kind == "contract_tie":
        session.add(
            Tie(
                kind=msg.kind,
                organization=org_id(msg.organization),
                counterparty=org_id(msg.counterparty),
                person="",
                role="",
                effective_date=effective,
                source_url=event.source_url,
                event_id=event.event_id,
            )
        )


# ---------------------------------------------------------------------------- invariants


def _check_sums(session: Session, change: _Change) -> None:
    for held in sorted(change.sums):
        equity, voting = session.execute(
            select(
                func.coalesce(func.sum(Holding.equity), 0.0),
                func.coalesce(func.sum(Holding.voting), 0.0),
            ).where(Holding.held == held, Holding.valid_to.is_(None))
        ).one()
        equity, voting = float(equity or 0.0), float(voting or 0.0)
        prefix = f"event.{change.kind}"
        if equity > 1.0 + EPS:
            raise InvalidArgument.one(
                f"{prefix}.equity_fraction",
                f"the holders of {org_name(held)} would own {equity:.6g} of its equity in total, "
                "more than 1",
            )
        if voting > 1.0 + EPS:
            raise InvalidArgument.one(
                f"{prefix}.voting_fraction",
                f"the holders of {org_name(held)} would hold {voting:.6g} of its votes in total, "
                "more than 1",
            )


def _check_closed_cycles(graph: _Graph, change: _Change) -> None:
    """Refuse a set of organizations wholly owned among themselves (no outside owner).

    Such a strongly connected component makes (I - W) singular: integrated
    ownership is undefined (ownership-vectors.json, j_closed_cycle_error). Only
    components through a node whose incoming equity grew can be new.
    """
    for node in sorted(change.cycles):
        component = graph.descendants(node, equity_only=True) & graph.ancestors(
            node, equity_only=True
        )
        component.add(node)
        if len(component) < 2:
            continue
        inside = graph.equity_held_inside(component)
        if all(inside.get(member, 0.0) >= 1.0 - EPS for member in component):
            names = ", ".join(org_name(m) for m in sorted(component))
            raise InvalidArgument.one(
                change.cycle_field,
                f"would make {names} wholly owned among themselves (a closed ownership cycle "
                "with no outside owner)",
            )


class _Graph:
    """Walks over the current holdings (valid_to is null), one query per frontier."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def _step(self, frontier: Iterable[str], *, upward: bool, equity_only: bool) -> set[str]:
        ids = list(frontier)
        found: set[str] = set()
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            if upward:
                query = select(Holding.holder).where(Holding.held.in_(chunk))
            else:
                query = select(Holding.held).where(Holding.holder.in_(chunk))
            query = query.where(Holding.valid_to.is_(None))
            if equity_only:
                query = query.where(Holding.equity > 0)
            found.update(self._session.scalars(query))
        return found

    def _walk(self, roots: Iterable[str], *, upward: bool, equity_only: bool) -> set[str]:
        seen: set[str] = set()
        frontier = set(roots)
        while frontier:
            nxt = self._step(frontier, upward=upward, equity_only=equity_only) - seen
            seen |= nxt
            frontier = nxt
        return seen

    def ancestors(self, node: str, *, equity_only: bool = False) -> set[str]:
        return self._walk([node], upward=True, equity_only=equity_only)

    def descendants(self, node: str, *, equity_only: bool = False) -> set[str]:
        return self._walk([node], upward=False, equity_only=equity_only)

    def ancestors_of(self, roots: set[str]) -> set[str]:
        """The roots and everything that holds them, directly or through chains."""
        return set(roots) | self._walk(roots, upward=True, equity_only=False)

    def equity_held_inside(self, component: set[str]) -> dict[str, float]:
        members = list(component)
        rows = self._session.execute(
            select(Holding.held, func.sum(Holding.equity))
            .where(
                Holding.held.in_(members),
                Holding.holder.in_(members),
                Holding.valid_to.is_(None),
            )
            .group_by(Holding.held)
        ).all()
        return {held: float(total or 0.0) for held, total in rows}


def list_page(
    session: Session, organization: str | None, after: int | None, limit: int
) -> list[ownership_pb2.OwnershipEvent]:
    """Events in ledger order, optionally only those touching one organization."""
    query = select(OwnershipEvent).order_by(OwnershipEvent.seq).limit(limit)
    if organization is not None:
        touching = select(EventOrganization.seq).where(
            EventOrganization.organization_id == organization
        )
        query = query.where(OwnershipEvent.seq.in_(touching))
    if after is not None:
        query = query.where(OwnershipEvent.seq > after)
    return [to_proto(row) for row in session.scalars(query)]
