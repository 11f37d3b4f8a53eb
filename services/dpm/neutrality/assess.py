"""From the graph to a vendor's assessment: groups, exposures, seats, ties, verdict.

A competitor's group is the competitor plus every entity it controls, each
counted once; its exposure to a vendor is one sparse solve on equity and one
on votes (memoized per graph, so scoring many vendors for the same
competitors costs two solves per competitor).

Ties and board seats count when they touch the vendor itself or one of its
majority parents (``OwnershipGraph.parents``) and their other side is in a
competitor's group.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

from dpm.neutrality.chains import top_chains
from dpm.neutrality.control import Control, control_of
from dpm.neutrality.exposure import integrated, undisclosed_reach
from dpm.neutrality.graph import OwnershipGraph
from dpm.neutrality.verdict import (
    Assessment,
    ChainView,
    Exposure,
    Policy,
    TieLink,
    judge,
)

TOP_CHAINS = 3


@dataclass(frozen=True)
class CompetitorGroup:
    competitor: str
    # Node indices: the competitor (when in the graph) and what it controls.
    members: frozenset[int]
    control: Control | None
    equity: np.ndarray
    votes: np.ndarray
    undisclosed: frozenset[int]

    def control_path(self, graph: OwnershipGraph, node: int) -> tuple[str, ...]:
        control = self.control
        if control is None or (node != control.controller and node not in control.via):
            return ()
        return tuple(graph.nodes[i] for i in control.path_to(node))


def competitor_group(graph: OwnershipGraph, competitor: str) -> CompetitorGroup:
    key = ("group", competitor)
    cached: CompetitorGroup | None = graph.memo.get(key)
    if cached is not None:
        return cached
    if competitor not in graph.index:
        zeros = np.zeros(len(graph))
        group = CompetitorGroup(competitor, frozenset(), None, zeros, zeros, frozenset())
    else:
        control = control_of(graph, graph.index[competitor])
        members = {control.controller, *control.via}
        group = CompetitorGroup(
            competitor,
            frozenset(members),
            control,
            integrated(graph, members, "equity"),
            integrated(graph, members, "votes"),
            frozenset(undisclosed_reach(graph, members)),
        )
    graph.memo[key] = group
    return group


def _chains(graph: OwnershipGraph, group: CompetitorGroup, vendor: int) -> tuple[ChainView, ...]:
    views = []
    for chain in top_chains(graph, set(group.members), vendor, TOP_CHAINS):
        prefix = group.control_path(graph, chain.path[0])[:-1]
        names = (*prefix, *(graph.nodes[i] for i in chain.path))
        views.append(ChainView(names, chain.product))
    return tuple(views)


def exposure_of(graph: OwnershipGraph, group: CompetitorGroup, vendor: str) -> Exposure:
    if vendor == group.competitor:
        return Exposure(group.competitor, 1.0, 1.0, controls=True, control_path=(vendor,))
    if vendor not in graph.index or not group.members:
        return Exposure(group.competitor, 0.0, 0.0)
    j = graph.index[vendor]
    equity = float(group.equity[j])
    votes = float(group.votes[j])
    controls = j in group.members
    member_names = {graph.nodes[m] for m in group.members}
    seats = tuple(
        (org, n)
        for org in (vendor, *graph.parents(vendor))
        if (n := sum(graph.board_seats.get((m, org), 0) for m in member_names)) > 0
    )
    return Exposure(
        group.competitor,
        equity,
        votes,
        controls=controls,
        control_path=group.control_path(graph, j) if controls else (),
        undisclosed_stake=j in group.undisclosed,
        seats=seats,
        chains=_chains(graph, group, j) if equity > 0 else (),
    )


def ties_of(graph: OwnershipGraph, vendor: str, groups: list[CompetitorGroup]) -> list[TieLink]:
    near = [tie for org in (vendor, *graph.parents(vendor)) for tie in graph.ties_from(org)]
    links = []
    for group in groups:
        members = {graph.nodes[m] for m in group.members} | {group.competitor}
        for tie in near:
            if tie.counterparty in members:
                links.append(
                    TieLink(
                        tie.kind,
                        group.competitor,
                        tie.organization,
                        tie.counterparty,
                        tie.effective_date,
                        tie.person,
                        tie.role,
                    )
                )
    return links


def assess(graph: OwnershipGraph, vendor: str, policy: Policy, as_of: dt.date) -> Assessment:
    groups = [competitor_group(graph, c) for c in policy.competitors]
    exposures = [exposure_of(graph, g, vendor) for g in groups]
    return judge(vendor, exposures, ties_of(graph, vendor, groups), policy, as_of)
