"""Ownership math against the worked vectors and against simple oracles.

Vector fields checked here on the math modules: integrated (and
integrated_float), integrated_votes, controls, commanded_votes, weakest_link,
ofac_if_A_blocked, walk_sum_raw, ultimate_owner_column_sums,
after_update_C>B_to_0.3, the variant_if_voting_0.49 control figures, and the
closed cycle (recorded, not raised). The same values are checked through the
gRPC API in tests/service/test_neutrality_vectors.py; neutrality_for_client_Google
also in test_verdict.py. Not checked: "verification" (how the vectors were made).
"""

from __future__ import annotations

import itertools
import json
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from dpm.neutrality.chains import between, weakest_link
from dpm.neutrality.control import commanded_votes, control_of, controls
from dpm.neutrality.exposure import (
    bounded_walks,
    integrated,
    solve_walks,
    undisclosed_reach,
    walk_sum_raw,
)
from dpm.neutrality.graph import Holding, OwnershipGraph, Reading, Share
from dpm.neutrality.power import banzhaf
from dpm.neutrality.restricted import blocking

VECTORS = json.loads((Path(__file__).parents[1] / "data" / "ownership-vectors.json").read_text())
TOL = VECTORS["tolerance"]


def vector(vid: str) -> dict[str, Any]:
    return next(v for v in VECTORS["vectors"] if v["id"] == vid)


def build(v: dict[str, Any], **override: float) -> OwnershipGraph:
    holdings = []
    for e in v["edges"]:
        key = f"{e['holder']}>{e['held']}"
        equity = override.get(key, e["equity"])
        holdings.append(Holding(e["holder"], e["held"], equity, e.get("votes")))
    return OwnershipGraph.build(holdings, v["nodes"])


def value(x: float | str) -> float:
    return float(Fraction(x)) if isinstance(x, str) else float(x)


def pairs(d: dict[str, Any]) -> list[tuple[str, str, Any]]:
    out = []
    for key, val in d.items():
        if ">" in key:
            a, b = key.split(">")
            out.append((a, b, val))
    return out


def single(graph: OwnershipGraph, holder: str, held: str, kind: str = "equity") -> float:
    return float(integrated(graph, {graph.index[holder]}, kind)[graph.index[held]])


NUMERIC = [v["id"] for v in VECTORS["vectors"] if "error" not in v["expected"]]


@pytest.mark.parametrize("vid", NUMERIC)
def test_integrated_matches_vector(vid: str) -> None:
    v = vector(vid)
    graph = build(v)
    for field in ("integrated", "integrated_float"):
        for a, b, expected in pairs(v["expected"].get(field, {})):
            assert single(graph, a, b) == pytest.approx(value(expected), abs=TOL), (field, a, b)


@pytest.mark.parametrize("vid", NUMERIC)
def test_integrated_votes_matches_vector(vid: str) -> None:
    v = vector(vid)
    graph = build(v)
    for a, b, expected in pairs(v["expected"].get("integrated_votes", {})):
        assert single(graph, a, b, "votes") == pytest.approx(value(expected), abs=TOL)


@pytest.mark.parametrize("vid", NUMERIC)
def test_control_matches_vector(vid: str) -> None:
    v = vector(vid)
    graph = build(v)
    for a, b, expected in pairs(v["expected"].get("controls", {})):
        assert controls(graph, a, b) is expected, (a, b)
    for a, b, expected in pairs(v["expected"].get("commanded_votes", {})):
        assert commanded_votes(graph, a, b) == pytest.approx(value(expected), abs=TOL), (a, b)


def test_walk_sum_raw_matches_vector() -> None:
    v = vector("c_cross_holding")
    graph = build(v)
    for a, b, expected in pairs(v["expected"]["walk_sum_raw"]):
        raw = walk_sum_raw(graph, graph.index[a])[graph.index[b]]
        assert raw == pytest.approx(value(expected), abs=TOL), (a, b)


def test_after_update_is_a_full_recompute() -> None:
    v = vector("c_cross_holding")
    expected = v["expected"]["after_update_C>B_to_0.3"]
    graph = build(v, **{"C>B": 0.3})
    assert single(graph, "A", "B") == pytest.approx(value(expected["A>B"]), abs=TOL)
    assert single(graph, "A", "C") == pytest.approx(value(expected["A>C"]), abs=TOL)


def test_meta_scale_variant_with_voting_stake() -> None:
    v = vector("d_meta_scale")
    variant = v["expected"]["variant_if_voting_0.49"]
    holdings = [
        Holding("Meta", "ScaleAI", 0.49, 0.49),
        Holding("ScaleAI", "ScaleSub", 1.0, 1.0),
    ]
    graph = OwnershipGraph.build(holdings, v["nodes"])
    assert commanded_votes(graph, "Meta", "ScaleAI") == pytest.approx(
        variant["commanded_votes_Meta>ScaleAI"], abs=TOL
    )
    assert controls(graph, "Meta", "ScaleAI") is variant["controls"]
    assert commanded_votes(graph, "Meta", "ScaleSub") == pytest.approx(
        variant["commanded_votes_Meta>ScaleSub"], abs=TOL
    )


def link(graph: OwnershipGraph, a: str, b: str, reading: Reading = Reading.LOW) -> float:
    i, j = graph.index[a], graph.index[b]
    nodes = between(graph, graph.reachable_mask([i]), j)
    return weakest_link(graph.matrix("votes", reading), i, j, nodes)


@pytest.mark.parametrize("vid", NUMERIC)
def test_weakest_link_matches_vector(vid: str) -> None:
    v = vector(vid)
    graph = build(v)
    for a, b, expected in pairs(v["expected"].get("weakest_link", {})):
        assert link(graph, a, b) == pytest.approx(value(expected), abs=TOL), (a, b)


OFAC = [v["id"] for v in VECTORS["vectors"] if "ofac_if_A_blocked" in v["expected"]]


@pytest.mark.parametrize("vid", OFAC)
def test_ofac_matches_vector(vid: str) -> None:
    v = vector(vid)
    spec = v["expected"]["ofac_if_A_blocked"]
    graph = build(v)
    found = blocking(graph, ["A"])
    assert {graph.nodes[i] for i in found.blocked} == set(spec["blocked"])
    c = graph.index["C"]
    assert found.aggregate[c] == pytest.approx(spec["aggregate_blocked_share_C"], abs=TOL)


def test_ultimate_owners_hold_the_whole_of_each_company() -> None:
    v = vector("c_cross_holding")
    graph = build(v)
    for held, total in v["expected"]["ultimate_owner_column_sums"].items():
        owners = ("A", "FB", "FC")
        got = sum(single(graph, o, held) for o in owners)
        assert got == pytest.approx(total, abs=TOL)


def test_look_through_of_all_holders_never_exceeds_the_whole() -> None:
    v = vector("c_cross_holding")
    graph = build(v)
    for held in ("B", "C"):
        # every holder, intermediate ones included, never sums above 100% per holder
        for holder in v["nodes"]:
            assert single(graph, holder, held) <= 1.0 + TOL


def test_closed_cycle_is_recorded_not_raised() -> None:
    v = vector("j_closed_cycle_error")
    graph = OwnershipGraph.build(
        [
            *(Holding(e["holder"], e["held"], e["equity"]) for e in v["edges"]),
            Holding("B", "D", 0.3),
            Holding("X", "Y", 0.4),
        ],
        v["nodes"],
    )
    (problem,) = graph.problems
    assert problem.organizations == tuple(sorted(v["expected"]["scc"]))
    assert "closed ownership cycle" in problem.description
    assert "equity and votes" in problem.description
    # What depends on the cycle: its members and what they hold; nothing else.
    assert {n for n in graph.nodes if graph.problems_of(n)} == {"A", "B", "D"}
    # The solves leave the cycle out and stay finite; X's stake in Y is untouched.
    x = graph.index["X"]
    assert integrated(graph, {x})[graph.index["Y"]] == pytest.approx(0.4)
    assert np.all(np.isfinite(integrated(graph, {x})))
    # Control is a least fixed point: defined on the raw matrix, cycle included.
    assert controls(graph, "A", "B")


def test_closed_cycle_in_votes_only_is_recorded() -> None:
    holdings = [Holding("A", "B", 0.5, 1.0), Holding("B", "A", 0.5, 1.0), Holding("B", "V", 0.2)]
    graph = OwnershipGraph.build(holdings, ["W"])
    (problem,) = graph.problems
    assert "all of its votes held inside" in problem.description
    assert graph.problems_of("V") and not graph.problems_of("W")
    # Equity is unaffected by a vote-only cycle.
    a = graph.index["A"]
    # Walks from A that come back to A are not A's: only A -> B -> V counts.
    assert integrated(graph, {a})[graph.index["V"]] == pytest.approx(0.5 * 0.2)


def test_impossible_holding_is_left_out_and_recorded() -> None:
    graph = OwnershipGraph.build([Holding("A", "B", 1.5), Holding("A", "C", 0.2)])
    (problem,) = graph.problems
    assert "A in B" in problem.description and "not a range within [0, 1]" in problem.description
    assert graph.problems_of("B") and not graph.problems_of("C")
    assert graph.equity.nnz == 1


def test_over_allocated_column_is_recorded() -> None:
    graph = OwnershipGraph.build([Holding("A", "B", 0.7), Holding("C", "B", 0.6)])
    (problem,) = graph.problems
    assert "more than all of it" in problem.description
    assert graph.problems_of("B")


def test_group_counts_controlled_entities_once() -> None:
    # P controls S (60%); P 10% and S 30% of V: group {P, S} holds 40% of V, not 10% + 0.6*30%.
    graph = OwnershipGraph.build(
        [Holding("P", "S", 0.6), Holding("P", "V", 0.1), Holding("S", "V", 0.3)]
    )
    group = {graph.index["P"], *control_of(graph, graph.index["P"]).via}
    assert group == {graph.index["P"], graph.index["S"]}
    assert integrated(graph, group)[graph.index["V"]] == pytest.approx(0.4, abs=TOL)


def test_undisclosed_stake_marks_downstream_only() -> None:
    graph = OwnershipGraph.build(
        [
            Holding("M", "X", None),
            Holding("X", "Y", 1.0),
            Holding("M", "Z", 0.2),
        ]
    )
    group = {graph.index["M"]}
    marked = {graph.nodes[i] for i in undisclosed_reach(graph, group)}
    assert marked == {"X", "Y"}
    # The undisclosed holding adds nothing to the figures.
    assert integrated(graph, group)[graph.index["Y"]] == 0.0


# ---- property tests against simple oracles -------------------------------------------


@st.composite
def leaky_graphs(draw: st.DrawFn, max_nodes: int = 6, acyclic: bool = False) -> np.ndarray:
    n = draw(st.integers(2, max_nodes))
    w = np.zeros((n, n))
    for i, j in itertools.product(range(n), range(n)):
        if i == j or (acyclic and i >= j):
            continue
        if draw(st.booleans()):
            w[i, j] = draw(st.floats(0.01, 1.0))
    # Leaky: scale each column so it sums to at most 0.95.
    sums = w.sum(axis=0)
    cap = draw(st.floats(0.1, 0.95))
    scale = np.where(sums > cap, cap / np.maximum(sums, 1e-300), 1.0)
    return w * scale


def graph_of(w: np.ndarray, votes: np.ndarray | None = None) -> OwnershipGraph:
    n = w.shape[0]
    holdings = [
        Holding(
            f"n{i}",
            f"n{j}",
            float(w[i, j]),
            None if votes is None else float(votes[i, j]),
        )
        for i, j in itertools.product(range(n), range(n))
        if w[i, j] > 0 or (votes is not None and votes[i, j] > 0)
    ]
    return OwnershipGraph.build(holdings, [f"n{i}" for i in range(n)])


@settings(max_examples=150, deadline=None)
@given(leaky_graphs())
def test_single_holder_matches_dense_inverse_with_diagonal_correction(w: np.ndarray) -> None:
    n = w.shape[0]
    graph = graph_of(w)
    inv = np.linalg.inv(np.eye(n) - w)
    raw = inv @ w
    for i in range(n):
        got = integrated(graph, {graph.index[f"n{i}"]})
        for j in range(n):
            assert got[graph.index[f"n{j}"]] == pytest.approx(raw[i, j] / inv[i, i], abs=1e-9)
        sums = walk_sum_raw(graph, graph.index[f"n{i}"])
        for j in range(n):
            assert sums[graph.index[f"n{j}"]] == pytest.approx(raw[i, j], abs=1e-9)


def brute_force_walks(w: np.ndarray, group: set[int], target: int) -> float:
    """Sum of products over every path (a DAG has only simple ones) from the group to target."""
    n = w.shape[0]
    total = 0.0

    def walk(node: int, product: float) -> None:
        nonlocal total
        for j in range(n):
            if w[node, j] <= 0:
                continue
            if j == target:
                total += product * w[node, j]
            elif j not in group:
                walk(j, product * w[node, j])

    for g in group:
        if g != target:
            walk(g, 1.0)
    return total


@settings(max_examples=150, deadline=None)
@given(leaky_graphs(acyclic=True), st.data())
def test_group_matches_walk_enumeration_on_dags(w: np.ndarray, data: st.DataObject) -> None:
    n = w.shape[0]
    group = set(data.draw(st.lists(st.integers(0, n - 1), min_size=1, max_size=n, unique=True)))
    graph = graph_of(w)
    got = integrated(graph, {graph.index[f"n{g}"] for g in group})
    for j in range(n):
        expected = brute_force_walks(w, group, j)
        assert got[graph.index[f"n{j}"]] == pytest.approx(expected, abs=1e-9)


def brute_force_control(v: np.ndarray, c: int) -> set[int]:
    """Kleene iteration on whole sets: recompute every node's commanded votes each round."""
    n = v.shape[0]
    controlled: set[int] = set()
    while True:
        commanders = [c, *controlled]
        nxt = {j for j in range(n) if j != c and v[commanders, j].sum() > 0.5 + 1e-12}
        if nxt == controlled:
            return controlled
        controlled = nxt


@settings(max_examples=200, deadline=None)
@given(leaky_graphs(max_nodes=7))
def test_control_matches_brute_force_fixed_point(v: np.ndarray) -> None:
    n = v.shape[0]
    graph = graph_of(v)
    for c in range(n):
        got = {int(graph.nodes[j][1:]) for j in control_of(graph, graph.index[f"n{c}"]).via}
        assert got == brute_force_control(v, c)


@settings(max_examples=100, deadline=None)
@given(leaky_graphs(max_nodes=8), st.sampled_from([0, 1, 10**6]))
def test_every_solver_path_agrees_with_dense_solve(w: np.ndarray, limit: int) -> None:
    """Block-triangular LU, plain LU and GMRES (for giant cycles) give the same x."""
    n = w.shape[0]
    rhs = w[0]
    expected = np.linalg.solve(np.eye(n) - w.T, rhs)
    got = solve_walks(sp.csr_matrix(w), rhs, direct_block_limit=limit)
    assert np.allclose(got, expected, atol=1e-9)


# ---- ranges and undisclosed stakes: bounds -------------------------------------------


@st.composite
def widened(draw: st.DrawFn, w: np.ndarray) -> list[Holding]:
    """The holdings of w, each kept exact, widened to a range around its value, or hidden."""
    n = w.shape[0]
    holdings = []
    for i, j in itertools.product(range(n), range(n)):
        if w[i, j] <= 0:
            continue
        mode = draw(st.sampled_from(["exact", "range", "hidden"]))
        x = float(w[i, j])
        share: float | Share | None = x
        if mode == "range":
            lo = max(0.0, x - draw(st.floats(0.0, 0.3)))
            hi = min(1.0, x + draw(st.floats(0.0, 0.3)))
            share = Share(lo, hi)
        elif mode == "hidden":
            share = None
        holdings.append(Holding(f"n{i}", f"n{j}", share))
    return holdings


@settings(max_examples=100, deadline=None)
@given(leaky_graphs(), st.data())
def test_readings_bound_the_exact_figures(w: np.ndarray, data: st.DataObject) -> None:
    """Whatever the true sizes within the ranges, LOW <= exact <= HIGH-or-FULL <= 1."""
    n = w.shape[0]
    exact = graph_of(w)
    uncertain = OwnershipGraph.build(data.draw(widened(w)), [f"n{i}" for i in range(n)])
    for i in range(n):
        truth = integrated(exact, {exact.index[f"n{i}"]})
        me = {uncertain.index[f"n{i}"]}
        low = integrated(uncertain, me, reading=Reading.LOW)
        high = integrated(uncertain, me, reading=Reading.HIGH)
        full = integrated(uncertain, me, reading=Reading.FULL)
        ctl = {r: control_of(uncertain, uncertain.index[f"n{i}"], r) for r in Reading}
        true_ctl = control_of(exact, exact.index[f"n{i}"])
        for j in range(n):
            a, b = exact.index[f"n{j}"], uncertain.index[f"n{j}"]
            assert low[b] <= truth[a] + 1e-9 <= full[b] + 2e-9
            assert low[b] <= high[b] + 1e-9 <= full[b] + 2e-9
            assert full[b] <= 1.0
            got = [ctl[r].commanded.get(b, 0.0) for r in (Reading.LOW, Reading.FULL)]
            assert got[0] - 1e-9 <= true_ctl.commanded.get(a, 0.0) <= got[1] + 1e-9


def test_undisclosed_stake_may_be_what_the_other_holders_leave() -> None:
    graph = OwnershipGraph.build([Holding("meta", "s", 0.49, 0.0), Holding("amazon", "s", None)])
    a, s = graph.index["amazon"], graph.index["s"]
    assert graph.matrix("equity", Reading.LOW)[a, s] == 0.0
    assert graph.matrix("equity", Reading.HIGH)[a, s] == 0.0
    assert graph.matrix("equity", Reading.FULL)[a, s] == pytest.approx(0.51)
    # Votes: meta's stake carries none, so the undisclosed one may carry them all.
    assert graph.matrix("votes", Reading.FULL)[a, s] == pytest.approx(1.0)
    assert graph.uncertain


def test_range_maximum_is_capped_by_the_other_holders_minimum() -> None:
    graph = OwnershipGraph.build([Holding("x", "s", 0.7), Holding("y", "s", Share(0.1, 0.5))])
    y, s = graph.index["y"], graph.index["s"]
    assert graph.matrix("equity", Reading.HIGH)[y, s] == pytest.approx(0.3)
    assert graph.matrix("equity", Reading.LOW)[y, s] == pytest.approx(0.1)


def test_exact_graph_shares_one_matrix_for_every_reading() -> None:
    graph = OwnershipGraph.build([Holding("a", "b", 0.3)])
    assert not graph.uncertain
    assert graph.matrix("equity", Reading.FULL) is graph.matrix("equity", Reading.LOW)
    assert graph.canonical("equity", Reading.FULL) is Reading.LOW


def test_exclusive_minimum_of_one_half_is_a_majority() -> None:
    more = OwnershipGraph.build([Holding("a", "b", Share(0.5, 0.75, exclusive_lower=True))])
    assert more.index["b"] in control_of(more, more.index["a"], Reading.LOW).via
    at_least = OwnershipGraph.build([Holding("a", "b", Share(0.5, 0.75))])
    assert at_least.index["b"] not in control_of(at_least, at_least.index["a"], Reading.LOW).via
    assert at_least.index["b"] in control_of(at_least, at_least.index["a"], Reading.HIGH).via
    # "less than 50%" never blocks under OFAC (50% or more); "at most 50%" may.
    below = OwnershipGraph.build([Holding("a", "b", Share(0.2, 0.5, exclusive_upper=True))])
    assert below.index["b"] not in blocking(below, ["a"], Reading.HIGH).blocked
    upto = OwnershipGraph.build([Holding("a", "b", Share(0.2, 0.5))])
    assert upto.index["b"] in blocking(upto, ["a"], Reading.HIGH).blocked


def test_empty_or_inverted_range_is_a_problem() -> None:
    graph = OwnershipGraph.build(
        [
            Holding("a", "b", Share(0.5, 0.5, exclusive_lower=True)),
            Holding("a", "c", Share(0.6, 0.4)),
        ]
    )
    assert len(graph.problems) == 2
    assert graph.equity.nnz == 0


def test_bounded_walks_bound_a_closed_upper_reading() -> None:
    # The upper reading closes the cycle a <-> b; any feasible matrix below it leaks.
    upper = sp.csr_matrix(np.array([[0.0, 1.0], [1.0, 0.0]]))
    rhs = np.array([0.3, 0.0])
    got = bounded_walks(upper, rhs)
    assert np.all(got <= 1.0)
    feasible = np.array([[0.0, 0.9], [0.6, 0.0]])
    truth = np.linalg.solve(np.eye(2) - feasible.T, rhs)
    assert np.all(truth <= got + 1e-12)


def test_integrated_upper_reading_falls_back_when_the_system_closes() -> None:
    holdings = [
        Holding("c", "a", 0.3),
        Holding("a", "b", Share(0.5, 1.0)),
        Holding("b", "a", Share(0.5, 1.0)),
    ]
    graph = OwnershipGraph.build(holdings)
    c = {graph.index["c"]}
    full = integrated(graph, c, reading=Reading.FULL)
    assert np.all(np.isfinite(full)) and full.max() <= 1.0
    low = integrated(graph, c, reading=Reading.LOW)
    assert low[graph.index["b"]] <= full[graph.index["b"]]


# ---- weakest link ---------------------------------------------------------------------


@st.composite
def parallel_chains(draw: st.DrawFn) -> tuple[list[Holding], float]:
    """Chains c -> ... -> v with no holding in common, and the sum of their weakest links."""
    count = draw(st.integers(1, 4))
    last = [draw(st.integers(1, 100)) for _ in range(count)]
    scale = min(1.0, 0.95 / (sum(last) / 100))
    holdings = []
    expected = 0.0
    for k in range(count):
        hops = draw(st.integers(0, 3))
        nodes = ["c", *(f"m{k}_{h}" for h in range(hops)), "v"]
        fractions = [draw(st.integers(1, 100)) / 100 for _ in range(hops)]
        fractions.append(last[k] / 100 * scale)
        for (a, b), x in zip(itertools.pairwise(nodes), fractions, strict=True):
            holdings.append(Holding(a, b, x))
        expected += min(fractions)
    return holdings, expected


@settings(max_examples=100, deadline=None)
@given(parallel_chains())
def test_weakest_link_sums_the_weakest_link_of_each_chain(case: tuple[list, float]) -> None:
    holdings, expected = case
    graph = OwnershipGraph.build(holdings)
    assert link(graph, "c", "v") == pytest.approx(expected, abs=1e-7)


def test_chains_sharing_a_holding_share_its_size() -> None:
    graph = OwnershipGraph.build(
        [
            Holding("a", "b", 0.4),
            Holding("b", "c", 0.5),
            Holding("b", "d", 0.5),
            Holding("c", "e", 0.5),
            Holding("d", "e", 0.5),
        ]
    )
    # Two chains with weakest link 0.4 each, both through a's 40% of b: 0.4, not 0.8.
    assert link(graph, "a", "e") == pytest.approx(0.4)


# ---- voting power (Banzhaf) -----------------------------------------------------------


def brute_force_banzhaf(weight: int, others: list[int], units: int) -> float:
    decisive = 0
    for mask in range(2 ** len(others)):
        total = sum(x for k, x in enumerate(others) if mask >> k & 1)
        if total * 2 <= units < (total + weight) * 2:
            decisive += 1
    return decisive / 2 ** len(others)


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 10_000), st.lists(st.integers(0, 6_000), max_size=10))
def test_banzhaf_matches_enumeration(weight: int, others: list[int]) -> None:
    """Shares in units of 1e-4 (two-decimal percentages) are exact at every resolution."""
    expected = brute_force_banzhaf(weight, others, 10_000)
    fractions = [x / 10_000 for x in others]
    assert banzhaf(weight / 10_000, fractions) == pytest.approx(expected, abs=1e-12)
    assert banzhaf(weight / 10_000, fractions, units=10_000) == pytest.approx(expected, abs=1e-12)


def test_banzhaf_known_games() -> None:
    assert banzhaf(0.3, [0.4]) == 0.5
    assert banzhaf(0.3, [0.3, 0.3]) == 0.5
    assert banzhaf(0.5, []) == 0.0  # exactly half never wins
    assert banzhaf(0.51, [0.2, 0.2]) == 1.0
    assert banzhaf(0.0, [0.4]) == 0.0


def test_banzhaf_for_thousands_of_holders_is_exact_and_fast() -> None:
    import math
    import time

    # 1999 others of 0.05% each and the holder's 0.05%: decisive iff exactly 1000 others join.
    started = time.perf_counter()
    got = banzhaf(0.0005, [0.0005] * 1999)
    took = time.perf_counter() - started
    expected = math.comb(1999, 1000) / 2**1999
    assert got == pytest.approx(expected, rel=1e-9)
    assert took < 2.0
