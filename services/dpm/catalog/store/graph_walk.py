"""Walks over the known holdings (``recorded_to`` null) of any date from ``since`` on.

A walk follows every edge in effect at some date on or after ``since``: the
organizations that hold (or are held by) a node on some such date, directly
or through chains. Each walk is one recursive query (``WITH RECURSIVE``, on
SQLite and PostgreSQL alike): ``UNION`` drops the organizations already
found, so cycles end. Roots go in ``IN (...)`` lists of at most ``CHUNK`` ids
(one query per chunk); the statements are built once.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, bindparam, or_, select
from sqlalchemy.orm import Session, aliased

from dpm.catalog.store.models import HoldingRow

# Ids per IN (...) list.
CHUNK = 500


def _in_effect(row: Any, axis: str) -> list[ColumnElement[bool]]:
    """A known edge lasting after ``since`` and carrying some of ``axis`` (any when "")."""
    where = [
        row.recorded_to.is_(None),
        or_(row.valid_to.is_(None), row.valid_to > bindparam("since")),
    ]
    if axis == "equity":
        where.append(row.equity_low > 0)
    elif axis == "voting":
        where.append(row.voting_low > 0)
    return where


def _walk_query(upward: bool, axis: str) -> Select[Any]:
    """Every organization reachable from the roots in one step or more."""
    first = aliased(HoldingRow)
    start, found = (first.held, first.holder) if upward else (first.holder, first.held)
    reached = (
        select(found.label("id"))
        .where(start.in_(bindparam("roots", expanding=True)), *_in_effect(first, axis))
        .cte("reached", recursive=True)
    )
    step = aliased(HoldingRow)
    start, found = (step.held, step.holder) if upward else (step.holder, step.held)
    # An outer join: SQLite (3.40) plans the inner join with a Bloom filter over the
    # whole table, built again for every row the walk reaches once the table has
    # statistics (ANALYZE). A row that reaches nothing adds one NULL, dropped below.
    reached = reached.union(
        select(found)
        .select_from(reached)
        .outerjoin(step, and_(start == reached.c.id, *_in_effect(step, axis)))
    )
    return select(reached.c.id).where(reached.c.id.is_not(None))


_WALKS = {
    (upward, axis): _walk_query(upward, axis)
    for upward in (True, False)
    for axis in ("", "equity", "voting")
}


class GraphWalk:
    def __init__(self, session: Session) -> None:
        self._session = session

    def ancestors(self, node: str, since: dt.date, *, axis: str = "") -> set[str]:
        """Everything that holds ``node``, directly or through chains (``node`` itself only
        when it holds itself through a cycle).

        ``axis`` "equity" or "voting" follows only edges carrying some of it.
        """
        return self._walk([node], since, upward=True, axis=axis)

    def descendants(self, node: str, since: dt.date, *, axis: str = "") -> set[str]:
        """Everything ``node`` holds, directly or through chains."""
        return self._walk([node], since, upward=False, axis=axis)

    def ancestors_of(self, roots: Iterable[str], since: dt.date) -> set[str]:
        """The roots and everything that holds them, directly or through chains."""
        start = set(roots)
        return start | self._walk(start, since, upward=True, axis="")

    def _walk(self, roots: Iterable[str], since: dt.date, *, upward: bool, axis: str) -> set[str]:
        ids = sorted(set(roots))
        query = _WALKS[(upward, axis)]
        seen: set[str] = set()
        for start in range(0, len(ids), CHUNK):
            params = {"roots": ids[start : start + CHUNK], "since": since}
            seen.update(self._session.scalars(query, params))
        return seen
