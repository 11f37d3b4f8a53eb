"""Walks over the current holdings (``valid_to`` null): ancestors, descendants, cycle support.

One query per frontier, in chunks that keep ``IN (...)`` lists short.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dpm.catalog.store.models import HoldingRow

# Ids per IN (...) list.
CHUNK = 500


class GraphWalk:
    def __init__(self, session: Session) -> None:
        self._session = session

    def ancestors(self, node: str, *, equity_only: bool = False) -> set[str]:
        """Everything that holds ``node``, directly or through chains (not ``node`` itself)."""
        return self._walk([node], upward=True, equity_only=equity_only)

    def descendants(self, node: str, *, equity_only: bool = False) -> set[str]:
        """Everything ``node`` holds, directly or through chains (not ``node`` itself)."""
        return self._walk([node], upward=False, equity_only=equity_only)

    def ancestors_of(self, roots: Iterable[str]) -> set[str]:
        """The roots and everything that holds them, directly or through chains."""
        start = set(roots)
        return start | self._walk(start, upward=True, equity_only=False)

    def equity_held_inside(self, component: set[str]) -> dict[str, float]:
        """For each member of ``component``: the equity in it held by members."""
        members = list(component)
        rows = self._session.execute(
            select(HoldingRow.held, func.sum(HoldingRow.equity))
            .where(
                HoldingRow.held.in_(members),
                HoldingRow.holder.in_(members),
                HoldingRow.valid_to.is_(None),
            )
            .group_by(HoldingRow.held)
        ).all()
        return {held: float(total or 0.0) for held, total in rows}

    def _walk(self, roots: Iterable[str], *, upward: bool, equity_only: bool) -> set[str]:
        seen: set[str] = set()
        frontier = set(roots)
        while frontier:
            found = self._step(frontier, upward=upward, equity_only=equity_only) - seen
            seen |= found
            frontier = found
        return seen

    def _step(self, frontier: Iterable[str], *, upward: bool, equity_only: bool) -> set[str]:
        ids = list(frontier)
        found: set[str] = set()
        for start in range(0, len(ids), CHUNK):
            chunk = ids[start : start + CHUNK]
            if upward:
                query = select(HoldingRow.holder).where(HoldingRow.held.in_(chunk))
            else:
                query = select(HoldingRow.held).where(HoldingRow.holder.in_(chunk))
            query = query.where(HoldingRow.valid_to.is_(None))
            if equity_only:
                query = query.where(HoldingRow.equity > 0)
            found.update(self._session.scalars(query))
        return found
