"""What the ownership graph must satisfy on every date, checked before an event commits.

- The holders of an organization own at most all of its equity and hold at
  most all of its votes (ranges count with their minimum).
- No set of organizations is wholly owned among themselves, on the equity or
  on the votes (a closed cycle: integrated ownership and control are undefined,
  ownership-vectors.json j_closed_cycle_error).

Only what re-derivation changed is checked: the held organizations of the
pairs whose periods changed, on the dates from the first change on. A
refusal names the field, the organizations and the date.
"""

from __future__ import annotations

import datetime as dt
import heapq
import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from dpm.catalog.store.graph_walk import GraphWalk
from dpm.catalog.store.holdings import Holding, HoldingRepository
from dpm.catalog.terms import AXES, EQUITY
from dpm.platform.errors import InvalidArgument
from dpm.platform.names import OrganizationName

EPS = 1e-9


@dataclass(frozen=True)
class Fields:
    """The fields a refusal points at, per axis."""

    equity: str
    voting: str

    def of(self, axis: str) -> str:
        return self.equity if axis == EQUITY else self.voting


@dataclass(frozen=True)
class Touched:
    """A held organization whose incoming holdings changed."""

    held: str
    # the first date on which they changed
    since: dt.date
    # the axes ("equity", "voting") some new holding into it carries
    carried: frozenset[str]


def check(
    holdings: HoldingRepository,
    walk: GraphWalk,
    touched: Iterable[Touched],
    fields: Fields,
) -> None:
    """Refuse (INVALID_ARGUMENT) when the sums or the no-closed-cycle rule fail on some date."""
    for item in sorted(touched, key=lambda t: t.held):
        wholly_held = _check_sums(holdings, item, fields)
        for axis in AXES:
            # Only an organization wholly held on some date can close a cycle then.
            if axis in item.carried and axis in wholly_held:
                _check_closed_cycles(walk, holdings, item, axis, fields)


def _low(row: Holding, axis: str) -> float:
    return row.equity_low if axis == EQUITY else row.voting_low


def _exclusive_low(row: Holding, axis: str) -> bool:
    share = row.equity_range if axis == EQUITY else row.voting_range
    return bool(share and share.get("exclusive_minimum"))


def _check_sums(holdings: HoldingRepository, item: Touched, fields: Fields) -> set[str]:
    """Sums at most 1 on every date from ``item.since``; the axes on which the
    organization is wholly held (by the minimums) on some of those dates."""
    rows = holdings.known_into(item.held)
    wholly_held: set[str] = set()
    for day, active in _sweep(rows, item.since):
        for axis in AXES:
            total = math.fsum(_low(r, axis) for r in active)
            strict = any(_exclusive_low(r, axis) for r in active)
            if total > 1.0 + EPS or (strict and total >= 1.0 - EPS):
                what = "of its equity" if axis == EQUITY else "of its votes"
                # an exclusive minimum: the true total is above the sum of the minimums
                amount = f"{total:.6g}" if total > 1.0 + EPS else f"more than {total:.6g}"
                raise InvalidArgument.one(
                    fields.of(axis),
                    f"the holders of {OrganizationName(item.held)} would hold {amount} {what} "
                    f"in total on {day.isoformat()}, more than 1",
                )
            if total >= 1.0 - EPS:
                wholly_held.add(axis)
    return wholly_held


def _sweep(rows: list[Holding], since: dt.date) -> Iterable[tuple[dt.date, list[Holding]]]:
    """(day, rows in force that day) for ``since`` and every later day on which a row starts."""
    ordered = sorted(rows, key=lambda r: r.valid_from)
    days = sorted({since} | {r.valid_from for r in ordered if r.valid_from > since})
    ends: list[tuple[dt.date, int]] = []  # heap of (valid_to, index)
    active: dict[int, Holding] = {}
    i = 0
    for day in days:
        while i < len(ordered) and ordered[i].valid_from <= day:
            row = ordered[i]
            active[i] = row
            if row.valid_to is not None:
                heapq.heappush(ends, (row.valid_to, i))
            i += 1
        while ends and ends[0][0] <= day:
            active.pop(heapq.heappop(ends)[1], None)
        yield day, list(active.values())


def _check_closed_cycles(
    walk: GraphWalk, holdings: HoldingRepository, item: Touched, axis: str, fields: Fields
) -> None:
    """No closed set contains ``item.held`` on any date from ``item.since`` on.

    A closed set is wholly held by its members, so it lies within the held
    organization and its ancestors; on each date the largest closed subset of
    those is found by dropping members held partly from outside until none is.
    """
    held = item.held
    members = walk.ancestors(held, item.since, axis=axis)
    if not members:
        return
    members.add(held)
    rows = holdings.known_among(members, axis, item.since)
    for day, active in _sweep(rows, item.since):
        closed = _largest_closed_subset(members, active, axis)
        if held in closed:
            names = ", ".join(str(OrganizationName(m)) for m in sorted(closed))
            if axis == EQUITY:
                what = "wholly owned among themselves (a closed ownership cycle"
                what += " with no outside owner)"
            else:
                what = "hold all of each other's votes (a closed voting cycle"
                what += " with no outside vote)"
            raise InvalidArgument.one(
                fields.of(axis), f"would make {names} {what} on {day.isoformat()}"
            )


def _largest_closed_subset(members: set[str], active: list[Holding], axis: str) -> set[str]:
    into: dict[str, list[Holding]] = defaultdict(list)
    for row in active:
        into[row.held].append(row)
    closed = set(members)
    while True:
        outside = {
            m
            for m in closed
            if math.fsum(_low(r, axis) for r in into[m] if r.holder in closed) < 1.0 - EPS
        }
        if not outside:
            return closed
        closed -= outside
