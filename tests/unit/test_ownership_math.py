"""Ownership math against the worked vectors and against simple oracles.

Vector fields checked: integrated (and integrated_float), integrated_votes,
controls, commanded_votes, walk_sum_raw, after_update_C>B_to_0.3, the
variant_if_voting_0.49 control figures, the closed-cycle error. Skipped (not
implemented): weakest_link, ofac_if_A_blocked, ultimate_owner_column_sums,
verification; neutrality_for_client_Google is checked in test_verdict.py.
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

from dpm.neutrality.control import commanded_votes, control_of, controls
from dpm.neutrality.exposure import integrated, solve_walks, undisclosed_reach, walk_sum_raw
from dpm.neutrality.graph import ClosedCycleError, GraphError, Holding, OwnershipGraph

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


def test_closed_cycle_is_rejected() -> None:
    v = vector("j_closed_cycle_error")
    with pytest.raises(ClosedCycleError) as caught:
        build(v)
    assert caught.value.scc == sorted(v["expected"]["scc"])
    assert "closed ownership cycle" in str(caught.value)


def test_closed_cycle_in_votes_only_is_rejected() -> None:
    holdings = [Holding("A", "B", 0.5, 1.0), Holding("B", "A", 0.5, 1.0)]
    with pytest.raises(ClosedCycleError) as caught:
        OwnershipGraph.build(holdings)
    assert caught.value.matrix == "votes"


def test_fraction_out_of_range_is_rejected() -> None:
    with pytest.raises(GraphError):
        OwnershipGraph.build([Holding("A", "B", 1.5)])


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
