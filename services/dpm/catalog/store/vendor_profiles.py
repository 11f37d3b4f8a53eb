"""Reading and writing ``vendor_profiles`` rows."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from dpm.catalog.store.models import VendorProfileRow


class VendorProfileRepository:
    def __init__(self, session: Session) -> None:
        self._session = session

    def get(self, org_id: str) -> VendorProfileRow | None:
        return self._session.get(VendorProfileRow, org_id)

    def add(self, row: VendorProfileRow) -> None:
        """Stage a new row; it is written with the next ``save``."""
        self._session.add(row)

    def save(self) -> None:
        self._session.flush()

    def page(self, after: str | None, limit: int) -> list[VendorProfileRow]:
        """Rows in organization id order after ``after``."""
        query = select(VendorProfileRow).order_by(VendorProfileRow.organization_id).limit(limit)
        if after is not None:
            query = query.where(VendorProfileRow.organization_id > after)
        return list(self._session.scalars(query))
