"""From the graph to a vendor's assessment: each figure under its own name, then the verdict.

Per competitor c and vendor v (definitions: tests/data/ownership-vectors.json):

- look-through equity / votes: ``exposure.integrated`` with the group {c}
  alone (walks from c that do not come back to c);
- directed votes and control: ``control.control_of`` (c's own votes plus
  those of every entity it controls; majority rule, least fixed point);
- weakest link: ``chains.weakest_link`` (max flow of votes c -> v);
- voting power: ``power.banzhaf`` of c's directed votes against the other
  recorded holders of v, only when c holds votes but no majority;
- the restricted-parties rule: ``restricted.blocking`` (OFAC 50 Percent Rule).

Solves are per competitor and reading, memoized on the graph, so scoring
many vendors for the same competitors costs one solve per competitor, kind
and distinct reading (one for each kind when every share is exact). The
competitors that reach a vendor are solved together when there are several
(``exposure.look_through_together``: one sweep for all of them). With
uncertain facts each figure is computed at three readings (graph.Reading):
LOW gives its lower bound, FULL its upper bound, and the policy's decisive
bound picks HIGH (upper, the default) or LOW (lower) as the value limits
apply to.

Ties and board seats count when they touch the vendor itself or one of its
majority parents (``OwnershipGraph.parents``) and their other side is the
competitor or an entity it controls.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable
from typing import TypeVar

import numpy as np

from dpm.neutrality.chains import between, chain_weakest_link, top_chains, weakest_link
from dpm.neutrality.control import Control, control_of
from dpm.neutrality.exposure import integrated, look_through_together, undisclosed_mask
from dpm.neutrality.graph import GraphError, OwnershipGraph, Reading
from dpm.neutrality.power import banzhaf
from dpm.neutrality.restricted import Blocking, blocking
from dpm.neutrality.verdict import (
    EPSILON,
    ZERO,
    Assessment,
    BlockedHolder,
    Bound,
    ChainView,
    DirectedPart,
    Exposure,
    Figure,
    LinkView,
    Policy,
    RestrictedFinding,
    TieLink,
    VotingPower,
    judge,
)

TOP_CHAINS = 3

T = TypeVar("T")


def decisive_reading(policy: Policy) -> Reading:
    return Reading.LOW if policy.decisive_bound is Bound.LOWER else Reading.HIGH


def _figure(graph: OwnershipGraph, decisive: Reading, at: Callable[[Reading], float]) -> Figure:
    """value at the decisive reading, lower at LOW, upper at FULL (one call when exact)."""
    if not graph.uncertain:
        return Figure.exact(at(Reading.LOW))
    low, value, full = at(Reading.LOW), at(decisive), at(Reading.FULL)
    if np.isnan([low, value, full]).any():
        return Figure(np.nan, np.nan, np.nan)
    return Figure(value, min(low, value, full), max(low, value, full))


def _memo(graph: OwnershipGraph, key: tuple[object, ...], make: Callable[[], T]) -> T:
    if key not in graph.memo:
        graph.memo[key] = make()
    value: T = graph.memo[key]
    return value


def control(graph: OwnershipGraph, competitor: int, reading: Reading) -> Control:
    reading = graph.canonical("votes", reading)
    return _memo(
        graph, ("control", competitor, reading), lambda: control_of(graph, competitor, reading)
    )


def look_through(graph: OwnershipGraph, competitor: int, kind: str, reading: Reading) -> np.ndarray:
    """The competitor's look-through ``kind`` in every node (memoized).

    When the solve fails (over-allocated data around a cycle), it is redone
    without the nodes that depend on a recorded graph problem: every other
    node's figure is unchanged (no walk to it passes through them), and theirs
    are NaN. Raises GraphError only when even that fails.
    """
    reading = graph.canonical(kind, reading)

    def solve() -> np.ndarray | GraphError:
        try:
            return integrated(graph, {competitor}, kind, reading)
        except GraphError as exc:
            affected = set(graph.affected)
            if not affected or competitor in affected:
                return exc
            try:
                partial = integrated(graph, {competitor}, kind, reading, exclude=affected)
            except GraphError:
                return exc
            partial[sorted(affected)] = np.nan
            return partial

    result = _memo(graph, ("look-through", competitor, kind, reading), solve)
    if isinstance(result, GraphError):
        raise result
    return result


def _look_through_together(
    graph: OwnershipGraph, competitors: list[int], decisive: Reading
) -> None:
    """Memoize, where ``look_through`` finds them, the figures of several competitors
    solved in one sweep; any the sweep cannot give are left to ``look_through``.

    A sweep costs about what solving alone the competitors that reach half the
    graph costs, so competitors that reach less than that are left to
    ``look_through`` too.
    """
    if sum(int(_descendants(graph, c).sum()) for c in competitors) < len(graph) // 2:
        return
    readings = {Reading.LOW, decisive, Reading.FULL} if graph.uncertain else {Reading.LOW}
    for kind in ("equity", "votes"):
        for reading in sorted({graph.canonical(kind, r) for r in readings}):
            pending = [
                c for c in competitors if ("look-through", c, kind, reading) not in graph.memo
            ]
            if len(pending) < 2:
                continue
            for c, figures in look_through_together(graph, pending, kind, reading).items():
                graph.memo[("look-through", c, kind, reading)] = figures


def _descendants(graph: OwnershipGraph, competitor: int) -> np.ndarray:
    """Mask of what the competitor reaches (one byte per node, memoized)."""
    return _memo(graph, ("reach", competitor), lambda: graph.reachable_mask([competitor]))


def _undisclosed(graph: OwnershipGraph, competitor: int) -> np.ndarray:
    return _memo(graph, ("undisclosed", competitor), lambda: undisclosed_mask(graph, {competitor}))


def _blocking(graph: OwnershipGraph, parties: tuple[str, ...], reading: Reading) -> Blocking:
    reading = graph.canonical("equity", reading)
    return _memo(graph, ("blocking", parties, reading), lambda: blocking(graph, parties, reading))


def _column(graph: OwnershipGraph, kind: str, reading: Reading, j: int) -> dict[int, float]:
    """Direct holders of node j and their fractions of its ``kind``."""
    t = graph.transposed(kind, reading)
    lo, hi = t.indptr[j], t.indptr[j + 1]
    return {int(i): float(x) for i, x in zip(t.indices[lo:hi], t.data[lo:hi], strict=True)}


def members(graph: OwnershipGraph, competitor: str, reading: Reading) -> set[int]:
    """The competitor and every entity it controls (its group) at ``reading``."""
    if competitor not in graph.index:
        return set()
    ctl = control(graph, graph.index[competitor], reading)
    return {ctl.controller, *ctl.via}


def _link(graph: OwnershipGraph, a: int, b: int, decisive: Reading) -> LinkView:
    def value(kind: str) -> Figure:
        return _figure(graph, decisive, lambda r: float(graph.matrix(kind, r)[a, b]))

    held = graph.holdings_between(a, b)
    one = held[0] if len(held) == 1 else None
    return LinkView(
        graph.nodes[a],
        graph.nodes[b],
        value("equity"),
        value("votes"),
        one.equity_share if one else None,
        one.votes_share if one else None,
        one.provenance if one else None,
    )


def _chains(
    graph: OwnershipGraph, ci: int, j: int, decisive: Reading, within: set[int]
) -> tuple[ChainView, ...]:
    """The largest equity chains (decisive reading; failing that, with undisclosed stakes
    at their largest; failing that, chains of votes)."""
    equity = graph.matrix("equity", decisive)
    votes = graph.matrix("votes", decisive)
    found = []
    searched: set[int] = set()
    for matrix in (equity, graph.matrix("equity", Reading.FULL), votes):
        if id(matrix) in searched:
            continue
        searched.add(id(matrix))
        found = top_chains(graph, {ci}, j, TOP_CHAINS, matrix=matrix, within=within)
        if found:
            break
    views = []
    for chain in found:
        path = chain.path
        product = float(np.prod([equity[a, b] for a, b in itertools.pairwise(path)]))
        views.append(
            ChainView(
                tuple(graph.nodes[i] for i in path),
                product,
                chain_weakest_link(votes, path),
                tuple(_link(graph, a, b, decisive) for a, b in itertools.pairwise(path)),
            )
        )
    return tuple(views)


def _voting_power(graph: OwnershipGraph, ci: int, j: int, decisive: Reading) -> VotingPower:
    def game(reading: Reading) -> tuple[float, int]:
        ctl = control(graph, ci, reading)
        group = {ci, *ctl.via}
        others = [x for i, x in _column(graph, "votes", reading, j).items() if i not in group]
        return banzhaf(min(ctl.commanded.get(j, 0.0), 1.0), others), len(others)

    index = _figure(graph, decisive, lambda r: game(r)[0])
    return VotingPower(index, game(decisive)[1])


def exposure_of(
    graph: OwnershipGraph, competitor: str, vendor: str, policy: Policy | None = None
) -> Exposure:
    decisive = decisive_reading(policy or Policy(()))
    if vendor == competitor:
        one = Figure.exact(1.0)
        return Exposure(
            competitor,
            one,
            one,
            one,
            controls=True,
            control_path=(vendor,),
            could_control=True,
            is_competitor=True,
        )
    if vendor not in graph.index or competitor not in graph.index:
        return Exposure(competitor)
    ci, j = graph.index[competitor], graph.index[vendor]
    ctl = control(graph, ci, decisive)
    group = {ci, *ctl.via}
    names = {graph.nodes[m] for m in group}
    seats = tuple(
        (org, n)
        for org in (vendor, *graph.parents(vendor))
        if (n := sum(graph.board_seats.get((m, org), 0) for m in names)) > 0
    )
    if not _descendants(graph, ci)[j]:
        return Exposure(competitor, seats=seats)

    unavailable = ""
    try:
        lt_equity = _figure(
            graph, decisive, lambda r: float(look_through(graph, ci, "equity", r)[j])
        )
        lt_votes = _figure(graph, decisive, lambda r: float(look_through(graph, ci, "votes", r)[j]))
        if any(np.isnan(f.value) for f in (lt_equity, lt_votes)):
            raise GraphError(
                "its look-through figures depend on ownership data that is inconsistent"
            )
    except GraphError as exc:
        unavailable = str(exc)
        lt_equity = lt_votes = ZERO

    directed = _figure(
        graph, decisive, lambda r: min(control(graph, ci, r).commanded.get(j, 0.0), 1.0)
    )
    controls = j in ctl.via
    could_control = controls or j in control(graph, ci, Reading.FULL).via
    parts = tuple(
        DirectedPart(
            graph.nodes[m],
            share,
            0.0 if m == ci else min(ctl.commanded.get(m, 0.0), 1.0),
            () if m == ci else tuple(graph.nodes[i] for i in ctl.path_to(m)),
        )
        for m, share in sorted(_column(graph, "votes", decisive, j).items())
        if m in group and share > EPSILON
    )
    votes_reach = directed.upper > EPSILON or lt_votes.upper > EPSILON
    linked = votes_reach or lt_equity.upper > EPSILON
    nodes = between(graph, _descendants(graph, ci), j) if linked else set()
    weakest = ZERO
    power = None
    if votes_reach:
        weakest = _figure(
            graph, decisive, lambda r: weakest_link(graph.matrix("votes", r), ci, j, nodes)
        )
        if not controls:
            power = _voting_power(graph, ci, j, decisive)
    return Exposure(
        competitor,
        lt_equity,
        lt_votes,
        directed,
        controls=controls,
        control_path=tuple(graph.nodes[i] for i in ctl.path_to(j)) if controls else (),
        could_control=could_control,
        weakest_link=weakest,
        voting_power=power,
        directed_parts=parts,
        undisclosed_stake=bool(_undisclosed(graph, ci)[j]),
        seats=seats,
        chains=_chains(graph, ci, j, decisive, nodes) if linked else (),
        unavailable=unavailable,
    )


def restricted_of(graph: OwnershipGraph, vendor: str, policy: Policy) -> RestrictedFinding | None:
    parties = policy.restricted_parties
    if not parties:
        return None
    if vendor in parties:
        return RestrictedFinding(True, True, True, Figure.exact(1.0))
    if vendor not in graph.index:
        return RestrictedFinding(False, False, False, ZERO)
    j = graph.index[vendor]
    decisive = decisive_reading(policy)
    block = {r: _blocking(graph, parties, r) for r in (Reading.LOW, decisive, Reading.FULL)}
    aggregate = _figure(graph, decisive, lambda r: min(block[r].aggregate.get(j, 0.0), 1.0))
    blocked = j in block[decisive].via
    holders: tuple[BlockedHolder, ...] = ()
    for reading in (decisive, Reading.FULL):
        b = block[reading]
        holders = tuple(
            BlockedHolder(graph.nodes[i], stake, tuple(graph.nodes[k] for k in b.path_to(i)))
            for i, stake in sorted(_column(graph, "equity", reading, j).items())
            if i in b.via and stake > EPSILON
        )
        if holders:
            break
    return RestrictedFinding(
        False, blocked, not blocked and j in block[Reading.FULL].via, aggregate, holders
    )


def unknown_ownership_of(graph: OwnershipGraph, vendor: str, policy: Policy) -> Figure:
    """1 - the direct holders' equity: lower with every stake at its largest, upper at its least."""
    if vendor not in graph.index:
        return Figure.exact(1.0)
    j = graph.index[vendor]

    def unknown(reading: Reading) -> float:
        return max(0.0, 1.0 - sum(_column(graph, "equity", reading, j).values()))

    upper, lower = unknown(Reading.LOW), unknown(Reading.FULL)
    value = lower if policy.decisive_bound is Bound.LOWER else upper
    return Figure(value, lower, upper)


def ties_of(graph: OwnershipGraph, vendor: str, policy: Policy) -> list[TieLink]:
    near = [tie for org in (vendor, *graph.parents(vendor)) for tie in graph.ties_from(org)]
    if not near:
        return []
    decisive = decisive_reading(policy)
    links = []
    for competitor in policy.competitors:
        group = {graph.nodes[m] for m in members(graph, competitor, decisive)} | {competitor}
        for tie in near:
            if tie.counterparty in group:
                links.append(
                    TieLink(
                        tie.kind,
                        competitor,
                        tie.organization,
                        tie.counterparty,
                        tie.effective_date,
                        tie.person,
                        tie.role,
                        tie.provenance,
                    )
                )
    return links


def assess(graph: OwnershipGraph, vendor: str, policy: Policy, as_of: dt.date) -> Assessment:
    """The vendor's neutrality for a client with ``policy``, on the graph read at ``as_of``."""
    if vendor in graph.index:
        j = graph.index[vendor]
        reaching = [
            graph.index[c]
            for c in policy.competitors
            if c != vendor and c in graph.index and _descendants(graph, graph.index[c])[j]
        ]
        _look_through_together(graph, reaching, decisive_reading(policy))
    exposures = [exposure_of(graph, c, vendor, policy) for c in policy.competitors]
    return judge(
        vendor,
        exposures,
        ties_of(graph, vendor, policy),
        policy,
        as_of,
        restricted=restricted_of(graph, vendor, policy),
        problems=graph.problems_of(vendor),
        unknown_ownership=unknown_ownership_of(graph, vendor, policy),
    )
