"""The catalog's outbox: change events committed with the change they announce."""

from __future__ import annotations

from sqlalchemy.orm import Session

from dpm.catalog.store.models import OutboxRow
from dpm.platform.events import ChangeEvent
from dpm.platform.outbox import add_outbox_row


class OutboxRepository:
    def __init__(self, session: Session) -> None:
        self._session = session

    def add(self, event: ChangeEvent) -> None:
        """Queue ``event`` for the relay; it is published only if the transaction commits."""
        add_outbox_row(self._session, OutboxRow, event)
