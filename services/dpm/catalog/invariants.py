"""What the ownership graph must satisfy after every event, checked before it commits."""

from __future__ import annotations

from dpm.catalog.event_kinds import Change
from dpm.catalog.store.graph_walk import GraphWalk
from dpm.catalog.store.holdings import HoldingRepository
from dpm.platform.errors import InvalidArgument
from dpm.platform.names import OrganizationName

EPS = 1e-9


def check_sums(holdings: HoldingRepository, change: Change) -> None:
    """The holders of an organization own at most all of its equity and of its votes."""
    for held in sorted(change.sums):
        equity, voting = holdings.current_totals(held.id)
        if equity > 1.0 + EPS:
            raise InvalidArgument.one(
                f"{change.prefix}.equity_fraction",
                f"the holders of {held} would own {equity:.6g} of its equity in total, more than 1",
            )
        if voting > 1.0 + EPS:
            raise InvalidArgument.one(
                f"{change.prefix}.voting_fraction",
                f"the holders of {held} would hold {voting:.6g} of its votes in total, more than 1",
            )


def check_closed_cycles(walk: GraphWalk, change: Change) -> None:
    """Refuse a set of organizations wholly owned among themselves (no outside owner).

    Such a strongly connected component makes (I - W) singular: integrated
    ownership is undefined (ownership-vectors.json, j_closed_cycle_error). Only
    components through a node whose incoming equity grew can be new.
    """
    for node in sorted(change.cycles):
        component = walk.descendants(node.id, equity_only=True) & walk.ancestors(
            node.id, equity_only=True
        )
        component.add(node.id)
        if len(component) < 2:
            continue
        inside = walk.equity_held_inside(component)
        if all(inside.get(member, 0.0) >= 1.0 - EPS for member in component):
            names = ", ".join(str(OrganizationName(m)) for m in sorted(component))
            raise InvalidArgument.one(
                change.cycle_field,
                f"would make {names} wholly owned among themselves (a closed ownership cycle "
                "with no outside owner)",
            )
