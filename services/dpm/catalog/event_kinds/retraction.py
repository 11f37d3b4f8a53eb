"""retraction: withdraws the event named in ``supersedes`` and puts nothing in its place.

Withdrawing is the ledger's business (``dpm.catalog.ledger``): the pairs the
withdrawn event touched are re-derived without it and its ties end. The
retraction itself sets no holding and records no tie.
"""

from __future__ import annotations

from dpm.catalog.event_kinds.base import Change, Checks, EventKind
from dpm.ownership.v1 import ownership_pb2
from dpm.platform.errors import InvalidArgument

SUPERSEDES = "event.supersedes"


class Retraction(EventKind[ownership_pb2.Retraction]):
    def validate(self, message: ownership_pb2.Retraction, checks: Checks) -> Change:
        if not checks.supersedes:
            raise InvalidArgument.one(
                SUPERSEDES, "is required by a retraction: the event_id of the event it withdraws"
            )
        change = checks.change()
        change.equity_field = change.voting_field = SUPERSEDES
        return change
