"""Writing many rows at once, for the bulk loads (``dpm.catalog.seeding`` and the like).

Rows are plain dicts (column name -> value), written in the caller's
transaction on its connection, past the ORM and SQLAlchemy's per-row
statement handling: PostgreSQL gets ``COPY ... FROM STDIN``, SQLite one
prepared ``INSERT`` run with the driver's ``executemany``. Values are encoded
as SQLAlchemy would (its bind processors: dates, JSON), so they read back the
same as rows written any other way.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import JSON, Table, text
from sqlalchemy.orm import DeclarativeBase, Session


class BulkWriter:
    def __init__(self, session: Session) -> None:
        self._session = session
        self._postgres = session.get_bind().dialect.name == "postgresql"

    def insert(self, model: type[DeclarativeBase], rows: Sequence[dict[str, Any]]) -> None:
        """Insert ``rows`` into ``model``'s table; every row has the same keys."""
        if not rows:
            return
        table = model.__table__
        assert isinstance(table, Table)
        if self._postgres:
            self._copy(table, rows)
        else:
            self._executemany(table, rows)

    def analyze(self, models: Sequence[type[DeclarativeBase]]) -> None:
        """Refresh the planner's statistics of ``models``' tables (after a bulk load the
        planner would still plan for the tables as they were)."""
        for model in models:
            table = model.__table__
            assert isinstance(table, Table)
            self._session.execute(text(f'ANALYZE "{table.name}"'))

    def _executemany(self, table: Table, rows: Sequence[dict[str, Any]]) -> None:
        connection = self._session.connection()
        dialect = connection.dialect
        columns = list(rows[0])
        process = [
            table.c[name].type.dialect_impl(dialect).bind_processor(dialect) for name in columns
        ]
        names = ", ".join(f'"{name}"' for name in columns)
        marks = ", ".join("?" for _ in columns)
        raw = connection.connection.driver_connection
        assert raw is not None
        convert = [(i, p) for i, p in enumerate(process) if p is not None]
        values = []
        for row in rows:
            value = [row[name] for name in columns]
            for i, process_one in convert:
                if value[i] is not None:
                    value[i] = process_one(value[i])
            values.append(value)
        raw.executemany(f'INSERT INTO "{table.name}" ({names}) VALUES ({marks})', values)

    def _copy(self, table: Table, rows: Sequence[dict[str, Any]]) -> None:
        columns = list(rows[0])
        encoded = [isinstance(table.c[name].type, JSON) for name in columns]
        raw = self._session.connection().connection.driver_connection
        assert raw is not None
        names = ", ".join(f'"{name}"' for name in columns)
        with (
            raw.cursor() as cursor,
            cursor.copy(f'COPY "{table.name}" ({names}) FROM STDIN') as copy,
        ):
            for row in rows:
                copy.write_row(
                    [
                        json.dumps(row[name]) if as_json and row[name] is not None else row[name]
                        for name, as_json in zip(columns, encoded, strict=True)
                    ]
                )
