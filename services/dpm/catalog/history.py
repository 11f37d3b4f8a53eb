"""Re-deriving holding periods from the ledger, one (holder, held) pair at a time.

The periods of a pair are the fold of its handlers' ``step`` over the pair's
events that were not corrected, in (effective date, ledger seq) order: an
event recorded late lands where its date puts it and every later period of
the pair is recomputed. The new periods are compared with the pair's known
rows; rows that no longer hold are retired (their recorded period ends at the
recording event's seq) and the new periods are inserted, so the graph as known
before stays readable.

Only the pairs an event touches are re-derived: the event's own pairs, every
holder of a fully acquired organization, and the pairs of an event it withdraws.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from google.protobuf import json_format
from google.protobuf.message import Message

from dpm.catalog.event_kinds import NotApplicable, handler_for
from dpm.catalog.store.holdings import Holding, HoldingRepository
from dpm.catalog.store.ledger import LedgerRepository, StoredEvent
from dpm.catalog.store.models import EVERY_HOLDER, HoldingRow
from dpm.catalog.terms import Origin, Period, Share, Terms, provenance_json
from dpm.ownership.v1 import ownership_pb2
from dpm.platform.names import OrganizationName


@dataclass(frozen=True)
class Fact:
    """One event as re-derivation reads it: where it stands, and its change."""

    origin: Origin
    message: Message

    @classmethod
    def of(cls, event: ownership_pb2.OwnershipEvent, seq: int, effective: dt.date) -> Fact:
        kind = event.WhichOneof("change") or ""
        origin = Origin(
            seq=seq,
            event_id=event.event_id,
            kind=kind,
            effective=effective,
            source_url=event.source_url,
            provenance=provenance_json(event.provenance),
        )
        return cls(origin, getattr(event, kind))

    @classmethod
    def from_row(cls, row: StoredEvent) -> Fact:
        event = json_format.ParseDict(
            row.payload, ownership_pb2.OwnershipEvent(), ignore_unknown_fields=True
        )
        return cls.of(event, row.seq, row.effective_date)


class Broken(Exception):
    """An event of a pair no longer applies to what comes before it."""

    def __init__(self, origin: Origin, cause: NotApplicable) -> None:
        super().__init__(cause.message)
        self.origin = origin
        self.cause = cause


def fold(holder: str, held: str, facts: Iterable[Fact]) -> list[Period]:
    """The periods of holder -> held its facts make, oldest first; Broken when one cannot apply."""
    pair = (OrganizationName(holder), OrganizationName(held))
    periods: list[Period] = []
    current: Terms | None = None
    since = dt.date.min
    for fact in sorted(facts, key=lambda f: (f.origin.effective, f.origin.seq)):
        handler = handler_for(fact.origin.kind)
        try:
            after = handler.step(fact.message, pair, current, fact.origin)
        except NotApplicable as cause:
            raise Broken(fact.origin, cause) from None
        if after == current:
            continue
        day = fact.origin.effective
        # Same-day events replace each other: no empty period is kept.
        if current is not None and since < day:
            periods.append(Period(since, day, current))
        current, since = after, day
    if current is not None:
        periods.append(Period(since, None, current))
    return periods


def period_of(row: Holding) -> Period:
    return Period(
        row.valid_from,
        row.valid_to,
        Terms(
            equity=row.equity,
            voting=row.voting,
            seats=row.board_seats,
            event_id=row.event_id,
            source_url=row.source_url,
            provenance=row.provenance or None,
            equity_range=Share.from_json(row.equity_range),
            voting_range=Share.from_json(row.voting_range),
        ),
    )


def row_of(holder: str, held: str, period: Period, seq: int) -> HoldingRow:
    terms = period.terms
    return HoldingRow(
        holder=holder,
        held=held,
        equity=terms.equity,
        voting=terms.voting,
        equity_range=terms.equity_range.to_json() if terms.equity_range else None,
        voting_range=terms.voting_range.to_json() if terms.voting_range else None,
        equity_low=terms.equity_low,
        voting_low=terms.voting_low,
        board_seats=terms.seats,
        valid_from=period.valid_from,
        valid_to=period.valid_to,
        source_url=terms.source_url,
        event_id=terms.event_id,
        provenance=terms.provenance,
        recorded_from=seq,
        recorded_to=None,
    )


@dataclass
class PairDiff:
    """How re-deriving one pair changes its known rows."""

    holder: str
    held: str
    retired: list[Holding] = field(default_factory=list)
    added: list[Period] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.retired or self.added)

    def since(self) -> dt.date:
        """The first date on which the pair's terms differ from what was known before."""
        old = [period_of(r) for r in self.retired]
        days = sorted(
            {p.valid_from for p in [*old, *self.added]}
            | {p.valid_to for p in [*old, *self.added] if p.valid_to is not None}
        )
        for day in days:
            if _in_force(old, day) != _in_force(self.added, day):
                return day
        return days[0]

    def carries(self, axis: str) -> bool:
        """True when some new period carries some of ``axis`` ("equity" or "voting")."""
        return any(p.terms.low(axis) > 0 for p in self.added)


def _in_force(periods: list[Period], day: dt.date) -> Terms | None:
    return next((p.terms for p in periods if p.in_force(day)), None)


@dataclass
class Pairs:
    """The pairs to re-derive, grouped by held organization: held id -> holder ids."""

    by_held: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))

    def add(self, holder: str, held: str) -> None:
        self.by_held[held].add(holder)

    def add_holders(self, held: str, holders: Iterable[str]) -> None:
        self.by_held[held].update(holders)


class History:
    """Re-derives pairs for the event recorded at ledger seq ``seq``."""

    def __init__(self, holdings: HoldingRepository, ledger: LedgerRepository, seq: int) -> None:
        self._holdings = holdings
        self._ledger = ledger
        self._seq = seq

    def add_event_pairs(self, pairs: Pairs, keys: Iterable[tuple[str, str]], day: dt.date) -> None:
        """Add the pairs of an event's keys; holder "" = every holder still there on ``day``."""
        for holder, held in keys:
            if holder == EVERY_HOLDER:
                pairs.add_holders(held, self._holdings.holders_from(held, day))
            else:
                pairs.add(holder, held)

    def rederive(
        self, pairs: Pairs, new: Fact | None, new_keys: set[tuple[str, str]], without: set[int]
    ) -> list[PairDiff]:
        """The diff of every pair: its stored facts except ``without``, plus ``new`` where one of
        ``new_keys`` (pair keys, holder "" = every holder) covers it. Broken if a fact fails."""
        diffs: list[PairDiff] = []
        for held in sorted(pairs.by_held):
            holders = pairs.by_held[held]
            if new is not None and not without:
                appended = self._appended(held, holders, new, new_keys)
                diffs += (d for d in appended.values() if d.changed)
                holders = holders - appended.keys()
                if not holders:
                    continue
            explicit: dict[str, dict[int, Fact]] = defaultdict(dict)
            every: dict[int, Fact] = {}
            for holder, event in self._ledger.events_into(held, holders):
                if event.seq in without:
                    continue
                target = every if holder == EVERY_HOLDER else explicit[holder]
                target[event.seq] = Fact.from_row(event)
            known: dict[str, list[Holding]] = defaultdict(list)
            for row in self._holdings.known_into(held, holders):
                known[row.holder].append(row)
            for holder in sorted(holders):
                facts = {**every, **explicit[holder]}
                if new is not None and (
                    (holder, held) in new_keys or (EVERY_HOLDER, held) in new_keys
                ):
                    facts[new.origin.seq] = new
                diff = _diff(holder, held, known[holder], fold(holder, held, facts.values()))
                if diff.changed:
                    diffs.append(diff)
        return diffs

    def _appended(
        self, held: str, holders: set[str], new: Fact, new_keys: set[tuple[str, str]]
    ) -> dict[str, PairDiff]:
        """The diffs of the pairs into ``held`` that ``new`` comes last in (no stored fact
        of the pair is dated after it: the usual case, events recorded in date order).

        Folding the pair's facts would replay its whole history to end where its
        known rows already end, then step ``new``: so only ``new`` is stepped, from
        the pair's open period (the terms in force at the end, or none).
        """
        latest = self._ledger.latest_into(held, holders)
        every = latest.get(EVERY_HOLDER)
        day = new.origin.effective
        last = [
            holder
            for holder in holders
            if ((holder, held) in new_keys or (EVERY_HOLDER, held) in new_keys)
            and max(filter(None, (latest.get(holder), every)), default=day) <= day
        ]
        if not last:
            return {}
        known: dict[str, list[Holding]] = defaultdict(list)
        for row in self._holdings.known_into(held, last):
            known[row.holder].append(row)
        return {holder: _step(holder, held, known[holder], new) for holder in last}

    def apply(self, diffs: Iterable[PairDiff]) -> None:
        retired: list[Holding] = []
        added: list[HoldingRow] = []
        for diff in diffs:
            retired += diff.retired
            added += (row_of(diff.holder, diff.held, p, self._seq) for p in diff.added)
        self._holdings.write(retired, added, self._seq)


def _diff(holder: str, held: str, rows: list[Holding], periods: list[Period]) -> PairDiff:
    diff = PairDiff(holder, held)
    remaining: list[Any] = list(periods)
    for row in rows:
        period = period_of(row)
        if period in remaining:
            remaining.remove(period)
        else:
            diff.retired.append(row)
    diff.added = remaining
    return diff


def _step(holder: str, held: str, rows: list[Holding], new: Fact) -> PairDiff:
    """``new`` applied after every fact of the pair, whose folded periods are ``rows``."""
    open_row = next((r for r in rows if r.valid_to is None), None)  # periods do not overlap
    opened = period_of(open_row) if open_row is not None else None
    current = opened.terms if opened is not None else None
    pair = (OrganizationName(holder), OrganizationName(held))
    try:
        after = handler_for(new.origin.kind).step(new.message, pair, current, new.origin)
    except NotApplicable as cause:
        raise Broken(new.origin, cause) from None
    diff = PairDiff(holder, held)
    if after == current:
        return diff
    day = new.origin.effective
    if open_row is not None and opened is not None:
        # The open period ends where the new terms start (replaced when both start
        # on one day: no empty period is kept, as in ``fold``).
        diff.retired.append(open_row)
        if opened.valid_from < day:
            diff.added.append(Period(opened.valid_from, day, opened.terms))
    if after is not None:
        diff.added.append(Period(day, None, after))
    return diff
