"""SimulateEvent: labs' recommendations before and after an event that is not recorded.

The catalog checks the event and says which organizations it reaches
(``SimulateOwnershipEvent``); the labs whose policies name one of them (or the labs
asked for) are computed twice on one date, from the graph as it is and as it would
be (neutrality's what-if), and compared vendor by vendor. Nothing is written, nothing
cached: the sets served stay those of the recorded ledger.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from dpm.catalog.v1 import catalog_pb2
from dpm.matching.compute import RecommendationBuilder
from dpm.matching.upstreams import Upstreams
from dpm.matching.v1 import matching_pb2
from dpm.ownership.v1 import ownership_pb2
from dpm.platform.dates import today
from dpm.platform.errors import DomainError, InvalidArgument
from dpm.platform.names import ClientName
from dpm.platform.upstream import calling, relaying
from dpm.requirements.v1 import requirements_pb2

# Labs one simulation may name, and labs it computes when it names none.
MAX_NAMED_CLIENTS = 100
MAX_AFFECTED_CLIENTS = 10_000


class WhatIf:
    def __init__(self, builder: RecommendationBuilder, upstreams: Upstreams) -> None:
        self._builder = builder
        self._up = upstreams

    def simulate(
        self, event: ownership_pb2.OwnershipEvent, clients: Sequence[str], as_of: str
    ) -> matching_pb2.SimulateEventResponse:
        """``clients``: ids (checked by the caller), or empty for every lab the event
        can affect; ``as_of``: a checked date, or empty for the event's own."""
        date = as_of or event_date(event.effective_date) or today().isoformat()
        with relaying("catalog", "event", "event"):
            simulated = self._up.catalog.SimulateOwnershipEvent(
                catalog_pb2.SimulateOwnershipEventRequest(event=event, as_of=date, skip_graph=True)
            )
        ids = list(clients) or self._affected(list(simulated.upstream))
        response = matching_pb2.SimulateEventResponse(
            graph_version=simulated.event.graph_version, as_of=date, clients_considered=len(ids)
        )
        if not ids or not simulated.would_change:
            return response
        snapshot = self._builder.snapshot()
        before = self._builder.build_many(ids, snapshot, as_of=date)
        after = self._builder.build_many(ids, snapshot, as_of=date, what_if=event)
        for failed in (before.failed, after.failed):
            for exc in failed.values():
                if isinstance(exc, DomainError):
                    raise exc  # the event's refusal (checked above) or a dependency down
        for client_id in ids:
            old, new = before.get(client_id), after.get(client_id)
            if old is None or new is None:
                # Gone, or its stored requirements unreadable here (logged by the builder).
                continue
            changes = compare(old, new)
            if changes:
                response.impacts.add(client=str(ClientName(client_id)), changes=changes)
        return response

    def _affected(self, upstream: list[str]) -> list[str]:
        """Every lab whose policy names one of ``upstream`` (as the workers re-match)."""
        if not upstream:
            return []
        ids: list[str] = []
        token = ""
        while True:
            with calling("requirements"):
                page = self._up.requirements.ListClients(
                    requirements_pb2.ListClientsRequest(
                        page_size=1000, page_token=token, competitors_any=upstream, names_only=True
                    )
                )
            ids += [ClientName.trusted(c.name).id for c in page.clients]
            token = page.next_page_token
            if not token:
                break
        if len(ids) > MAX_AFFECTED_CLIENTS:
            raise InvalidArgument.one(
                "clients",
                f"the event can affect {len(ids)} labs, more than {MAX_AFFECTED_CLIENTS} "
                "simulated at once: name the labs to answer for",
            )
        return ids


def compare(
    before: matching_pb2.RecommendationSet, after: matching_pb2.RecommendationSet
) -> list[matching_pb2.VendorChange]:
    """Vendors ranked before or after whose place differs, in the order of the later
    set (those that left after, in their earlier order)."""
    ranked_before = {r.vendor: r for r in before.ranked}
    ranked_after = {r.vendor: r for r in after.ranked}
    excluded_before = {e.vendor: e for e in before.excluded}
    excluded_after = {e.vendor: e for e in after.excluded}
    changes: list[matching_pb2.VendorChange] = []
    for vendor, now in ranked_after.items():
        was = ranked_before.get(vendor)
        if was is None:
            reasons = excluded_before.get(vendor)
            changes.append(
                matching_pb2.VendorChange(
                    vendor=vendor,
                    display_name=now.display_name,
                    kind=matching_pb2.CHANGE_KIND_ENTERED,
                    rank_after=now.rank,
                    neutrality_score_after=now.neutrality_score,
                    reasons=reasons.reasons if reasons is not None else [],
                )
            )
        elif (was.rank, was.neutrality_score) != (now.rank, now.neutrality_score):
            changes.append(
                matching_pb2.VendorChange(
                    vendor=vendor,
                    display_name=now.display_name,
                    kind=matching_pb2.CHANGE_KIND_MOVED,
                    rank_before=was.rank,
                    rank_after=now.rank,
                    neutrality_score_before=was.neutrality_score,
                    neutrality_score_after=now.neutrality_score,
                )
            )
    for vendor, was in ranked_before.items():
        if vendor not in ranked_after:
            reasons = excluded_after.get(vendor)
            changes.append(
                matching_pb2.VendorChange(
                    vendor=vendor,
                    display_name=was.display_name,
                    kind=matching_pb2.CHANGE_KIND_LEFT,
                    rank_before=was.rank,
                    neutrality_score_before=was.neutrality_score,
                    reasons=reasons.reasons if reasons is not None else [],
                )
            )
    return changes


def event_date(value: str) -> str:
    """``value`` (an event's effective date) when it is a date "YYYY-MM-DD", else "" (the
    catalog names a bad one under the event, where the caller wrote it)."""
    try:
        return dt.date.fromisoformat(value).isoformat() if len(value) == 10 else ""
    except ValueError:
        return ""
