"""Board seats: board_seat_granted and board_seat_removed."""

from __future__ import annotations

from dpm.catalog.event_kinds.base import Change, Checks, EventKind, Writes
from dpm.ownership.v1 import ownership_pb2
from dpm.platform.errors import FailedPrecondition, Violations
from dpm.platform.names import OrganizationName


class _BoardSeatChange(EventKind[ownership_pb2.BoardSeatChange]):
    """Seats held by holder on held's board; ``seats`` 0 means one."""

    def validate(self, message: ownership_pb2.BoardSeatChange, checks: Checks) -> Change:
        v = Violations()
        v.check(message.seats >= 0, checks.field("seats"), "must not be negative")
        v.raise_if_any()
        holder, held = checks.holder_and_held("holder", message.holder, "held", message.held)
        change = checks.change()
        change.roots.add(holder)
        change.touched |= {holder, held}
        return change


class BoardSeatGranted(_BoardSeatChange):
    """More seats: on the current holding, or on a new seat-only holding."""

    def apply(self, message: ownership_pb2.BoardSeatChange, writes: Writes, change: Change) -> None:
        holder = OrganizationName.trusted(message.holder)
        held = OrganizationName.trusted(message.held)
        seats = message.seats or 1
        current = writes.current(holder, held)
        if current is None:
            writes.open(holder, held, 0.0, 0.0, seats)
            return
        writes.close(current)
        writes.open(holder, held, current.equity, current.voting, current.board_seats + seats)


class BoardSeatRemoved(_BoardSeatChange):
    """Fewer seats; a holding that was only a board seat ends with its last seat."""

    def apply(self, message: ownership_pb2.BoardSeatChange, writes: Writes, change: Change) -> None:
        holder = OrganizationName.trusted(message.holder)
        held = OrganizationName.trusted(message.held)
        seats = message.seats or 1
        current = writes.current(holder, held)
        if current is None or current.board_seats < seats:
            have = 0 if current is None else current.board_seats
            raise FailedPrecondition(
                f"{holder} has {have} board seat(s) at {held}, cannot remove {seats}",
                reason="NO_BOARD_SEAT",
            )
        writes.close(current)
        left = current.board_seats - seats
        if left or current.equity != 0.0 or current.voting != 0.0:
            writes.open(holder, held, current.equity, current.voting, left)
