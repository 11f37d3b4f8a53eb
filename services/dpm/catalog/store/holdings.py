"""Reading and writing ``holdings`` (periods of holder -> held edges) and ``ties``."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from dpm.catalog.store.models import HoldingRow, TieRow


class HoldingRepository:
    def __init__(self, session: Session) -> None:
        self._session = session

    def current(self, holder: str, held: str) -> HoldingRow | None:
        """The open period (``valid_to`` null) of the edge holder -> held, if any."""
        query = select(HoldingRow).where(
            HoldingRow.holder == holder, HoldingRow.held == held, HoldingRow.valid_to.is_(None)
        )
        return self._session.scalars(query).first()

    def current_holders_of(self, held: str) -> list[HoldingRow]:
        """Every open period into ``held``."""
        query = select(HoldingRow).where(HoldingRow.held == held, HoldingRow.valid_to.is_(None))
        return list(self._session.scalars(query))

    def add(self, row: HoldingRow) -> None:
        self._session.add(row)

    def close(self, row: HoldingRow, on: dt.date) -> None:
        """End the period of ``row`` on ``on`` (exclusive)."""
        row.valid_to = on

    def save(self) -> None:
        self._session.flush()

    def current_totals(self, held: str) -> tuple[float, float]:
        """Sum of equity and of votes over the open periods into ``held``."""
        equity, voting = self._session.execute(
            select(
                func.coalesce(func.sum(HoldingRow.equity), 0.0),
                func.coalesce(func.sum(HoldingRow.voting), 0.0),
            ).where(HoldingRow.held == held, HoldingRow.valid_to.is_(None))
        ).one()
        return float(equity or 0.0), float(voting or 0.0)

    def as_of(self, day: dt.date) -> list[HoldingRow]:
        """Periods in effect on ``day`` ([valid_from, valid_to)), by holder then held."""
        query = (
            select(HoldingRow)
            .where(
                HoldingRow.valid_from <= day,
                or_(HoldingRow.valid_to.is_(None), HoldingRow.valid_to > day),
            )
            .order_by(HoldingRow.holder, HoldingRow.held)
        )
        return list(self._session.scalars(query))


class TieRepository:
    def __init__(self, session: Session) -> None:
        self._session = session

    def add(self, row: TieRow) -> None:
        self._session.add(row)

    def as_of(self, day: dt.date) -> list[TieRow]:
        """Ties dated on or before ``day``, oldest first."""
        query = (
            select(TieRow)
            .where(TieRow.effective_date <= day)
            .order_by(TieRow.effective_date, TieRow.id)
        )
        return list(self._session.scalars(query))
