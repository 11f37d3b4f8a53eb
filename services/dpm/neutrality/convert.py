"""The only mapping between the wire messages and neutrality's math model.

Proto in (the catalog's graph, a client's policy), dataclasses to the pure
modules; an ``Assessment`` out as a ``VendorNeutrality`` message.
"""

from __future__ import annotations

import datetime as dt
import logging

from dpm.neutrality.graph import Holding, OwnershipGraph, Tie, TieKind
from dpm.neutrality.v1 import neutrality_pb2
from dpm.neutrality.verdict import Assessment, Policy, UnknownOwnership, Verdict
from dpm.ownership.v1 import ownership_pb2
from dpm.platform.names import OrganizationName
from dpm.requirements.v1 import requirements_pb2

log = logging.getLogger(__name__)


def slug(name: str) -> str:
    """The id in an organization name the catalog sent."""
    return OrganizationName.trusted(name).id


def org_name(org_id: str) -> str:
    return str(OrganizationName(org_id))


_TIE_KINDS = {
    ownership_pb2.TIE_KIND_LEADERSHIP_MOVE: TieKind.LEADERSHIP_MOVE,
    ownership_pb2.TIE_KIND_BOARD_INTERLOCK: TieKind.BOARD_INTERLOCK,
    ownership_pb2.TIE_KIND_EXCLUSIVE_CONTRACT: TieKind.EXCLUSIVE_CONTRACT,
    ownership_pb2.TIE_KIND_REVENUE_DEPENDENCY: TieKind.REVENUE_DEPENDENCY,
    ownership_pb2.TIE_KIND_DATA_SHARING: TieKind.DATA_SHARING,
}
_UNKNOWN = {
    requirements_pb2.UNKNOWN_OWNERSHIP_CONFLICTED: UnknownOwnership.CONFLICTED,
    requirements_pb2.UNKNOWN_OWNERSHIP_IGNORE: UnknownOwnership.IGNORE,
}
_VERDICTS = {
    Verdict.NEUTRAL: neutrality_pb2.VERDICT_NEUTRAL,
    Verdict.CAUTION: neutrality_pb2.VERDICT_CAUTION,
    Verdict.CONFLICTED: neutrality_pb2.VERDICT_CONFLICTED,
}


def graph_from_proto(msg: ownership_pb2.OwnershipGraph) -> OwnershipGraph:
    holdings = [
        Holding(
            slug(h.holder),
            slug(h.held),
            h.equity_fraction if h.HasField("equity_fraction") else None,
            h.voting_fraction if h.HasField("voting_fraction") else None,
            h.board_seats,
        )
        for h in msg.holdings
    ]
    ties = []
    for t in msg.ties:
        try:
            date = dt.date.fromisoformat(t.effective_date)
        except ValueError:
            log.warning("tie %s has no usable date %r; ignored", t.event_id, t.effective_date)
            continue
        if t.kind in _TIE_KINDS:
            kind = _TIE_KINDS[t.kind]
            ties.append(
                Tie(kind, slug(t.organization), slug(t.counterparty), date, t.person, t.role)
            )
    return OwnershipGraph.build(holdings, (slug(o) for o in msg.organizations), ties)


def policy_from_proto(msg: requirements_pb2.NeutralityPolicy) -> Policy:
    return Policy(
        competitors=tuple(dict.fromkeys(slug(c) for c in msg.competitors)),
        max_competitor_equity=msg.max_competitor_equity,
        max_competitor_voting=msg.max_competitor_voting,
        board_seat_disqualifies=msg.board_seat_disqualifies,
        leadership_move_disqualifies=msg.leadership_move_disqualifies,
        leadership_move_window_days=msg.leadership_move_window_days,
        unknown_ownership=_UNKNOWN.get(msg.unknown_ownership, UnknownOwnership.CAUTION),
    )


def assessment_to_proto(result: Assessment) -> neutrality_pb2.VendorNeutrality:
    return neutrality_pb2.VendorNeutrality(
        vendor=org_name(result.vendor),
        score=result.score,
        verdict=_VERDICTS[result.verdict],
        exposures=[
            neutrality_pb2.CompetitorExposure(
                competitor=org_name(e.competitor),
                integrated_equity=e.equity,
                integrated_voting=e.votes,
                controls=e.controls,
                undisclosed_stake=e.undisclosed_stake,
                board_seats=e.board_seats,
                top_chains=[
                    neutrality_pb2.OwnershipChain(
                        organizations=[org_name(o) for o in c.organizations], equity=c.equity
                    )
                    for c in e.chains
                ],
            )
            for e in result.exposures
        ],
        ties=[
            neutrality_pb2.TieFinding(
                kind=t.kind.value,
                competitor=org_name(t.competitor),
                description=t.description,
                effective_date=t.effective_date.isoformat(),
                weight=t.weight,
                disqualifying=t.disqualifying,
            )
            for t in result.ties
        ],
        reasons=list(result.reasons),
    )
