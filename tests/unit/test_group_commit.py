"""Group commit on SQLite and PostgreSQL: writes queued while one runs commit together; when
one fails, each runs again alone, so only the failing write's caller sees an error."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import event, text
from sqlalchemy.orm import Session

from dpm.platform.db import Database, joining_writes, make_engine
from dpm.platform.errors import InvalidArgument
from dpm.platform.group_commit import GroupCommit


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    database = Database(make_engine(database_url))
    with database.write() as session:
        session.execute(text("CREATE TABLE t (x INTEGER PRIMARY KEY)"))
    yield database
    database.close()


def _commits(database: Database) -> list[int]:
    commits: list[int] = []
    event.listen(database.engine, "commit", lambda _conn: commits.append(1))
    return commits


def _rows(database: Database) -> list[int]:
    with database.read() as session:
        return [x for (x,) in session.execute(text("SELECT x FROM t ORDER BY x"))]


def _insert(x: int) -> Callable[[Session], int]:
    def work(session: Session) -> int:
        session.execute(text("INSERT INTO t VALUES (:x)"), {"x": x})
        return x * 10

    return work


def _batch_behind_a_blocked_write(
    writes: GroupCommit, works: list[Callable[[Session], int]], joiners: bool = False
) -> tuple[list[object], list[str]]:
    """Run works[0] alone and, while it holds the turn, queue the rest; what each caller got
    (its result or its error) and what the joiners heard."""
    running, release = threading.Event(), threading.Event()
    outcomes: list[object] = [None] * len(works)
    heard: list[str] = []

    def first(session: Session) -> int:
        running.set()
        assert release.wait(10)
        return works[0](session)

    def call(index: int, work: Callable[[Session], int]) -> None:
        def joiner(_db: Database, session: Session) -> Callable[[], None]:
            session.execute(text("INSERT INTO t VALUES (:x)"), {"x": 1000 + index})
            return lambda: heard.append(f"committed {index}")

        try:
            with joining_writes(joiner if joiners else None):
                outcomes[index] = writes.write(work)
        except Exception as exc:  # what the caller gets
            outcomes[index] = exc

    threads = [threading.Thread(target=call, args=(0, first))]
    threads[0].start()
    assert running.wait(10)
    for index, work in enumerate(works[1:], start=1):
        threads.append(threading.Thread(target=call, args=(index, work)))
        threads[-1].start()
    while len(writes._queue) < len(works) - 1:  # every later write is queued
        threading.Event().wait(0.01)
    release.set()
    for thread in threads:
        thread.join(10)
    return outcomes, sorted(heard)


def test_writes_queued_behind_one_commit_together(database: Database) -> None:
    writes = GroupCommit(database)
    commits = _commits(database)
    outcomes, _ = _batch_behind_a_blocked_write(writes, [_insert(x) for x in range(1, 9)])
    assert outcomes == [x * 10 for x in range(1, 9)]
    assert len(commits) == 2  # the first write alone, then the seven queued behind it
    assert _rows(database) == list(range(1, 9))


def test_a_failing_write_rolls_back_alone_and_its_caller_gets_the_error(
    database: Database,
) -> None:
    def refused(session: Session) -> int:
        session.execute(text("INSERT INTO t VALUES (5)"))
        raise InvalidArgument.one("x", "refused after writing")

    works = [_insert(1), _insert(2), refused, _insert(3)]
    commits = _commits(database)
    outcomes, heard = _batch_behind_a_blocked_write(GroupCommit(database), works, joiners=True)
    # The first alone; the batch of three rolled back; then each of the three alone.
    assert len(commits) == 3
    assert outcomes[:2] == [10, 20] and outcomes[3] == 30
    assert isinstance(outcomes[2], InvalidArgument)
    # Neither the refused write's row nor its joiner's is there; the others' are.
    assert _rows(database) == [1, 2, 3, 1000, 1001, 1003]
    assert heard == ["committed 0", "committed 1", "committed 3"]


def test_a_failed_commit_leaves_nothing_written_and_fails_every_caller(
    database: Database,
) -> None:
    writes = GroupCommit(database)
    failing = threading.Event()

    def refuse_commit(_conn: object) -> None:
        if failing.is_set():
            raise RuntimeError("the disk is gone")

    event.listen(database.engine, "commit", refuse_commit)
    works = [_insert(1), _insert(2), _insert(3)]
    original = works[0]

    def fail_from_now(session: Session) -> int:
        failing.set()  # the first write's own commit is the one that fails, and the batch's
        return original(session)

    works[0] = fail_from_now
    outcomes, _ = _batch_behind_a_blocked_write(writes, works, joiners=True)
    assert all(isinstance(o, RuntimeError) for o in outcomes), outcomes
    failing.clear()
    assert _rows(database) == []
    assert writes.write(_insert(7)) == 70  # the next batch starts clean
    assert _rows(database) == [7]


def test_a_batch_runs_without_savepoints(database: Database) -> None:
    statements: list[str] = []
    event.listen(
        database.engine,
        "before_cursor_execute",
        lambda _c, _cur, statement, *_: statements.append(statement.split()[0].upper()),
    )
    commits = _commits(database)
    works = [_insert(4), _insert(5), _insert(6)]
    outcomes, _ = _batch_behind_a_blocked_write(GroupCommit(database), works)
    assert outcomes == [40, 50, 60]
    assert len(commits) == 2 and "SAVEPOINT" not in statements
    assert _rows(database) == [4, 5, 6]
