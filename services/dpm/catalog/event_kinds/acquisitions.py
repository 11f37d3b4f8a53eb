"""full_acquisition: the acquirer takes all of the target; every other holding in it ends."""

from __future__ import annotations

from dpm.catalog.event_kinds.base import Change, Checks, EventKind, Pair
from dpm.catalog.terms import Origin, Terms
from dpm.ownership.v1 import ownership_pb2
from dpm.platform.names import OrganizationName


class FullAcquisition(EventKind[ownership_pb2.FullAcquisition]):
    def validate(self, message: ownership_pb2.FullAcquisition, checks: Checks) -> Change:
        acquirer, target = checks.holder_and_held(
            "acquirer", message.acquirer, "target", message.target
        )
        change = checks.change()
        change.pairs.add((acquirer, target))
        change.every_holder_of.add(target)
        change.touched |= {acquirer, target}
        change.equity_field = change.voting_field = checks.field("target")
        return change

    def step(
        self, message: ownership_pb2.FullAcquisition, pair: Pair, before: Terms | None, at: Origin
    ) -> Terms | None:
        holder, _ = pair
        if holder != OrganizationName.trusted(message.acquirer):
            return None  # every other holding in the target ends
        # The acquirer keeps its board seats.
        return at.terms(1.0, 1.0, before.seats if before is not None else 0)
