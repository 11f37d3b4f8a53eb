"""The one-row counters table: catalog and graph versions, and the writers' lock.

Plain column reads and writes (no ORM object): the row is read once per
transaction under the lock, and each version taken is one ``UPDATE``, sent
without flushing the session first (the caller may hold a row it is still
filling in).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Table, select, update
from sqlalchemy.orm import Session

from dpm.catalog.store.models import CountersRow
from dpm.platform.db import per_transaction

_TABLE = CountersRow.__table__
assert isinstance(_TABLE, Table)
_READ = select(_TABLE.c.catalog_version, _TABLE.c.graph_version).where(_TABLE.c.id == 1)
_LOCK = _READ.with_for_update()
_SET = update(_TABLE).where(_TABLE.c.id == 1)
_LOCKED = "counters"


@dataclass
class Versions:
    catalog_version: int
    graph_version: int


class CountersRepository:
    def __init__(self, session: Session) -> None:
        self._session = session
        self._locked: Versions | None = None

    def lock(self) -> Versions:
        """Lock the counters row for the rest of the transaction; the versions as locked.

        Every catalog and ledger write takes this lock first, so writes are
        serialized: invariants checked inside a transaction (equity sums,
        cycles) cannot be broken by a concurrent writer, and versions are dense
        and ordered. SQLite already serializes writers (BEGIN IMMEDIATE); on
        PostgreSQL this is a row lock.
        """
        if self._locked is None:
            memo = per_transaction(self._session)  # taken once per transaction
            if (locked := memo.get(_LOCKED)) is None:
                catalog, graph = self._session.execute(_LOCK).one()
                locked = memo[_LOCKED] = Versions(catalog, graph)
            self._locked = locked
        return self._locked

    def read(self) -> Versions:
        catalog, graph = self._session.execute(_READ).one()
        return Versions(catalog, graph)

    def next_catalog_version(self) -> int:
        """Lock the row and take the next catalog version."""
        versions = self.lock()
        versions.catalog_version += 1
        self._set(catalog_version=versions.catalog_version)
        return versions.catalog_version

    def next_graph_version(self) -> int:
        """Lock the row and take the next graph version."""
        versions = self.lock()
        versions.graph_version += 1
        self._set(graph_version=versions.graph_version)
        return versions.graph_version

    def set_graph_version(self, version: int) -> None:
        """Lock the row and move the graph version to ``version`` (a bulk load)."""
        versions = self.lock()
        versions.graph_version = version
        self._set(graph_version=version)

    def _set(self, **versions: int) -> None:
        with self._session.no_autoflush:
            self._session.execute(_SET, versions)
