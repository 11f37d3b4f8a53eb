"""Before the relay publishes an ownership event: add everything upstream of what it changed.

The ledger writes, with each event, the organizations it changed and the
first date it changed (``OwnershipChanged.since``); here, in the outbox
relay, the walk adds everything that holds them, directly or through chains,
on some date from then on. A run of events is walked once (the relay merges
it first, ``events.OwnershipChanged.merged``), from a snapshot at least as new
as every event in it, and never inside a write transaction: on a register
with deep ownership chains the walk is the costliest step of recording an
event, and a burst of events costs one walk, not one each.

Why a later walk finds every organization the walk at the event's own version
would have found. Take x holding a changed organization r through a chain in
effect on a date d (d from ``since`` on), as the event left the graph. In the
newer snapshot, either the whole chain is still in effect on d, and the walk
from r finds x; or, going from x, some first link (a, b) is not: a later
event changed it on d, so a is among that event's changed organizations, its
``since`` is d or earlier, and the links from x to a are still in effect on
d: the walk from a finds x. That later event is published with this one (in
the same run) or after it (rows go out in ledger order), from a snapshot at
least as new, where the same holds again.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from sqlalchemy.orm import Session

from dpm.catalog.store.graph_walk import GraphWalk
from dpm.platform.events import OwnershipChanged
from dpm.platform.names import OrganizationName


def with_upstream(session: Session, task: str, kwargs: dict[str, Any]) -> dict[str, Any]:
    """``kwargs`` of an outbox message as published: an ownership event still to be
    walked (``since`` set) gets everything upstream of its changed organizations."""
    if task != OwnershipChanged.TASK or not kwargs.get("since"):
        return kwargs
    event = OwnershipChanged.from_payload(kwargs)
    found = GraphWalk(session).ancestors_of(
        (name.id for name in event.upstream), dt.date.fromisoformat(event.since)
    )
    upstream = tuple(OrganizationName(i) for i in sorted(found))
    return dataclasses.replace(event, upstream=upstream, since="").to_payload()
