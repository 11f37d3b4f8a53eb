"""Reading and writing the ledger: ``ownership_events`` and which organizations each touches."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dpm.catalog.store.models import EventOrganizationRow, OwnershipEventRow


class LedgerRepository:
    def __init__(self, session: Session) -> None:
        self._session = session

    def by_event_id(self, event_id: str) -> OwnershipEventRow | None:
        query = select(OwnershipEventRow).where(OwnershipEventRow.event_id == event_id)
        return self._session.scalars(query).first()

    def latest_seq(self) -> int:
        """The sequence number of the newest event (the graph version); 0 when empty."""
        query = select(func.coalesce(func.max(OwnershipEventRow.seq), 0))
        return int(self._session.scalar(query) or 0)

    def append(self, row: OwnershipEventRow, organization_ids: Iterable[str]) -> None:
        """Write the event and the organizations it touches."""
        self._session.add(row)
        self._session.flush()
        for org_id in organization_ids:
            self._session.add(EventOrganizationRow(seq=row.seq, organization_id=org_id))
        self._session.flush()

    def page(
        self, organization_id: str | None, after: int | None, limit: int
    ) -> list[OwnershipEventRow]:
        """Events in ledger order after ``after``; only those touching one organization if given."""
        query = select(OwnershipEventRow).order_by(OwnershipEventRow.seq).limit(limit)
        if organization_id is not None:
            touching = select(EventOrganizationRow.seq).where(
                EventOrganizationRow.organization_id == organization_id
            )
            query = query.where(OwnershipEventRow.seq.in_(touching))
        if after is not None:
            query = query.where(OwnershipEventRow.seq > after)
        return list(self._session.scalars(query))
