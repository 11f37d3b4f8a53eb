"""Several competitors in one sweep, and kept up to date event by event, against simple oracles.

The oracles: ``exposure.integrated`` solved per competitor (the definition the
vectors pin down) and the dense inverse (I - W)^-1 recomputed after each change.
"""

from __future__ import annotations

import datetime as dt
import itertools

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from dpm.neutrality import assess as assess_module
from dpm.neutrality.exposure import integrated, look_through_many, look_through_together
from dpm.neutrality.graph import GraphError, Holding, OwnershipGraph, Reading, Share
from dpm.neutrality.verdict import Policy
from dpm.neutrality.walks import NoLevels, WalkLevels, WalkRows


@st.composite
def cyclic_graphs(draw: st.DrawFn, max_nodes: int = 7) -> np.ndarray:
    """Leaky graphs, cycles allowed (and so cycles through any competitor); now and then a
    column over-allocated, so that some systems have no usable solution."""
    n = draw(st.integers(2, max_nodes))
    w = np.zeros((n, n))
    for i, j in itertools.product(range(n), range(n)):
        if i != j and draw(st.integers(0, 2)) == 0:
            w[i, j] = draw(st.floats(0.01, 1.0))
    sums = w.sum(axis=0)
    cap = draw(st.sampled_from([0.3, 0.9, 0.99, 1.0, 1.4]))
    scale = np.where(sums > cap, cap / np.maximum(sums, 1e-300), 1.0)
    return w * scale


def graph_of(w: np.ndarray) -> OwnershipGraph:
    n = w.shape[0]
    holdings = [
        Holding(f"n{i}", f"n{j}", float(w[i, j]))
        for i, j in itertools.product(range(n), range(n))
        if w[i, j] > 0
    ]
    return OwnershipGraph.build(holdings, [f"n{i}" for i in range(n)])


def one_by_one(graph: OwnershipGraph, competitors: list[int]) -> dict[int, np.ndarray | str]:
    out: dict[int, np.ndarray | str] = {}
    for c in competitors:
        try:
            out[c] = integrated(graph, {c})
        except GraphError as exc:
            out[c] = str(exc)
    return out


@settings(max_examples=300, deadline=None)
@given(cyclic_graphs(), st.data())
def test_many_competitors_at_once_match_each_solved_alone(
    w: np.ndarray, data: st.DataObject
) -> None:
    n = w.shape[0]
    graph = graph_of(w)
    competitors = data.draw(st.lists(st.integers(0, n - 1), min_size=1, max_size=n, unique=True))
    ids = [graph.index[f"n{c}"] for c in competitors]
    expected = one_by_one(graph, ids)
    together = look_through_together(graph, ids)
    for c, figures in together.items():
        want = expected[c]
        assert not isinstance(want, str), "the sweep answered where the definition fails"
        np.testing.assert_allclose(figures, want, atol=1e-9)
    # And with the fallback, exactly what integrated gives or raises.
    if all(not isinstance(v, str) for v in expected.values()):
        got = look_through_many(graph, ids)
        for c in ids:
            np.testing.assert_allclose(got[c], expected[c], atol=1e-9)
    else:
        with pytest.raises(GraphError):
            look_through_many(graph, ids)


def test_a_cycle_through_the_competitor_is_divided_out() -> None:
    # c -> a -> c: the walks from c that come back to c are not c's interest in a.
    graph = OwnershipGraph.build(
        [Holding("c", "a", 0.5), Holding("a", "c", 0.4), Holding("a", "v", 0.6)],
        ["c", "a", "v", "d"],
    )
    c, d = graph.index["c"], graph.index["d"]
    got = look_through_many(graph, [c, d])
    assert got[c][graph.index["a"]] == pytest.approx(0.5)
    assert got[c][graph.index["v"]] == pytest.approx(0.3)
    # Walks back to c itself: 0.5 * 0.4.
    assert got[c][c] == pytest.approx(0.2)
    assert not got[d].any()


def test_upper_reading_that_closes_a_cycle_falls_back_to_the_bound() -> None:
    holdings = [
        Holding("c", "a", 0.3),
        Holding("a", "b", Share(0.5, 1.0)),
        Holding("b", "a", Share(0.5, 1.0)),
        Holding("d", "b", 0.1),
    ]
    graph = OwnershipGraph.build(holdings)
    ids = [graph.index["c"], graph.index["d"]]
    got = look_through_many(graph, ids, reading=Reading.FULL)
    for c in ids:
        np.testing.assert_allclose(got[c], integrated(graph, {c}, reading=Reading.FULL))
    low = look_through_many(graph, ids, reading=Reading.LOW)
    for c in ids:
        np.testing.assert_allclose(low[c], integrated(graph, {c}), atol=1e-12)


def test_a_giant_cycle_is_solved_per_competitor() -> None:
    n = 2100
    ring = [Holding(f"r{k}", f"r{(k + 1) % n}", 0.5) for k in range(n)]
    graph = OwnershipGraph.build([*ring, Holding("c", "r0", 0.4), Holding("d", "r5", 0.2)])
    ids = [graph.index["c"], graph.index["d"]]
    assert look_through_together(graph, ids) == {}
    got = look_through_many(graph, ids)
    for c in ids:
        np.testing.assert_allclose(got[c], integrated(graph, {c}), atol=1e-12)


# ---- the level structure and the updates ----------------------------------------------


@settings(max_examples=200, deadline=None)
@given(cyclic_graphs(), st.data())
def test_levels_give_the_rows_of_the_inverse(w: np.ndarray, data: st.DataObject) -> None:
    n = w.shape[0]
    inverse = np.linalg.inv(np.eye(n) - w)
    try:
        levels = WalkLevels.of(sp.csr_matrix(w))
    except NoLevels:
        return
    if not np.all(np.isfinite(inverse)) or np.abs(inverse).max() > 1e6:
        return
    holders = data.draw(st.lists(st.integers(0, n - 1), min_size=1, max_size=n, unique=True))
    np.testing.assert_allclose(levels.rows(np.array(holders)).T, inverse[holders], atol=1e-8)
    for j in range(n):
        nodes, values = levels.row(j)
        row = np.zeros(n)
        row[nodes] = values
        np.testing.assert_allclose(row, inverse[j], atol=1e-8)


@st.composite
def change_sequences(draw: st.DrawFn) -> tuple[np.ndarray, list[tuple[int, int, float]]]:
    n = draw(st.integers(2, 7))
    w = np.zeros((n, n))
    for i, j in itertools.product(range(n), range(n)):
        if i != j and draw(st.integers(0, 2)) == 0:
            w[i, j] = draw(st.floats(0.01, 0.3))
    changes = []
    for _ in range(draw(st.integers(1, 8))):
        i, j = draw(st.lists(st.integers(0, n - 1), min_size=2, max_size=2, unique=True))
        fraction = draw(st.sampled_from([0.0, 0.05, 0.2, 0.3]))
        changes.append((i, j, fraction))
    return w, changes


@settings(max_examples=200, deadline=None)
@given(change_sequences(), st.data())
def test_changes_match_a_full_recompute(
    case: tuple[np.ndarray, list[tuple[int, int, float]]], data: st.DataObject
) -> None:
    w, changes = case
    n = w.shape[0]
    holders = data.draw(st.lists(st.integers(0, n - 1), min_size=1, max_size=n, unique=True))
    rows = WalkRows.solve(sp.csr_matrix(w), holders)
    for i, j, fraction in changes:
        # Stakes of at most 0.3, at most 6 holders: every column stays below 1 (leaky).
        w[i, j] = fraction
        rows.change(i, j, fraction)
        inverse = np.linalg.inv(np.eye(n) - w)
        np.testing.assert_allclose(rows.rows.T, inverse[holders], atol=1e-9)
        for t, c in enumerate(holders):
            expected = inverse[c] / inverse[c, c]
            expected[c] = 1.0 - 1.0 / inverse[c, c]
            np.testing.assert_allclose(rows.figures(t), expected, atol=1e-9)
            assert rows.figure(t, (c + 1) % n) == pytest.approx(expected[(c + 1) % n], abs=1e-9)
    np.testing.assert_allclose(rows.matrix().toarray(), w)


def test_a_change_that_closes_a_cycle_is_refused() -> None:
    w = np.array([[0.0, 1.0], [0.5, 0.0]])
    rows = WalkRows.solve(sp.csr_matrix(w), [0])
    before = rows.rows.copy()
    with pytest.raises(NoLevels):
        rows.change(1, 0, 1.0)
    assert rows.fraction(1, 0) == 0.5
    np.testing.assert_array_equal(rows.rows, before)


def test_many_changes_restart_from_a_fresh_structure() -> None:
    rng = np.random.default_rng(3)
    n = 12
    w = np.triu(rng.random((n, n)) * 0.15, 1)
    rows = WalkRows.solve(sp.csr_matrix(w), [0, 1])
    for _ in range(150):
        i, j = rng.choice(n, size=2, replace=False)
        fraction = float(rng.random() * 0.08)
        w[i, j] = fraction
        rows.change(int(i), int(j), fraction)
    inverse = np.linalg.inv(np.eye(n) - w)
    np.testing.assert_allclose(rows.rows.T, inverse[[0, 1]], atol=1e-9)


# ---- the graph build and assess ---------------------------------------------------------


def test_build_reads_any_iterable_and_keeps_bad_facts_apart() -> None:
    holdings = [
        Holding("a", "b", 0.4, board_seats=1),
        Holding("a", "b", 0.1),
        Holding("b", "c", "0.5"),  # type: ignore[arg-type]
        Holding("c", "c", 0.2, board_seats=2),
        Holding("c", "d", 1.5, board_seats=3),
        Holding("d", "e", Share(0.2, 0.6)),
        Holding("e", "f", None, votes=0.3),
    ]
    listed = OwnershipGraph.build(holdings)
    streamed = OwnershipGraph.build(iter(holdings))
    for graph in (listed, streamed):
        assert graph.nodes == ["a", "b", "c", "d", "e", "f"]
        assert graph.equity[0, 1] == pytest.approx(0.5)
        assert graph.equity[1, 2] == 0.5
        assert graph.board_seats == {("a", "b"): 1, ("c", "c"): 2}
        assert [p.organizations for p in graph.problems] == [("c", "d")]
        assert graph.matrix("equity", Reading.HIGH)[3, 4] == pytest.approx(0.6)
        assert graph.undisclosed_equity == [(4, 5)]
        assert graph.votes[4, 5] == pytest.approx(0.3)
        assert len(graph.holdings_between(0, 1)) == 2


def test_assess_solves_the_competitors_together_with_the_same_figures() -> None:
    holdings = [
        Holding("meta", "scale", 0.49),
        Holding("scale", "meta", 0.05),
        Holding("google", "fund", 0.3),
        Holding("fund", "scale", 0.2),
        Holding("fund", "vendor", 0.6),
        Holding("scale", "vendor", 0.3),
    ]
    policy = Policy(("meta", "google", "openai"))
    together = OwnershipGraph.build(holdings)
    alone = OwnershipGraph.build(holdings)
    for c in ("meta", "google"):
        for kind in ("equity", "votes"):
            assess_module.look_through(alone, alone.index[c], kind, Reading.LOW)
    day = dt.date(2025, 7, 1)
    got = assess_module.assess(together, "vendor", policy, day)
    want = assess_module.assess(alone, "vendor", policy, day)
    assert ("walk-levels", "equity", Reading.LOW) in together.memo
    assert got.verdict == want.verdict and got.score == pytest.approx(want.score)
    for a, b in zip(got.exposures, want.exposures, strict=True):
        assert a.look_through_equity.value == pytest.approx(b.look_through_equity.value)
        assert a.look_through_votes.value == pytest.approx(b.look_through_votes.value)
