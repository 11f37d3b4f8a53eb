"""What every event kind shares: the handler contract and the pieces handlers are built from.

A handler (``EventKind``) keeps the rules of one kind of ownership event side
by side:

- ``validate`` refuses a malformed change before anything is read or written
  (INVALID_ARGUMENT naming the field) and says what the event touches (a
  ``Change``: the holder -> held pairs whose periods it sets);
- ``step`` is its rule on one pair: the terms of holder -> held right after
  the event, given the terms right before it (None: no holding). It refuses
  (``NotApplicable``) when the event cannot apply to what comes before it;
- the ``Change`` also carries the dated non-equity links (ties) it records.

The periods of a pair are the fold of ``step`` over the pair's events in
(effective date, ledger sequence) order (``dpm.catalog.history``), so an
event may arrive after events dated later than it: the pair is re-derived.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from google.protobuf.message import Message

from dpm.catalog import validation
from dpm.catalog.store.organizations import OrganizationRepository
from dpm.catalog.terms import Origin, Terms
from dpm.platform.errors import InvalidArgument, Violations
from dpm.platform.names import OrganizationName

M = TypeVar("M", bound=Message)

# Most board seats one event may grant, and one holding may carry.
SEATS_PER_EVENT = 1000
SEATS_PER_HOLDING = 10_000

Pair = tuple[OrganizationName, OrganizationName]


@dataclass(frozen=True)
class TieFact:
    """A non-equity link an event records (dated on the event's effective date)."""

    kind: int
    organization: OrganizationName
    # Whose competitor groups see the tie (the lab a person joins, a contract's counterparty).
    counterparty: OrganizationName
    person: str = ""
    role: str = ""


@dataclass
class Change:
    """What one event touches: the pairs it re-derives, the ties it records, the listing."""

    # "event.<kind>": where the event's field violations point.
    prefix: str
    # (holder, held) pairs whose periods the event sets.
    pairs: set[Pair] = field(default_factory=set)
    # held organizations every holding in which the event may end (full_acquisition).
    every_holder_of: set[OrganizationName] = field(default_factory=set)
    ties: list[TieFact] = field(default_factory=list)
    # organizations the event is listed under (ListOwnershipEvents' filter)
    touched: set[OrganizationName] = field(default_factory=set)
    # fields an equity / vote sum or closed-cycle refusal points at
    equity_field: str = ""
    voting_field: str = ""


class Checks:
    """The validation side: field paths of the event's change and the organizations that exist."""

    def __init__(self, kind: str, organizations: OrganizationRepository, supersedes: str) -> None:
        self.prefix = f"event.{kind}"
        self._organizations = organizations
        # event_id the event corrects (OwnershipEvent.supersedes), "" when none
        self.supersedes = supersedes

    def field(self, name: str) -> str:
        return f"{self.prefix}.{name}"

    def change(self) -> Change:
        return Change(self.prefix)

    def organization(self, value: str, name: str) -> OrganizationName:
        """The organization named in field ``name``; INVALID_ARGUMENT unless it exists."""
        path = self.field(name)
        org = OrganizationName.parse(value, path)
        if not self._organizations.exists(org.id):
            raise InvalidArgument.one(path, f"{org} does not exist")
        return org

    def holder_and_held(
        self, holder_field: str, holder: str, held_field: str, held: str
    ) -> tuple[OrganizationName, OrganizationName]:
        """Two existing, different organizations: one holding the other (one query for both;
        refusals in the order of the fields)."""
        first_path, second_path = self.field(holder_field), self.field(held_field)
        first = OrganizationName.parse(holder, first_path)
        try:
            second = OrganizationName.parse(held, second_path)
        except InvalidArgument:
            self.organization(holder, holder_field)
            raise
        existing = self._organizations.existing({first.id, second.id})
        for org, path in ((first, first_path), (second, second_path)):
            if org.id not in existing:
                raise InvalidArgument.one(path, f"{org} does not exist")
        if first == second:
            raise InvalidArgument.one(self.field(held_field), "an organization cannot hold itself")
        return first, second

    def fraction(self, v: Violations, message: Any, name: str) -> None:
        """When the optional field ``name`` is set it must be a fraction in [0, 1]."""
        if message.HasField(name):
            validation.fraction(v, getattr(message, name), self.field(name))

    def seats(self, v: Violations, value: int, name: str) -> None:
        v.check(value >= 0, self.field(name), "must not be negative")
        v.check(
            value <= SEATS_PER_EVENT,
            self.field(name),
            f"{value} is more than {SEATS_PER_EVENT} seats in one event",
        )


class NotApplicable(Exception):
    """The event cannot apply to the pair as the events before it leave it.

    ``field`` (relative to the event's change, e.g. "seats") is set when the
    refusal is about a figure the event states rather than about the history.
    """

    def __init__(self, message: str, reason: str, field: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.reason = reason
        self.field = field


class EventKind(ABC, Generic[M]):
    """One member of ``OwnershipEvent.change``: how it is checked and what it does."""

    @abstractmethod
    def validate(self, message: M, checks: Checks) -> Change:
        """Refuse a malformed change (INVALID_ARGUMENT naming the field); say what it touches.

        Runs before anything is written; it may read the organizations only.
        """

    def step(
        self,
        message: M,
        pair: Pair,
        before: Terms | None,
        at: Origin,
    ) -> Terms | None:
        """The terms of ``pair`` right after this event (None: no holding).

        Called for the pairs in ``Change.pairs`` and for every pair into a held
        organization in ``Change.every_holder_of``. Kinds that set no holding
        leave the terms as they are.
        """
        return before


def seats_after(pair: Pair, seats: int) -> int:
    """``seats`` if a holding may carry that many; NotApplicable otherwise."""
    if seats > SEATS_PER_HOLDING:
        holder, held = pair
        raise NotApplicable(
            f"{holder} would hold {seats} board seats at {held}, more than {SEATS_PER_HOLDING}",
            reason="TOO_MANY_SEATS",
            field="seats",
        )
    return seats
