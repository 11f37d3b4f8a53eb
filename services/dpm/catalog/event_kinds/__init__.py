"""One handler per kind of ownership event, and the registry the ledger dispatches on.

``HANDLERS`` maps each member of ``OwnershipEvent.change`` (the oneof in
protos/dpm/ownership/v1/ownership.proto) to its handler. A new event kind is
a new member of the oneof, a new ``EventKind`` next to its relatives, and one
line here; a unit test fails while a member has no handler.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from dpm.catalog.event_kinds.acquisitions import FullAcquisition
from dpm.catalog.event_kinds.base import Change, Checks, EventKind, NotApplicable, Pair, TieFact
from dpm.catalog.event_kinds.board_seats import BoardSeatGranted, BoardSeatRemoved
from dpm.catalog.event_kinds.retraction import Retraction
from dpm.catalog.event_kinds.stakes import StakeAcquired, StakeChanged, StakeDivested
from dpm.catalog.event_kinds.ties import ContractTie, LeadershipMove
from dpm.platform.errors import InvalidArgument

__all__ = [
    "HANDLERS",
    "Change",
    "Checks",
    "EventKind",
    "NotApplicable",
    "Pair",
    "TieFact",
    "handler_for",
]

HANDLERS: Mapping[str, EventKind[Any]] = MappingProxyType(
    {
        "stake_acquired": StakeAcquired(),
        "stake_changed": StakeChanged(),
        "stake_divested": StakeDivested(),
        "full_acquisition": FullAcquisition(),
        "board_seat_granted": BoardSeatGranted(),
        "board_seat_removed": BoardSeatRemoved(),
        "leadership_move": LeadershipMove(),
        "contract_tie": ContractTie(),
        "retraction": Retraction(),
    }
)


def handler_for(kind: str) -> EventKind[Any]:
    """The handler of oneof member ``kind``; INVALID_ARGUMENT for one this server does not know."""
    handler = HANDLERS.get(kind)
    if handler is None:  # a member added to the proto but not here
        raise InvalidArgument.one(f"event.{kind}", "is not supported by this server")
    return handler
