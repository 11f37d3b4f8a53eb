"""Board seats: board_seat_granted and board_seat_removed."""

from __future__ import annotations

from dpm.catalog.event_kinds.base import (
    Change,
    Checks,
    EventKind,
    NotApplicable,
    Pair,
    seats_after,
)
from dpm.catalog.terms import Origin, Terms
from dpm.ownership.v1 import ownership_pb2
from dpm.platform.errors import Violations


class _BoardSeatChange(EventKind[ownership_pb2.BoardSeatChange]):
    """Seats held by holder on held's board; ``seats`` 0 means one."""

    def validate(self, message: ownership_pb2.BoardSeatChange, checks: Checks) -> Change:
        v = Violations()
        checks.seats(v, message.seats, "seats")
        v.raise_if_any()
        holder, held = checks.holder_and_held("holder", message.holder, "held", message.held)
        change = checks.change()
        change.pairs.add((holder, held))
        change.touched |= {holder, held}
        return change


class BoardSeatGranted(_BoardSeatChange):
    """More seats: on the holding, or on a new seat-only holding."""

    def step(
        self, message: ownership_pb2.BoardSeatChange, pair: Pair, before: Terms | None, at: Origin
    ) -> Terms | None:
        seats = message.seats or 1
        if before is None:
            return at.terms(0.0, 0.0, seats)
        return before.with_seats(seats_after(pair, before.seats + seats), at)


class BoardSeatRemoved(_BoardSeatChange):
    """Fewer seats; a holding that was only a board seat ends with its last seat."""

    def step(
        self, message: ownership_pb2.BoardSeatChange, pair: Pair, before: Terms | None, at: Origin
    ) -> Terms | None:
        seats = message.seats or 1
        if before is None or before.seats < seats:
            holder, held = pair
            have = 0 if before is None else before.seats
            raise NotApplicable(
                f"{holder} has {have} board seat(s) at {held} on {at.effective.isoformat()}, "
                f"cannot remove {seats}",
                reason="NO_BOARD_SEAT",
            )
        left = before.seats - seats
        if left or before.has_stake:
            return before.with_seats(left, at)
        return None
