"""The only mapping between the wire messages and neutrality's math model.

Proto in (the catalog's graph, a client's policy), dataclasses to the pure
modules; an ``Assessment`` out as a ``VendorNeutrality`` message.
"""

from __future__ import annotations

import bisect
import datetime as dt
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from dpm.neutrality.graph import (
    Holding,
    HoldingColumns,
    OwnershipGraph,
    Provenance,
    Share,
    Tie,
    TieKind,
)
from dpm.neutrality.v1 import neutrality_pb2
from dpm.neutrality.verdict import (
    Assessment,
    Bound,
    ChainView,
    Exposure,
    Figure,
    LinkView,
    Policy,
    RestrictedFinding,
    UnknownOwnership,
    Verdict,
)
from dpm.ownership.v1 import ownership_pb2
from dpm.platform.names import OrganizationName
from dpm.requirements.v1 import requirements_pb2

log = logging.getLogger(__name__)


def slug(name: str) -> str:
    """The id in an organization name the catalog sent."""
    return OrganizationName.trusted_id(name)


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
_SOURCE_TYPES = {
    ownership_pb2.SOURCE_TYPE_SELF_DECLARATION: "self-declaration",
    ownership_pb2.SOURCE_TYPE_OFFICIAL_REGISTER: "official register",
    ownership_pb2.SOURCE_TYPE_THIRD_PARTY: "third party",
    ownership_pb2.SOURCE_TYPE_PRIMARY_RESEARCH: "primary research",
    ownership_pb2.SOURCE_TYPE_VERIFIED: "verified",
}
_SOURCE_TYPE_PROTOS = {text: value for value, text in _SOURCE_TYPES.items()}


def _range(msg: ownership_pb2.ShareRange) -> Share:
    """A BODS-style range: a missing minimum is 0, a missing maximum 1."""
    return Share(
        msg.minimum if msg.HasField("minimum") else 0.0,
        msg.maximum if msg.HasField("maximum") else 1.0,
        msg.exclusive_minimum,
        msg.exclusive_maximum,
    )


def _equity(h: ownership_pb2.Holding) -> float | Share | None:
    if h.HasField("equity_fraction"):
        return h.equity_fraction
    if h.HasField("equity_range"):
        return _range(h.equity_range)
    return None  # undisclosed


def _votes(h: ownership_pb2.Holding) -> float | Share | None:
    if h.HasField("voting_fraction"):
        return h.voting_fraction
    if h.HasField("voting_range"):
        return _range(h.voting_range)
    return None  # the same as the equity


def _provenance(msg: ownership_pb2.Provenance | None, source_url: str) -> Provenance | None:
    if msg is None and not source_url:
        return None
    found = Provenance(
        source_url=source_url,
        source_type=_SOURCE_TYPES.get(msg.source_type, "") if msg else "",
        asserted_by=msg.asserted_by if msg else "",
        statement_date=msg.statement_date if msg else "",
        statement_id=msg.statement_id if msg else "",
    )
    return found if found != Provenance() else None


# Past this many holdings in a delta, one sort of the whole list beats inserting each
# (an insertion moves the list's tail: O(holdings) each).
INSERTED_MAX = 256


# Past this many holdings dropped by a delta, one pass over the list beats deleting each.
DELETED_MAX = 1024


@dataclass
class GraphFacts:
    """A graph message converted, before ``OwnershipGraph.build``: what a delta changes."""

    holdings: list[Holding]  # by (holder, held): one order whatever the source
    nodes: list[str]
    ties: list[Tie]
    # What the build reads of each holding, once known: a delta patches them.
    columns: HoldingColumns | None = field(default=None, compare=False, repr=False)

    def build(self) -> OwnershipGraph:
        if self.columns is None:
            self.columns = HoldingColumns.of(self.holdings, self.nodes, self.ties)
        return OwnershipGraph.build(self.holdings, self.nodes, self.ties, self.columns)

    def changed_by(self, delta: ownership_pb2.OwnershipGraph) -> GraphFacts:
        """These facts with the holdings of the delta's changed organizations replaced
        (``OwnershipGraph.delta_from``); nodes and ties as they were."""
        changed = {slug(o) for o in delta.changed_organizations}
        new = _sorted(_holdings(delta.holdings))
        if self.columns is not None and len(new) <= INSERTED_MAX:
            patched = self._patched(changed, new, self.columns)
            if patched is not None:
                return patched
        kept = [h for h in self.holdings if h.held not in changed]
        if len(new) > INSERTED_MAX:
            return GraphFacts(_sorted([*kept, *new]), self.nodes, self.ties)
        # Kept is in order already: the few new holdings go in by bisection, each after
        # its equals, which is where the stable sort of kept + new would put it.
        for holding in new:
            bisect.insort_right(kept, holding, key=_order)
        return GraphFacts(kept, self.nodes, self.ties)

    def _patched(
        self, changed: set[str], new: list[Holding], columns: HoldingColumns
    ) -> GraphFacts | None:
        """``changed_by`` on the columns: the holdings into changed organizations found by
        their index, the new ones placed by bisection (as the list path does), the
        columns patched to match. None when the columns cannot be patched."""
        ids = [columns.index[o] for o in changed if o in columns.index]
        dropped = np.isin(columns.cols, ids)
        gone = np.flatnonzero(dropped).tolist()
        if len(gone) > DELETED_MAX:
            kept = [self.holdings[k] for k in np.flatnonzero(~dropped).tolist()]
        else:
            kept = list(self.holdings)
            for k in reversed(gone):
                del kept[k]
        positions = [bisect.bisect_right(kept, _order(h), key=_order) for h in new]
        patched = columns.patched(dropped, positions, new)
        if patched is None:
            return None
        # From the last to the first: each insertion leaves the earlier positions valid,
        # and new holdings at one position end up in their own order.
        for at, holding in reversed(list(zip(positions, new, strict=True))):
            kept.insert(at, holding)
        return GraphFacts(kept, self.nodes, self.ties, patched)


def facts_from_proto(msg: ownership_pb2.OwnershipGraph) -> GraphFacts:
    ties = []
    for t in msg.ties:
        try:
            date = dt.date.fromisoformat(t.effective_date)
        except ValueError:
            log.warning("tie %s has no usable date %r; ignored", t.event_id, t.effective_date)
            continue
        if t.kind in _TIE_KINDS:
            ties.append(
                Tie(
                    _TIE_KINDS[t.kind],
                    slug(t.organization),
                    slug(t.counterparty),
                    date,
                    t.person,
                    t.role,
                    _provenance(t.provenance if t.HasField("provenance") else None, t.source_url),
                )
            )
    nodes = [slug(o) for o in msg.organizations]
    return GraphFacts(_sorted(_holdings(msg.holdings)), nodes, ties)


def _holdings(messages: Iterable[ownership_pb2.Holding]) -> list[Holding]:
    return [
        Holding(
            slug(h.holder),
            slug(h.held),
            _equity(h),
            _votes(h),
            h.board_seats,
            _provenance(h.provenance if h.HasField("provenance") else None, h.source_url),
        )
        for h in messages
    ]


def _order(holding: Holding) -> tuple[str, str]:
    return holding.holder, holding.held


def _sorted(holdings: list[Holding]) -> list[Holding]:
    # One order whatever the source (a whole export, or a copy changed by a delta), so
    # that equal graphs build to equal figures, down to the order of float sums.
    holdings.sort(key=_order)
    return holdings


def policy_from_proto(msg: requirements_pb2.NeutralityPolicy) -> Policy:
    return Policy(
        competitors=tuple(dict.fromkeys(slug(c) for c in msg.competitors)),
        max_competitor_equity=msg.max_competitor_equity,
        max_competitor_voting=msg.max_competitor_voting,
        board_seat_disqualifies=msg.board_seat_disqualifies,
        leadership_move_disqualifies=msg.leadership_move_disqualifies,
        leadership_move_window_days=msg.leadership_move_window_days,
        unknown_ownership=_UNKNOWN.get(msg.unknown_ownership, UnknownOwnership.CAUTION),
        max_competitor_voting_power=(
            msg.max_competitor_voting_power if msg.HasField("max_competitor_voting_power") else None
        ),
        decisive_bound=(
            Bound.LOWER if msg.decisive_bound == requirements_pb2.RANGE_BOUND_LOWER else Bound.UPPER
        ),
        restricted_parties=tuple(dict.fromkeys(slug(p) for p in msg.restricted_parties)),
    )


def _figure(f: Figure) -> neutrality_pb2.Figure:
    return neutrality_pb2.Figure(value=f.value, lower=f.lower, upper=f.upper)


def _provenance_to_proto(p: Provenance | None) -> ownership_pb2.Provenance | None:
    if p is None:
        return None
    return ownership_pb2.Provenance(
        source_type=_SOURCE_TYPE_PROTOS.get(p.source_type, ownership_pb2.SOURCE_TYPE_UNSPECIFIED),
        asserted_by=p.asserted_by,
        statement_date=p.statement_date,
        statement_id=p.statement_id,
    )


def _link(link: LinkView) -> neutrality_pb2.ChainLink:
    return neutrality_pb2.ChainLink(
        holder=org_name(link.holder),
        held=org_name(link.held),
        equity=_figure(link.equity),
        votes=_figure(link.votes),
        undisclosed=link.undisclosed,
        source_url=link.provenance.source_url if link.provenance else "",
        provenance=_provenance_to_proto(link.provenance),
    )


def _chain(c: ChainView) -> neutrality_pb2.OwnershipChain:
    return neutrality_pb2.OwnershipChain(
        organizations=[org_name(o) for o in c.organizations],
        equity=c.equity,
        weakest_link=c.weakest_link,
        links=[_link(link) for link in c.links],
    )


def _exposure(e: Exposure) -> neutrality_pb2.CompetitorExposure:
    msg = neutrality_pb2.CompetitorExposure(
        competitor=org_name(e.competitor),
        controls=e.controls,
        undisclosed_stake=e.undisclosed_stake,
        board_seats=e.board_seats,
        top_chains=[_chain(c) for c in e.chains],
        look_through_equity=_figure(e.look_through_equity),
        look_through_votes=_figure(e.look_through_votes),
        directed_votes=_figure(e.directed_votes),
        control_path=[org_name(o) for o in e.control_path],
        weakest_link=_figure(e.weakest_link),
        is_competitor=e.is_competitor,
        could_control=e.could_control,
    )
    wedge = e.wedge
    if wedge is not None:
        msg.wedge = wedge
    if e.voting_power is not None:
        msg.voting_power.banzhaf_index.CopyFrom(_figure(e.voting_power.index))
        msg.voting_power.other_holders = e.voting_power.other_holders
    return msg


def _restricted(r: RestrictedFinding) -> neutrality_pb2.RestrictedPartyFinding:
    return neutrality_pb2.RestrictedPartyFinding(
        blocked=r.blocked,
        named=r.named,
        aggregate_blocked_share=_figure(r.aggregate),
        blocked_holders=[org_name(h.holder) for h in r.holders],
        could_be_blocked=r.could_be_blocked,
    )


def verdict_to_proto(result: Assessment) -> neutrality_pb2.VendorNeutrality:
    """Only what ranking reads: the vendor, its verdict, score and reasons (the servicer
    adds the ultimate owner, which planning reads)."""
    return neutrality_pb2.VendorNeutrality(
        vendor=org_name(result.vendor),
        score=result.score,
        verdict=_VERDICTS[result.verdict],
        reasons=list(result.reasons),
    )


def assessment_to_proto(result: Assessment) -> neutrality_pb2.VendorNeutrality:
    msg = neutrality_pb2.VendorNeutrality(
        vendor=org_name(result.vendor),
        score=result.score,
        verdict=_VERDICTS[result.verdict],
        exposures=[_exposure(e) for e in result.exposures],
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
        unknown_ownership=_figure(result.unknown_ownership),
        graph_problems=[
            neutrality_pb2.GraphProblem(
                organizations=[org_name(o) for o in p.organizations], description=p.description
            )
            for p in result.problems
        ],
    )
    if result.restricted is not None:
        msg.restricted_parties.CopyFrom(_restricted(result.restricted))
    return msg
