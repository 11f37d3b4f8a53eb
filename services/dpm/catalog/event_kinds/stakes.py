"""Stakes: stake_acquired, stake_changed and stake_divested."""

from __future__ import annotations

from typing import ClassVar

from dpm.catalog.event_kinds.base import Change, Checks, EventKind, Writes
from dpm.ownership.v1 import ownership_pb2
from dpm.platform.errors import FailedPrecondition, Violations
from dpm.platform.names import OrganizationName


class _StakeChange(EventKind[ownership_pb2.StakeChange]):
    """A holding opens (acquired) or gets new terms (changed)."""

    # stake_changed needs a holding to change; stake_acquired opens one when there is none.
    NEEDS_HOLDING: ClassVar[bool]

    def validate(self, message: ownership_pb2.StakeChange, checks: Checks) -> Change:
        v = Violations()
        checks.fraction(v, message, "equity_fraction")
        checks.fraction(v, message, "voting_fraction")
        v.check(message.board_seats >= 0, checks.field("board_seats"), "must not be negative")
        v.raise_if_any()
        holder, held = checks.holder_and_held("holder", message.holder, "held", message.held)
        change = checks.change()
        change.sums.add(held)
        change.cycles.add(held)
        change.roots.add(holder)
        change.touched |= {holder, held}
        change.cycle_field = checks.field("equity_fraction")
        return change

    def apply(self, message: ownership_pb2.StakeChange, writes: Writes, change: Change) -> None:
        holder = OrganizationName.trusted(message.holder)
        held = OrganizationName.trusted(message.held)
        current = writes.current(holder, held)
        if current is None and self.NEEDS_HOLDING:
            raise FailedPrecondition(
                f"{holder} holds no stake in {held} to change; record stake_acquired first",
                reason="NO_HOLDING",
            )
        equity = message.equity_fraction if message.HasField("equity_fraction") else None
        # Absent voting fraction = same as the equity fraction.
        voting = message.voting_fraction if message.HasField("voting_fraction") else equity
        # Seats that come with the stake; 0 on an existing holding keeps its seats
        # (board_seat_removed is how seats go).
        if current is None or message.board_seats > 0:
            seats = message.board_seats
        else:
            seats = current.board_seats
        if current is not None:
            writes.close(current)
        writes.open(holder, held, equity, voting, seats)


class StakeAcquired(_StakeChange):
    NEEDS_HOLDING = False


class StakeChanged(_StakeChange):
    NEEDS_HOLDING = True


class StakeDivested(EventKind[ownership_pb2.StakeDivested]):
    """The holder's current period in held ends."""

    def validate(self, message: ownership_pb2.StakeDivested, checks: Checks) -> Change:
        holder, held = checks.holder_and_held("holder", message.holder, "held", message.held)
        change = checks.change()
        change.roots.add(holder)
        change.touched |= {holder, held}
        return change

    def apply(self, message: ownership_pb2.StakeDivested, writes: Writes, change: Change) -> None:
        holder = OrganizationName.trusted(message.holder)
        held = OrganizationName.trusted(message.held)
        current = writes.current(holder, held)
        if current is None:
            raise FailedPrecondition(
                f"{holder} holds no stake in {held} to divest", reason="NO_HOLDING"
            )
        writes.close(current)
