"""full_acquisition: the acquirer takes all of the target; every other holding in it ends."""

from __future__ import annotations

from dpm.catalog.event_kinds.base import Change, Checks, EventKind, Writes
from dpm.ownership.v1 import ownership_pb2
from dpm.platform.names import OrganizationName


class FullAcquisition(EventKind[ownership_pb2.FullAcquisition]):
    def validate(self, message: ownership_pb2.FullAcquisition, checks: Checks) -> Change:
        acquirer, target = checks.holder_and_held(
            "acquirer", message.acquirer, "target", message.target
        )
        change = checks.change()
        change.cycles.add(target)
        change.roots.add(acquirer)
        change.touched |= {acquirer, target}
        change.cycle_field = checks.field("target")
        return change

    def apply(self, message: ownership_pb2.FullAcquisition, writes: Writes, change: Change) -> None:
        acquirer = OrganizationName.trusted(message.acquirer)
        target = OrganizationName.trusted(message.target)
        # Every current holding in the target ends; the acquirer keeps its board seats.
        seats = 0
        for row in writes.holders_of(target):
            former = OrganizationName(row.holder)
            if former == acquirer:
                seats = row.board_seats
            change.roots.add(former)
            change.touched.add(former)
            writes.close(row)
        writes.open(acquirer, target, 1.0, 1.0, seats)
