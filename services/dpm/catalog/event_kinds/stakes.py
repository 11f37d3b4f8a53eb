"""Stakes: stake_acquired, stake_changed and stake_divested."""

from __future__ import annotations

from typing import ClassVar

from dpm.catalog import validation
from dpm.catalog.event_kinds.base import Change, Checks, EventKind, NotApplicable, Pair
from dpm.catalog.terms import Origin, Share, Terms
from dpm.ownership.v1 import ownership_pb2
from dpm.platform.errors import Violations


class _StakeChange(EventKind[ownership_pb2.StakeChange]):
    """A holding opens (acquired) or gets new terms (changed).

    Each figure is exact (``*_fraction``), a range (``*_range``) or, for the
    equity, undisclosed; absent votes are the same as the equity.
    """

    # stake_changed needs a holding to change; stake_acquired opens one when there is none.
    NEEDS_HOLDING: ClassVar[bool]

    def validate(self, message: ownership_pb2.StakeChange, checks: Checks) -> Change:
        v = Violations()
        checks.fraction(v, message, "equity_fraction")
        checks.fraction(v, message, "voting_fraction")
        for exact, ranged in (
            ("equity_fraction", "equity_range"),
            ("voting_fraction", "voting_range"),
        ):
            if not message.HasField(ranged):
                continue
            if message.HasField(exact):
                v.add(checks.field(ranged), f"set either {exact} or {ranged}, not both")
            else:
                validation.share_range(v, getattr(message, ranged), checks.field(ranged))
        checks.seats(v, message.board_seats, "board_seats")
        v.raise_if_any()
        holder, held = checks.holder_and_held("holder", message.holder, "held", message.held)
        change = checks.change()
        change.pairs.add((holder, held))
        change.touched |= {holder, held}
        change.equity_field = checks.field(
            "equity_range" if message.HasField("equity_range") else "equity_fraction"
        )
        if message.HasField("voting_fraction"):
            change.voting_field = checks.field("voting_fraction")
        elif message.HasField("voting_range"):
            change.voting_field = checks.field("voting_range")
        else:  # the votes are the equity
            change.voting_field = change.equity_field
        return change

    def step(
        self, message: ownership_pb2.StakeChange, pair: Pair, before: Terms | None, at: Origin
    ) -> Terms | None:
        holder, held = pair
        if before is None and self.NEEDS_HOLDING:
            raise NotApplicable(
                f"{holder} holds no stake in {held} on {at.effective.isoformat()} to change; "
                "record stake_acquired first",
                reason="NO_HOLDING",
            )
        equity = message.equity_fraction if message.HasField("equity_fraction") else None
        equity_range = (
            Share.from_proto(message.equity_range) if message.HasField("equity_range") else None
        )
        voting, voting_range = equity, equity_range  # absent votes = the equity
        if message.HasField("voting_fraction"):
            voting, voting_range = message.voting_fraction, None
        elif message.HasField("voting_range"):
            voting, voting_range = None, Share.from_proto(message.voting_range)
        # Seats that come with the stake; 0 on an existing holding keeps its seats
        # (board_seat_removed is how seats go).
        seats = message.board_seats if before is None or message.board_seats > 0 else before.seats
        return at.terms(equity, voting, seats, equity_range, voting_range)


class StakeAcquired(_StakeChange):
    NEEDS_HOLDING = False


class StakeChanged(_StakeChange):
    NEEDS_HOLDING = True


class StakeDivested(EventKind[ownership_pb2.StakeDivested]):
    """The holder's holding in held ends."""

    def validate(self, message: ownership_pb2.StakeDivested, checks: Checks) -> Change:
        holder, held = checks.holder_and_held("holder", message.holder, "held", message.held)
        change = checks.change()
        change.pairs.add((holder, held))
        change.touched |= {holder, held}
        return change

    def step(
        self, message: ownership_pb2.StakeDivested, pair: Pair, before: Terms | None, at: Origin
    ) -> Terms | None:
        if before is None:
            holder, held = pair
            raise NotApplicable(
                f"{holder} holds no stake in {held} on {at.effective.isoformat()} to divest",
                reason="NO_HOLDING",
            )
        return None
