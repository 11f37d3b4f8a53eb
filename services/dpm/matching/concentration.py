"""AnalyzeConcentration: where a lab's data work flows, by ultimate owner and competitor.

The lab names its vendors and the work each takes; neutrality scores them under the
lab's policy (full answers: each competitor's exposure, each vendor's ultimate
owner), once on the recorded graph and, for a what-if event, once on the graph it
would make. ``concentration_of`` turns one answer into shares. Nothing is written.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from dpm.matching.compute import evaluation_date
from dpm.matching.upstreams import Upstreams
from dpm.matching.v1 import matching_pb2
from dpm.matching.what_if import event_date
from dpm.neutrality.v1 import neutrality_pb2
from dpm.ownership.v1 import ownership_pb2
from dpm.platform.dates import today
from dpm.platform.errors import FieldViolation, InvalidArgument
from dpm.platform.names import ClientName
from dpm.platform.upstream import calling, relaying
from dpm.requirements.v1 import requirements_pb2

MAX_VENDORS = 1000
_ITEM = re.compile(r"work\[\d+\]")


def concentration_of(
    work: Mapping[str, int], scores: neutrality_pb2.ScoreVendorsResponse
) -> matching_pb2.Concentration:
    """Shares of ``work`` (vendor name -> units a month, all above 0) per ultimate owner
    and per competitor, from full neutrality answers for those vendors."""
    total = sum(work.values())
    share = {vendor: units / total for vendor, units in work.items()}
    owners: dict[str, list[str]] = {}
    reach: dict[str, matching_pb2.CompetitorReach] = {}
    for answer in scores.vendors:
        if answer.vendor not in share:
            continue
        owners.setdefault(answer.ultimate_owner or answer.vendor, []).append(answer.vendor)
        for exposure in answer.exposures:
            found = reach.setdefault(
                exposure.competitor, matching_pb2.CompetitorReach(competitor=exposure.competitor)
            )
            found.vendors.append(answer.vendor)
            if exposure.controls or exposure.is_competitor:
                found.controlled_share += share[answer.vendor]
            equity = 1.0 if exposure.is_competitor else exposure.look_through_equity.value
            found.economic_share += share[answer.vendor] * equity
    result = matching_pb2.Concentration()
    by_owner = {owner: sum(share[v] for v in vendors) for owner, vendors in owners.items()}
    for owner, part in sorted(by_owner.items(), key=lambda kv: (-kv[1], kv[0])):
        result.owners.add(owner=owner, share=round(part, 6), vendors=sorted(owners[owner]))
    result.hhi = round(sum((100 * part) ** 2 for part in by_owner.values()), 2)
    for competitor in sorted(reach, key=lambda c: (-reach[c].economic_share, c)):
        found = reach[competitor]
        found.controlled_share = round(found.controlled_share, 6)
        found.economic_share = round(found.economic_share, 6)
        result.competitors.append(found)
    return result


class ConcentrationAnalysis:
    def __init__(self, upstreams: Upstreams) -> None:
        self._up = upstreams

    def analyze(
        self,
        client_id: str,
        work: Mapping[str, int],
        as_of: str,
        what_if: ownership_pb2.OwnershipEvent | None,
    ) -> matching_pb2.ConcentrationReport:
        """Arguments checked by the caller; ``what_if`` is checked by the catalog."""
        name = str(ClientName(client_id))
        with calling("requirements"):
            client = self._up.requirements.GetClient(requirements_pb2.GetClientRequest(name=name))
        if as_of:
            date = as_of
        elif what_if is not None:  # as SimulateEvent: both on the event's date
            date = event_date(what_if.effective_date) or today().isoformat()
        else:
            date = evaluation_date(client.neutrality_policy)
        request = neutrality_pb2.ScorePolicyRequest(
            policy=client.neutrality_policy, vendors=list(work), as_of=date
        )
        try:
            with relaying("neutrality", "work", "vendors"):
                now = self._up.neutrality.ScorePolicy(request)
        except InvalidArgument as exc:  # vendors[i] is the caller's work[i].vendor
            raise InvalidArgument(
                [
                    FieldViolation(
                        f"{v.field}.vendor" if _ITEM.fullmatch(v.field) else v.field,
                        v.description,
                    )
                    for v in exc.violations
                ]
            ) from None
        report = matching_pb2.ConcentrationReport(
            client=name,
            as_of=date,
            current=concentration_of(work, now),
            graph_version=now.graph_version,
        )
        if what_if is not None:
            request.what_if.CopyFrom(what_if)
            with relaying("neutrality", "what_if", "what_if"):
                after = self._up.neutrality.ScorePolicy(request)
            report.after_event.CopyFrom(concentration_of(work, after))
        return report
