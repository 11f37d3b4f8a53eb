"""What recording an ownership event would do, read inside a transaction that is then
rolled back (``CatalogServicer.SimulateOwnershipEvent``): the ledger's own code runs,
so a simulation checks and refuses exactly as a recording does."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from dpm.catalog import graph, ledger
from dpm.catalog.upstream import with_upstream
from dpm.catalog.v1 import catalog_pb2
from dpm.platform.events import OwnershipChanged

# Marks the etag of a simulated graph, so it matches no graph the catalog serves: sent
# back as if_none_match, it gets the whole graph, never "not modified" or a delta.
SIMULATED_ETAG = "whatif-"


def outcome(
    session: Session, request: catalog_pb2.SimulateOwnershipEventRequest, as_of: dt.date
) -> catalog_pb2.SimulateOwnershipEventResponse:
    """Record ``request.event`` in ``session`` and read what it changed; the caller rolls
    the session back."""
    recorded = ledger.record_event(session, request.event)
    response = catalog_pb2.SimulateOwnershipEventResponse(
        event=recorded.event, would_change=recorded.written
    )
    if recorded.announced is not None:
        response.event.ClearField("record_time")  # not recorded
        published = with_upstream(session, OwnershipChanged.TASK, recorded.announced.to_payload())
        response.upstream.extend(published["upstream"])
    if not request.skip_graph:
        after = graph.export(
            session, as_of, request.if_none_match, accept_delta=request.accept_delta
        )
        if recorded.written:
            after.etag = SIMULATED_ETAG + after.etag
        response.graph.CopyFrom(graph.one_message(after))
    return response
