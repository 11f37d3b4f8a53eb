"""The database layer on SQLite: writers take the write lock up front, readers never
wait for it (each read is one snapshot), so reads and writes do not queue together."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import event, text
from sqlalchemy.orm import Session

from dpm.platform.db import Database, joining_writes, make_engine


def _database(tmp_path: Path) -> tuple[Database, list[str]]:
    database = Database(make_engine(f"sqlite:///{tmp_path / 'x.db'}"))
    with database.write() as session:
        session.execute(text("CREATE TABLE t (x INTEGER)"))
    begins: list[str] = []

    @event.listens_for(database.engine, "before_cursor_execute")
    def _seen(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        if statement.startswith("BEGIN"):
            begins.append(statement)

    return database, begins


def test_reads_begin_deferred_and_writes_immediate(tmp_path: Path) -> None:
    database, begins = _database(tmp_path)
    with database.read() as session:
        session.execute(text("SELECT * FROM t")).all()
    with database.write() as session:
        session.execute(text("INSERT INTO t VALUES (1)"))
    database.ping()
    assert begins == ["BEGIN DEFERRED", "BEGIN IMMEDIATE", "BEGIN DEFERRED"]


def test_an_open_read_neither_blocks_a_writer_nor_sees_its_write(tmp_path: Path) -> None:
    database, _ = _database(tmp_path)
    with database.write() as session:
        session.execute(text("INSERT INTO t VALUES (1)"))
    wrote = threading.Event()

    def writer() -> None:
        with database.write() as session:
            session.execute(text("INSERT INTO t VALUES (2)"))
        wrote.set()

    with database.read() as session:
        assert session.execute(text("SELECT count(*) FROM t")).scalar() == 1
        started = time.monotonic()
        thread = threading.Thread(target=writer)
        thread.start()
        assert wrote.wait(5), "a writer waited for a reader"
        assert time.monotonic() - started < 1.0
        assert session.execute(text("SELECT count(*) FROM t")).scalar() == 1  # one snapshot
    thread.join()
    with database.read() as session:
        assert session.execute(text("SELECT count(*) FROM t")).scalar() == 2


def test_a_joiner_commits_with_each_write_of_its_call_and_hears_of_the_commit(
    tmp_path: Path,
) -> None:
    database, begins = _database(tmp_path)
    heard: list[str] = []

    def joiner(db: Database, session: Session) -> Callable[[], None]:
        assert db is database
        session.execute(text("INSERT INTO t VALUES (99)"))
        return lambda: heard.append("committed")

    def rows() -> list[int]:
        with database.read() as session:
            return [x for (x,) in session.execute(text("SELECT x FROM t ORDER BY x"))]

    with joining_writes(joiner):
        with pytest.raises(RuntimeError), database.write() as session:
            session.execute(text("INSERT INTO t VALUES (1)"))
            raise RuntimeError("the change fails: nothing of it, nor of the joiner, stays")
        assert (rows(), heard) == ([], [])
        with database.write() as session:
            session.execute(text("INSERT INTO t VALUES (2)"))
    assert (rows(), heard) == ([2, 99], ["committed"])
    with database.write() as session:  # outside joining_writes: nothing joins
        session.execute(text("INSERT INTO t VALUES (3)"))
    assert rows() == [2, 3, 99]
    assert begins.count("BEGIN IMMEDIATE") == 3  # the joined rows took no transaction
