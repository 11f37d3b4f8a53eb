"""Group commit: writes that arrive together share one transaction and one commit.

Writes to one database are serialized anyway (SQLite has one writer; the
catalog's writers queue on its counters row), so while one transaction runs,
the others wait. Here they wait in a queue instead: whoever takes the writer's
turn next runs every write queued by then, in order, in one transaction, and
commits them together. The commit (a flush, a sync to disk, a round trip)
and the locks are paid once per batch instead of once per write.

Each write still stands alone for its caller:
- it runs in the caller's context (its principal, its trace span, the audit
  row that joins its change: ``db.joining_writes``);
- when any write of a batch raises (a refused event, say), the batch is
  rolled back and each of its writes runs again alone, in order, in its own
  transaction: each caller gets its own outcome, as without batching. No
  savepoint per write: they cost two statements and a flush each, and state
  kept for the transaction (``db.per_transaction``) stays simple;
- a caller returns only after the commit that holds its write.
"""

from __future__ import annotations

import contextvars
import threading
from collections import deque
from collections.abc import Callable
from typing import Generic, TypeVar

from sqlalchemy.orm import Session

from dpm.platform.db import Database, current_joiner, joining_writes

T = TypeVar("T")

# Writes per transaction at most: bounds how long the first of a batch waits.
MAX_BATCH = 64


class _Write(Generic[T]):
    def __init__(self, work: Callable[[Session], T]) -> None:
        self.work = work
        self.context = contextvars.copy_context()
        self.done = False
        self.result: T | None = None
        self.error: BaseException | None = None
        self.committed: Callable[[], None] | None = None

    def run(self, database: Database, session: Session) -> None:
        """The work, then the audit row that joins it, in the caller's context."""
        self.result = self.context.run(self.work, session)
        joiner = self.context.run(current_joiner)
        if joiner is not None:
            self.committed = joiner(database, session)

    def reset(self) -> None:
        """Back to not run (its batch was rolled back)."""
        self.result, self.error, self.committed = None, None, None

    def outcome(self) -> T:
        if self.error is not None:
            raise self.error
        return self.result  # type: ignore[return-value]


class GroupCommit:
    def __init__(self, database: Database, max_batch: int = MAX_BATCH) -> None:
        self._database = database
        self._max_batch = max_batch
        self._queue: deque[_Write[object]] = deque()
        # Guards the queue and ``_writing``; waiters sleep on it in C, off the GIL. A
        # batch's callers are all woken when it ends: those whose writes it held return
        # at once, without queueing on a lock in turn (while one of them did, another
        # caller would start a batch of one).
        self._changed = threading.Condition()
        self._writing = False

    def write(self, work: Callable[[Session], T]) -> T:
        """Run ``work`` in a write transaction, committed with whatever else is queued."""
        item: _Write[T] = _Write(work)
        with self._changed:
            self._queue.append(item)  # type: ignore[arg-type]
            while not item.done:
                if self._writing:
                    self._changed.wait()
                    continue
                # This caller writes the next batch: what is queued, its own write
                # among it unless MAX_BATCH earlier ones come first (then it goes again).
                self._writing = True
                count = min(len(self._queue), self._max_batch)
                batch = [self._queue.popleft() for _ in range(count)]
                self._changed.release()
                try:
                    self._run(batch)
                finally:
                    self._changed.acquire()
                    self._writing = False
                    self._changed.notify_all()
        return item.outcome()

    def _run(self, batch: list[_Write[object]]) -> None:
        try:
            if len(batch) > 1:
                try:
                    self._commit(batch)
                except Exception:
                    for item in batch:
                        item.reset()
                else:
                    _heard(batch)
                    return
            for item in batch:
                try:
                    self._commit([item])
                except BaseException as exc:
                    item.error = exc
                else:
                    _heard([item])
        except BaseException as exc:  # not a write's own failure: the whole batch's
            for item in batch:
                item.error = exc
            raise
        finally:
            for item in batch:
                item.done = True

    def _commit(self, items: list[_Write[object]]) -> None:
        # The audit rows join per write (``_Write.run``), not per transaction.
        with joining_writes(None), self._database.write() as session:
            for item in items:
                item.run(self._database, session)


def _heard(items: list[_Write[object]]) -> None:
    """Tell the joined work of each write that it committed."""
    for item in items:
        if item.committed is not None:
            item.committed()
