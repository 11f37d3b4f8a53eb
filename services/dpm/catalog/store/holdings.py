"""Reading and writing ``holdings`` (periods of holder -> held edges) and ``ties``.

"Known" rows are the ledger's current knowledge (``recorded_to`` null); a read
"as known at" sequence number k takes the rows recorded over a period holding k.

What a recorded event reads comes back as plain rows (``Holding``), not ORM
objects: loading an object costs more than the query that found it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterator
from typing import Any, Protocol, cast

from sqlalchemy import ColumnElement, Row, Select, Table, bindparam, insert, or_, select, update
from sqlalchemy.orm import Session

from dpm.catalog.store.models import HoldingRow, TieRow

# Ids per IN (...) list.
CHUNK = 500

_HOLDINGS = HoldingRow.__table__
assert isinstance(_HOLDINGS, Table)
# The columns an insert sets (the id comes from the database).
_INSERTED = [c.key for c in _HOLDINGS.columns if c.key != "id"]


class Holding(Protocol):
    """A ``holdings`` row as read: a ``HoldingRow`` or a plain row with its columns."""

    @property
    def id(self) -> int: ...
    @property
    def holder(self) -> str: ...
    @property
    def held(self) -> str: ...
    @property
    def equity(self) -> float | None: ...
    @property
    def voting(self) -> float | None: ...
    @property
    def equity_range(self) -> dict[str, Any] | None: ...
    @property
    def voting_range(self) -> dict[str, Any] | None: ...
    @property
    def equity_low(self) -> float: ...
    @property
    def voting_low(self) -> float: ...
    @property
    def board_seats(self) -> int: ...
    @property
    def valid_from(self) -> dt.date: ...
    @property
    def valid_to(self) -> dt.date | None: ...
    @property
    def source_url(self) -> str: ...
    @property
    def event_id(self) -> str: ...
    @property
    def provenance(self) -> dict[str, Any] | None: ...


# Statements run for every recorded event, built once.
_INSERT = insert(_HOLDINGS)
_RETIRE = (
    update(_HOLDINGS)
    .where(_HOLDINGS.c.id.in_(bindparam("ids", expanding=True)))
    .values(recorded_to=bindparam("seq"))
)
_KNOWN_INTO = select(*_HOLDINGS.c).where(
    _HOLDINGS.c.held == bindparam("held"), _HOLDINGS.c.recorded_to.is_(None)
)
_KNOWN_INTO_FROM = _KNOWN_INTO.where(_HOLDINGS.c.holder.in_(bindparam("holders", expanding=True)))
_HOLDERS_FROM = select(HoldingRow.holder).where(
    HoldingRow.held == bindparam("held"),
    HoldingRow.recorded_to.is_(None),
    or_(HoldingRow.valid_to.is_(None), HoldingRow.valid_to >= bindparam("day")),
)
_KNOWN_AMONG = {
    axis: select(*_HOLDINGS.c).where(
        _HOLDINGS.c.held.in_(bindparam("members", expanding=True)),
        _HOLDINGS.c.recorded_to.is_(None),
        low > 0,
        or_(_HOLDINGS.c.valid_to.is_(None), _HOLDINGS.c.valid_to > bindparam("since")),
    )
    for axis, low in (("equity", _HOLDINGS.c.equity_low), ("voting", _HOLDINGS.c.voting_low))
}


def _chunks(ids: Collection[str]) -> Iterator[list[str]]:
    items = sorted(ids)
    for start in range(0, len(items), CHUNK):
        yield items[start : start + CHUNK]


def _known_at(query: Select[Any], model: type[HoldingRow] | type[TieRow], seq: int | None) -> Any:
    if seq is None:
        return query.where(model.recorded_to.is_(None))
    return query.where(
        model.recorded_from <= seq, or_(model.recorded_to.is_(None), model.recorded_to > seq)
    )


def _in_force(day: dt.date) -> list[ColumnElement[bool]]:
    """A holding's period covers ``day`` ([valid_from, valid_to))."""
    return [
        HoldingRow.valid_from <= day,
        or_(HoldingRow.valid_to.is_(None), HoldingRow.valid_to > day),
    ]


class HoldingRepository:
    def __init__(self, session: Session) -> None:
        self._session = session

    def known_into(self, held: str, holders: Collection[str] | None = None) -> list[Holding]:
        """The known periods into ``held`` (only from ``holders`` when given), oldest first."""
        rows: list[Holding] = []
        if holders is None:
            rows += self._rows(_KNOWN_INTO, {"held": held})
        else:
            for chunk in _chunks(holders):
                rows += self._rows(_KNOWN_INTO_FROM, {"held": held, "holders": chunk})
        return sorted(rows, key=lambda r: r.valid_from)

    def holders_from(self, held: str, day: dt.date) -> set[str]:
        """Holders with a known period into ``held`` that lasts until ``day`` or later."""
        return set(self._session.scalars(_HOLDERS_FROM, {"held": held, "day": day}))

    def known_among(self, members: Collection[str], axis: str, since: dt.date) -> list[Holding]:
        """Known periods between ``members`` carrying some of ``axis`` ("equity" or "voting")
        and lasting after ``since``."""
        inside = set(members)
        rows: list[Holding] = []
        for chunk in _chunks(inside):
            params = {"members": chunk, "since": since}
            rows += (r for r in self._rows(_KNOWN_AMONG[axis], params) if r.holder in inside)
        return rows

    def _rows(self, query: Select[Any], params: dict[str, Any]) -> list[Holding]:
        return cast(list[Holding], self._session.execute(query, params).all())

    def write(self, retired: Collection[Holding], added: Collection[HoldingRow], seq: int) -> None:
        """``retired`` stop being current knowledge from ledger seq ``seq`` on; ``added`` are
        inserted. Written at once (one statement each), not through the session's flush:
        ``added`` are not attached."""
        if retired:
            ids = [row.id for row in retired]
            for chunk in range(0, len(ids), CHUNK):
                self._session.execute(_RETIRE, {"ids": ids[chunk : chunk + CHUNK], "seq": seq})
        if added:
            rows = [{key: getattr(row, key) for key in _INSERTED} for row in added]
            self._session.execute(_INSERT, rows)

    def as_of(self, day: dt.date, known_at: int | None = None) -> list[Row[Any]]:
        """Periods in effect on ``day`` ([valid_from, valid_to)), by holder then held, as known
        now or at ledger seq ``known_at``: plain rows with the ``HoldingRow`` columns (a
        whole register is exported this way; ORM objects cost as much again)."""
        query = _known_at(select(*_HOLDINGS.c).where(*_in_force(day)), HoldingRow, known_at)
        return list(self._session.execute(query.order_by(HoldingRow.holder, HoldingRow.held)))

    def known_as_of_held(self, day: dt.date, held: Collection[str]) -> list[HoldingRow]:
        """``as_of`` (as known now), only the holdings in ``held`` organizations."""
        ids = sorted(set(held))
        found: list[HoldingRow] = []
        for start in range(0, len(ids), CHUNK):
            query = select(HoldingRow).where(
                HoldingRow.held.in_(ids[start : start + CHUNK]), *_in_force(day)
            )
            found.extend(self._session.scalars(_known_at(query, HoldingRow, None)))
        return sorted(found, key=lambda row: (row.holder, row.held))


class TieRepository:
    def __init__(self, session: Session) -> None:
        self._session = session

    def add(self, row: TieRow) -> None:
        self._session.add(row)

    def known_of_event(self, event_id: str) -> list[TieRow]:
        """The known ties event ``event_id`` recorded."""
        query = select(TieRow).where(TieRow.event_id == event_id, TieRow.recorded_to.is_(None))
        return list(self._session.scalars(query))

    def retire(self, row: TieRow, seq: int) -> None:
        row.recorded_to = seq

    def changed_between(self, after: int, upto: int) -> bool:
        """Whether the ledger recorded or retired any tie at a seq in (after, upto]."""
        query = select(TieRow.id).where(
            or_(
                TieRow.recorded_from.between(after + 1, upto),
                TieRow.recorded_to.between(after + 1, upto),
            )
        )
        return self._session.scalars(query.limit(1)).first() is not None

    def as_of(self, day: dt.date, known_at: int | None = None) -> list[TieRow]:
        """Ties dated on or before ``day``, oldest first, as known now or at seq ``known_at``."""
        query = _known_at(select(TieRow).where(TieRow.effective_date <= day), TieRow, known_at)
        return list(self._session.scalars(query.order_by(TieRow.effective_date, TieRow.id)))
