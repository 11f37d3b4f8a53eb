"""The one-row counters table: catalog and graph versions, and the writers' lock."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from dpm.catalog.store.models import CountersRow

_LOCK = select(CountersRow).where(CountersRow.id == 1).with_for_update()


class CountersRepository:
    def __init__(self, session: Session) -> None:
        self._session = session
        self._locked: CountersRow | None = None

    def lock(self) -> CountersRow:
        """Lock the counters row for the rest of the transaction.

        Every catalog and ledger write takes this lock first, so writes are
        serialized: invariants checked inside a transaction (equity sums,
        cycles) cannot be broken by a concurrent writer, and versions are dense
        and ordered. SQLite already serializes writers (BEGIN IMMEDIATE); on
        PostgreSQL this is a row lock.
        """
        if self._locked is None:
            self._locked = self._session.scalars(_LOCK).one()
        return self._locked

    def read(self) -> CountersRow:
        return self._session.scalars(select(CountersRow).where(CountersRow.id == 1)).one()

    def next_catalog_version(self) -> int:
        """Lock the row and take the next catalog version."""
        row = self.lock()
        row.catalog_version += 1
        return row.catalog_version

    def next_graph_version(self) -> int:
        """Lock the row and take the next graph version."""
        row = self.lock()
        row.graph_version += 1
        return row.graph_version
