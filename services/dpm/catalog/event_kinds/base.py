"""What every event kind shares: the handler contract and the pieces handlers are built from.

A handler (``EventKind``) keeps the two halves of one kind of ownership event
side by side: ``validate`` refuses a malformed change before anything is
written and says what the event touches (a ``Change``); ``apply`` writes it
to the graph and refuses what the current graph does not allow. The ledger
(``dpm.catalog.ledger``) runs both inside one transaction, so a refusal at
either step leaves nothing behind.
"""

from __future__ import annotations

import datetime as dt
import math
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from google.protobuf.message import Message

from dpm.catalog.store.holdings import HoldingRepository, TieRepository
from dpm.catalog.store.models import HoldingRow, TieRow
from dpm.catalog.store.organizations import OrganizationRepository
from dpm.platform.errors import FailedPrecondition, InvalidArgument, Violations
from dpm.platform.names import OrganizationName

M = TypeVar("M", bound=Message)


@dataclass
class Change:
    """What one event touches, for the invariant checks and the outbox."""

    # "event.<kind>": where the event's field violations point.
    prefix: str
    # held organizations whose holder sums must be re-checked
    sums: set[OrganizationName] = field(default_factory=set)
    # held organizations whose incoming equity grew: a closed cycle could have formed through them
    cycles: set[OrganizationName] = field(default_factory=set)
    # organizations whose competitor groups may see a changed exposure (ancestors are added)
    roots: set[OrganizationName] = field(default_factory=set)
    # organizations the event is listed under (ListOwnershipEvents' filter)
    touched: set[OrganizationName] = field(default_factory=set)
    # the field a closed cycle is reported against
    cycle_field: str = ""


class Checks:
    """The validation side: field paths of the event's change and the organizations that exist."""

    def __init__(self, kind: str, organizations: OrganizationRepository) -> None:
        self.prefix = f"event.{kind}"
        self._organizations = organizations

    def field(self, name: str) -> str:
        return f"{self.prefix}.{name}"

    def change(self) -> Change:
        return Change(self.prefix)

    def organization(self, value: str, name: str) -> OrganizationName:
        """The organization named in field ``name``; INVALID_ARGUMENT unless it exists."""
        path = self.field(name)
        org = OrganizationName.parse(value, path)
        if not self._organizations.exists(org.id):
            raise InvalidArgument.one(path, f"{value} does not exist")
        return org

    def holder_and_held(
        self, holder_field: str, holder: str, held_field: str, held: str
    ) -> tuple[OrganizationName, OrganizationName]:
        """Two existing, different organizations: one holding the other."""
        first = self.organization(holder, holder_field)
        second = self.organization(held, held_field)
        if first == second:
            raise InvalidArgument.one(self.field(held_field), "an organization cannot hold itself")
        return first, second

    def fraction(self, v: Violations, message: Any, name: str) -> None:
        """When the optional field ``name`` is set it must be a fraction in [0, 1]."""
        if not message.HasField(name):
            return
        value = getattr(message, name)
        v.check(
            math.isfinite(value) and 0.0 <= value <= 1.0,
            self.field(name),
            f"{value!r} must be a fraction in [0, 1]",
        )


@dataclass(frozen=True)
class Writes:
    """The application side: the event's common fields and the repositories it writes through."""

    event_id: str
    effective: dt.date
    source_url: str
    holdings: HoldingRepository
    ties: TieRepository

    def current(self, holder: OrganizationName, held: OrganizationName) -> HoldingRow | None:
        """The open period of holder -> held, if any."""
        return self.holdings.current(holder.id, held.id)

    def holders_of(self, held: OrganizationName) -> list[HoldingRow]:
        """The open periods into ``held``."""
        return self.holdings.current_holders_of(held.id)

    def open(
        self,
        holder: OrganizationName,
        held: OrganizationName,
        equity: float | None,
        voting: float | None,
        seats: int,
    ) -> None:
        """Start a period of holder -> held on the effective date."""
        self.holdings.add(
            HoldingRow(
                holder=holder.id,
                held=held.id,
                equity=equity,
                voting=voting,
                board_seats=seats,
                valid_from=self.effective,
                valid_to=None,
                source_url=self.source_url,
                event_id=self.event_id,
            )
        )

    def close(self, row: HoldingRow) -> None:
        """End the period ``row`` on the effective date; refuse dates before its start."""
        if self.effective < row.valid_from:
            raise FailedPrecondition(
                f"effective date {self.effective.isoformat()} is before the current period of "
                f"{OrganizationName(row.holder)} in {OrganizationName(row.held)} "
                f"(from {row.valid_from.isoformat()}); "
                "recording history out of order is not supported yet",
                reason="OUT_OF_ORDER",
            )
        self.holdings.close(row, self.effective)

    def tie(
        self,
        kind: int,
        organization: OrganizationName,
        counterparty: OrganizationName,
        person: str = "",
        role: str = "",
    ) -> None:
        """Record a tie dated on the effective date."""
        self.ties.add(
            TieRow(
                kind=kind,
                organization=organization.id,
                counterparty=counterparty.id,
                person=person,
                role=role,
                effective_date=self.effective,
                source_url=self.source_url,
                event_id=self.event_id,
            )
        )


class EventKind(ABC, Generic[M]):
    """One member of ``OwnershipEvent.change``: how it is checked and what it writes."""

    @abstractmethod
    def validate(self, message: M, checks: Checks) -> Change:
        """Refuse a malformed change (INVALID_ARGUMENT naming the field); say what it touches.

        Runs before anything is written; it may read the organizations only.
        """

    @abstractmethod
    def apply(self, message: M, writes: Writes, change: Change) -> None:
        """Write the validated change to the graph.

        Refuses (FAILED_PRECONDITION) what the current graph does not allow,
        and adds to ``change`` what only the graph reveals (former holders).
        """
