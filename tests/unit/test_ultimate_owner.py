"""The top of a vendor's chain of control, against the majority rule's fixed point."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from dpm.neutrality.control import control_of, ultimate_controller
from dpm.neutrality.graph import Holding, OwnershipGraph


def top(holdings: list[Holding], node: str) -> str:
    graph = OwnershipGraph.build(holdings)
    return graph.nodes[ultimate_controller(graph, graph.index[node])]


def test_a_chain_of_majorities_ends_at_its_top() -> None:
    holdings = [Holding("fund", "parent", 0.8), Holding("parent", "vendor", 0.6)]
    assert top(holdings, "vendor") == "fund"
    assert top(holdings, "parent") == "fund"
    assert top(holdings, "fund") == "fund"


def test_a_large_minority_is_not_an_owner() -> None:
    # Meta's 49% of Scale AI: a conflict for Meta's competitors, but Scale answers to itself.
    assert top([Holding("meta", "scale", 0.49, 0.0)], "scale") == "scale"


def test_control_through_two_controlled_holders() -> None:
    holdings = [
        Holding("group", "a", 0.9),
        Holding("group", "b", 0.9),
        Holding("a", "vendor", 0.3),
        Holding("b", "vendor", 0.3),
        Holding("other", "vendor", 0.4),
    ]
    assert top(holdings, "vendor") == "group"


def test_votes_decide_not_equity() -> None:
    # 70% of the equity as non-voting stock, the votes elsewhere.
    holdings = [Holding("investor", "vendor", 0.7, 0.0), Holding("founder", "vendor", 0.3, 1.0)]
    assert top(holdings, "vendor") == "founder"


def test_cross_holdings_end() -> None:
    holdings = [Holding("a", "b", 0.6), Holding("b", "a", 0.3), Holding("a", "vendor", 0.7)]
    assert top(holdings, "vendor") == "a"


def test_a_long_chain_needs_no_recursion() -> None:
    holdings = [Holding(f"n{i + 1}", f"n{i}", 0.9) for i in range(5000)]
    assert top(holdings, "n0") == "n5000"


@st.composite
def graphs(draw: st.DrawFn) -> list[Holding]:
    n = draw(st.integers(2, 7))
    nodes = [f"o{i}" for i in range(n)]
    pairs = draw(
        st.lists(
            st.tuples(st.sampled_from(nodes), st.sampled_from(nodes)).filter(
                lambda p: p[0] != p[1]
            ),
            unique=True,
            max_size=12,
        )
    )
    holdings: list[Holding] = []
    room = dict.fromkeys(nodes, 1.0)  # each node's votes add up to at most 1
    for holder, held in pairs:
        share = draw(st.sampled_from([0.1, 0.3, 0.5, 0.51, 0.7, 1.0]))
        share = min(share, round(room[held], 6))
        if share > 0:
            room[held] -= share
            holdings.append(Holding(holder, held, share))
    return holdings


@settings(max_examples=300, deadline=None)
@given(graphs())
def test_the_top_controls_and_is_controlled_by_no_one(holdings: list[Holding]) -> None:
    graph = OwnershipGraph.build(holdings)
    controlled = {c: control_of(graph, c).controlled for c in range(len(graph))}
    for j in range(len(graph)):
        owner = ultimate_controller(graph, j)
        controllers = {c for c in range(len(graph)) if j in controlled[c] and c != j}
        if owner == j:
            # No one controls j, or j sits in a ring of control with those who do.
            assert all(c in controlled[j] for c in controllers)
        else:
            assert owner in controllers
            above = {c for c in range(len(graph)) if owner in controlled[c] and c != owner}
            assert all(c in controlled[owner] for c in above)
