"""Reading and writing ``vendor_profiles`` rows."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from dpm.catalog.store.models import OrganizationRow, VendorProfileRow


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

    def display_name(self, org_id: str) -> str:
        org = self._session.get(OrganizationRow, org_id)
        return org.display_name if org is not None else ""

    def page(self, after: str | None, limit: int) -> list[tuple[VendorProfileRow, str]]:
        """Rows in organization id order after ``after``, each with its organization's
        display name."""
        query = (
            select(VendorProfileRow, OrganizationRow.display_name)
            .join(OrganizationRow, OrganizationRow.id == VendorProfileRow.organization_id)
            .order_by(VendorProfileRow.organization_id)
            .limit(limit)
        )
        if after is not None:
            query = query.where(VendorProfileRow.organization_id > after)
        return [(row, name) for row, name in self._session.execute(query)]
