"""Walks over the known holdings (``recorded_to`` null) of any date from ``since`` on.

A walk follows every edge in effect at some date on or after ``since``: the
organizations that hold (or are held by) a node on some such date, directly
or through chains. One query per frontier, in chunks that keep ``IN (...)``
lists short; the statements are built once.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Select, bindparam, or_, select
from sqlalchemy.orm import Session

from dpm.catalog.store.models import HoldingRow

# Ids per IN (...) list.
CHUNK = 500


def _step_query(upward: bool, axis: str) -> Select[Any]:
    start, found = (
        (HoldingRow.held, HoldingRow.holder) if upward else (HoldingRow.holder, HoldingRow.held)
    )
    query = select(found).where(
        start.in_(bindparam("frontier", expanding=True)),
        HoldingRow.recorded_to.is_(None),
        or_(HoldingRow.valid_to.is_(None), HoldingRow.valid_to > bindparam("since")),
    )
    if axis == "equity":
        query = query.where(HoldingRow.equity_low > 0)
    elif axis == "voting":
        query = query.where(HoldingRow.voting_low > 0)
    return query


_STEPS = {
    (upward, axis): _step_query(upward, axis)
    for upward in (True, False)
    for axis in ("", "equity", "voting")
}


class GraphWalk:
    def __init__(self, session: Session) -> None:
        self._session = session

    def ancestors(self, node: str, since: dt.date, *, axis: str = "") -> set[str]:
        """Everything that holds ``node``, directly or through chains (not ``node`` itself).

        ``axis`` "equity" or "voting" follows only edges carrying some of it.
        """
        return self._walk([node], since, upward=True, axis=axis)

    def descendants(self, node: str, since: dt.date, *, axis: str = "") -> set[str]:
        """Everything ``node`` holds, directly or through chains (not ``node`` itself)."""
        return self._walk([node], since, upward=False, axis=axis)

    def ancestors_of(self, roots: Iterable[str], since: dt.date) -> set[str]:
        """The roots and everything that holds them, directly or through chains."""
        start = set(roots)
        return start | self._walk(start, since, upward=True, axis="")

    def _walk(self, roots: Iterable[str], since: dt.date, *, upward: bool, axis: str) -> set[str]:
        seen: set[str] = set()
        frontier = set(roots)
        query = _STEPS[(upward, axis)]
        while frontier:
            ids = sorted(frontier)
            found: set[str] = set()
            for start in range(0, len(ids), CHUNK):
                params = {"frontier": ids[start : start + CHUNK], "since": since}
                found.update(self._session.scalars(query, params))
            frontier = found - seen
            seen |= frontier
        return seen
