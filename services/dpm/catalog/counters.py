"""The one-row counters table: catalog and graph versions, and the writers' lock."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from dpm.catalog.store.models import Counters


def lock_counters(session: Session) -> Counters:
    """Lock the counters row for the rest of the transaction.

    Every catalog and ledger write takes this lock first, so writes are
    serialized: invariants checked inside a transaction (equity sums, cycles)
    cannot be broken by a concurrent writer, and versions are dense and ordered.
    SQLite already serializes writers (BEGIN IMMEDIATE); on PostgreSQL this is
    a row lock.
    """
    row = session.scalars(select(Counters).where(Counters.id == 1).with_for_update()).one()
    return row


def read_counters(session: Session) -> Counters:
    return session.scalars(select(Counters).where(Counters.id == 1)).one()


def bump_catalog_version(session: Session) -> int:
    row = lock_counters(session)
    row.catalog_version += 1
    return row.catalog_version
