"""Reading and writing ``organizations`` rows."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from dpm.catalog.store.models import OrganizationRow

# Run for every recorded event: ids alone, no row objects.
_EXISTS = select(OrganizationRow.id).where(OrganizationRow.id == bindparam("id"))
_EXISTING = select(OrganizationRow.id).where(
    OrganizationRow.id.in_(bindparam("ids", expanding=True))
)


class OrganizationRepository:
    def __init__(self, session: Session) -> None:
        self._session = session

    def get(self, org_id: str) -> OrganizationRow | None:
        return self._session.get(OrganizationRow, org_id)

    def exists(self, org_id: str) -> bool:
        return self._session.execute(_EXISTS, {"id": org_id}).first() is not None

    def existing(self, org_ids: Collection[str]) -> set[str]:
        """Those of ``org_ids`` that exist (a few ids: one ``IN (...)`` list)."""
        return set(self._session.scalars(_EXISTING, {"ids": sorted(org_ids)}))

    def add(self, row: OrganizationRow) -> None:
        self._session.add(row)
        self._session.flush()

    def save(self) -> None:
        """Write the changes made to loaded rows."""
        self._session.flush()

    def page(self, kind: int, after: str | None, limit: int) -> list[OrganizationRow]:
        """Rows in id order after ``after``; only those of ``kind`` unless it is 0."""
        query = select(OrganizationRow).order_by(OrganizationRow.id).limit(limit)
        if kind:
            query = query.where(OrganizationRow.kind == kind)
        if after is not None:
            query = query.where(OrganizationRow.id > after)
        return list(self._session.scalars(query))

    def ids(self, created_by: dt.datetime | None = None) -> list[str]:
        """Every organization id (only those created by ``created_by`` when given), in order."""
        query = select(OrganizationRow.id).order_by(OrganizationRow.id)
        if created_by is not None:
            query = query.where(OrganizationRow.create_time <= created_by.astimezone(dt.UTC))
        return list(self._session.scalars(query))
