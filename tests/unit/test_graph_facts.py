"""A held graph changed by a delta has its holdings in the order a whole export gives
(the order float sums run in): insertion for small deltas, one sort for large ones; and
when the graph was built, its columns patched as a build from scratch would read them."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from dpm.neutrality import convert
from dpm.neutrality.convert import GraphFacts
from dpm.neutrality.graph import HoldingColumns
from dpm.ownership.v1 import ownership_pb2

ORGS = [f"org-{i}" for i in range(4)]  # few: repeated pairs are common
holding = st.tuples(
    st.sampled_from(ORGS), st.sampled_from(ORGS), st.floats(0.0, 1.0, allow_nan=False)
)


def _message(holder: str, held: str, equity: float) -> ownership_pb2.Holding:
    return ownership_pb2.Holding(
        holder=f"organizations/{holder}", held=f"organizations/{held}", equity_fraction=equity
    )


@settings(max_examples=200)
@given(
    held=st.lists(holding, max_size=60),
    delta=st.lists(holding, max_size=40),
    changed=st.sets(st.sampled_from(ORGS), max_size=4),
    inserted_max=st.sampled_from([0, 5, 256]),
    deleted_max=st.sampled_from([0, 1024]),
    built=st.booleans(),
    given=st.sampled_from([ORGS, ORGS[:3]]),  # org-3 in holdings but not given: no patching
)
def test_a_changed_copy_has_the_order_of_a_whole_export(
    held: list[tuple[str, str, float]],
    delta: list[tuple[str, str, float]],
    changed: set[str],
    inserted_max: int,
    deleted_max: int,
    built: bool,
    given: list[str],
) -> None:
    # Duplicate (holder, held) pairs included: their relative order is what is checked.
    base = convert.facts_from_proto(
        ownership_pb2.OwnershipGraph(
            organizations=[f"organizations/{o}" for o in given],
            holdings=[_message(*h) for h in held],
        )
    )
    if built:
        base.build()
    message = ownership_pb2.OwnershipGraph(
        changed_organizations=[f"organizations/{o}" for o in sorted(changed)],
        holdings=[_message(*h) for h in delta if h[1] in changed],
    )
    saved = convert.INSERTED_MAX, convert.DELETED_MAX
    convert.INSERTED_MAX, convert.DELETED_MAX = inserted_max, deleted_max
    try:
        changed_copy = base.changed_by(message)
    finally:
        convert.INSERTED_MAX, convert.DELETED_MAX = saved
    kept = [h for h in base.holdings if h.held not in changed]
    expected = GraphFacts(
        convert._sorted([*kept, *convert._holdings(message.holdings)]), base.nodes, base.ties
    )
    assert changed_copy == expected
    if changed_copy.columns is not None:  # patched: as read from scratch, and built alike
        fresh = HoldingColumns.of(expected.holdings, expected.nodes, expected.ties)
        patched = changed_copy.columns
        assert (patched.names, patched.index, patched.given) == (
            fresh.names,
            fresh.index,
            fresh.given,
        )
        for column in ("rows", "cols", "equity", "votes", "seats"):
            np.testing.assert_array_equal(getattr(patched, column), getattr(fresh, column))
        ours, theirs = changed_copy.build(), expected.build()
        assert ours.nodes == theirs.nodes and ours.holdings == theirs.holdings
        for key, matrix in theirs.readings.items():
            assert (ours.readings[key] != matrix).nnz == 0, key
    # Patched whenever it can be: built, few enough new holdings, every end of every
    # holding (old and new) a given node.
    ends = {o for h in [*held, *delta] if h[1] in changed or h in held for o in h[:2]}
    patchable = built and len(message.holdings) <= inserted_max and ends <= set(given)
    assert patchable == (changed_copy.columns is not None)
