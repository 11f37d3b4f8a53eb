"""A held graph changed by a delta has its holdings in the order a whole export gives
(the order float sums run in): insertion for small deltas, one sort for large ones."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from dpm.neutrality import convert
from dpm.neutrality.convert import GraphFacts
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
)
def test_a_changed_copy_has_the_order_of_a_whole_export(
    held: list[tuple[str, str, float]],
    delta: list[tuple[str, str, float]],
    changed: set[str],
    inserted_max: int,
) -> None:
    # Duplicate (holder, held) pairs included: their relative order is what is checked.
    base = convert.facts_from_proto(
        ownership_pb2.OwnershipGraph(
            organizations=[f"organizations/{o}" for o in ORGS],
            holdings=[_message(*h) for h in held],
        )
    )
    message = ownership_pb2.OwnershipGraph(
        changed_organizations=[f"organizations/{o}" for o in sorted(changed)],
        holdings=[_message(*h) for h in delta if h[1] in changed],
    )
    convert.INSERTED_MAX, saved = inserted_max, convert.INSERTED_MAX
    try:
        changed_copy = base.changed_by(message)
    finally:
        convert.INSERTED_MAX = saved
    kept = [h for h in base.holdings if h.held not in changed]
    expected = GraphFacts(
        convert._sorted([*kept, *convert._holdings(message.holdings)]), base.nodes, base.ties
    )
    assert changed_copy == expected
