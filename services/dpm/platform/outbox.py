"""Transactional outbox: a change and the task announcing it commit together.

A service writes an outbox row in the same transaction as its change; the
relay thread publishes unsent rows to the Celery broker by task name and only
then marks them sent. A broker outage delays delivery and loses nothing;
a crash between publish and mark re-publishes, which the idempotent tasks
absorb. Consecutive rows of an event that merges (``events.MERGEABLE``) go
out as one message: a burst of ownership events fans out once.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import weakref
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import propagate
from opentelemetry.instrumentation.celery import CeleryInstrumentor
from opentelemetry.metrics import CallbackOptions, Observation
from sqlalchemy import JSON, DateTime, Integer, String, func, insert, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker

from dpm.platform.config import DEFAULT_DEPLOYMENT
from dpm.platform.events import MERGEABLE, SCHEMA_VERSION, VERSION_KEY, ChangeEvent, Queue
from dpm.platform.telemetry import meter, outbox_published

log = logging.getLogger(__name__)

# (task name, queue, kwargs) -> None; raises when the broker does not take it.
Publisher = Callable[[str, str, dict[str, Any]], None]
# Runs a unit of work in a write transaction (``GroupCommit.write``: the relay's marks
# commit together with the writes queued beside them).
Writer = Callable[[Callable[[Session], None]], None]
# (a read session, task name, kwargs) -> the kwargs to publish: what a service adds to its
# messages from the snapshot their rows were read in (``dpm.catalog.upstream``). The
# kwargs come without the trace context, which the relay keeps apart.
Preparer = Callable[[Session, str, dict[str, Any]], dict[str, Any]]


def as_written(_session: Session, _task: str, kwargs: dict[str, Any]) -> dict[str, Any]:
    return kwargs


class OutboxMixin:
    """Columns of an outbox table; each service declares ``class OutboxRow(OutboxMixin, Base)``."""

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    task: Mapped[str] = mapped_column(String(200))
    queue: Mapped[str] = mapped_column(String(100))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    sent_at: Mapped[dt.datetime | None] = mapped_column(
        DateTime(timezone=True), nullable=True, index=True
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0)


# Reserved payload key: the trace context of the change, so the worker's spans
# join the trace of the call that made the change. Never reaches the task.
TRACE_KEY = "_trace"


def add_outbox_row(session: Session, model: type[OutboxMixin], event: ChangeEvent) -> None:
    """Announce ``event`` when the caller's transaction commits (and only then)."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    payload = event.to_payload()
    # A plain INSERT, not an ORM object: a flush of the unit of work costs more than
    # the statement, and nothing reads the row back in this transaction.
    session.execute(
        insert(model.__table__),  # type: ignore[attr-defined]
        {
            "task": event.TASK,
            "queue": event.QUEUE.value,
            "payload": {**payload, TRACE_KEY: carrier} if carrier else payload,
            "created_at": dt.datetime.now(dt.UTC),
            "attempts": 0,
        },
    )


def celery_publisher(broker_url: str, deployment: str = DEFAULT_DEPLOYMENT) -> Publisher:
    """Publish by task name, so the producer never imports the worker's code.

    A row names its queue within a deployment ("rematch"; rows written before
    deployments existed say "dpm.rematch"); it goes to that queue of
    ``deployment`` ("<deployment>.rematch"), the one its workers consume.
    """
    from celery import Celery

    producer = Celery("dpm-outbox", broker=broker_url, set_as_current=False)
    producer.conf.update(
        task_serializer="json",
        broker_connection_retry_on_startup=True,
        broker_transport_options={"confirm_publish": True},
    )
    # Puts the current trace context into each message's headers.
    instrumentor = CeleryInstrumentor()
    if not instrumentor.is_instrumented_by_opentelemetry:
        instrumentor.instrument()

    def publish(task: str, queue: str, kwargs: dict[str, Any]) -> None:
        queue_name = Queue.of(queue).in_deployment(deployment)
        producer.send_task(task, kwargs=kwargs, queue=queue_name, retry=False)

    return publish


@dataclass
class Announcement:
    """What the relay publishes: one row's event, or a run of rows merged into one."""

    task: str
    queue: str
    ids: list[int]
    payloads: list[dict[str, Any]]

    def kwargs(self) -> dict[str, Any]:
        """The task's arguments (the trace context apart: ``trace``)."""
        payloads = [_untraced(p) for p in self.payloads]
        if len(payloads) == 1:
            return payloads[0]
        kind = MERGEABLE[self.task]
        return kind.merged([kind.from_payload(p) for p in payloads]).to_payload()

    def trace(self) -> dict[str, str]:
        """The trace context to publish in: the (last) row's change."""
        return self.payloads[-1].get(TRACE_KEY) or {}


def announcements(rows: list[tuple[int, str, str, dict[str, Any]]]) -> list[Announcement]:
    """Rows in order, each a message, except that consecutive rows of a mergeable event
    (``events.MERGEABLE``, same queue and schema version) go out as one."""
    messages: list[Announcement] = []
    for row_id, task, queue, payload in rows:
        last = messages[-1] if messages else None
        if (
            last is not None
            and (last.task, last.queue) == (task, queue)
            and task in MERGEABLE
            and payload.get(VERSION_KEY) == last.payloads[0].get(VERSION_KEY) == SCHEMA_VERSION
        ):
            last.ids.append(row_id)
            last.payloads.append(payload)
        else:
            messages.append(Announcement(task, queue, [row_id], [payload]))
    return messages


def _untraced(payload: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in payload.items() if k != TRACE_KEY}


def _backlog(_options: CallbackOptions) -> Iterable[Observation]:
    for relay in list(_RELAYS):
        pending, oldest = relay.backlog()
        yield Observation(pending, {"measure": "rows"})
        yield Observation(oldest, {"measure": "oldest_seconds"})


# The relays of this process, for the backlog gauge an operator watches: rows not yet
# handed to the broker, and how long the oldest has waited (0 when none).
_RELAYS: weakref.WeakSet[OutboxRelay] = weakref.WeakSet()
meter.create_observable_gauge(
    "dpm.outbox.backlog",
    callbacks=[_backlog],
    description="Outbox rows not yet published (measure=rows) and the oldest one's age "
    "in seconds (measure=oldest_seconds)",
)


class OutboxRelay:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        model: type[OutboxMixin],
        publish: Publisher,
        poll_seconds: float = 0.2,
        batch: int = 100,
        prepare: Preparer = as_written,
        read_sessions: sessionmaker[Session] | None = None,
        write: Writer | None = None,
        linger_seconds: float = 0.0,
    ) -> None:
        self._sessions = sessions
        # How rows are marked sent: by default a transaction of their own. A server
        # passes its group commit: on SQLite a transaction apart would wait for (and
        # hold up) the write lock, and pay a sync to disk of its own.
        self._write = write or self._own_transaction
        self._linger = linger_seconds
        # Rows are read (and messages prepared) in a read-only snapshot when the
        # database has one apart: on SQLite a write session would take the write lock.
        self._read_sessions = read_sessions or sessions
        self._prepare = prepare
        self._model = model
        self._publish = publish
        self._poll = poll_seconds
        self._batch = batch
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        _RELAYS.add(self)
        self._thread = threading.Thread(target=self._run, name="outbox-relay", daemon=True)
        self._thread.start()

    def notify(self) -> None:
        """Called after a commit that added rows: publish now rather than at the next poll."""
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread:
            self._thread.join(timeout=10)

    def backlog(self) -> tuple[int, float]:
        """Unsent rows, and the seconds the oldest of them has waited (0 when none)."""
        model = self._model
        with self._read_sessions() as session:
            count, oldest = session.execute(
                select(func.count(), func.min(model.created_at)).where(model.sent_at.is_(None))
            ).one()
        if not count or oldest is None:
            return 0, 0.0
        if oldest.tzinfo is None:  # SQLite keeps no offset: the rows are written in UTC
            oldest = oldest.replace(tzinfo=dt.UTC)
        return int(count), max(0.0, (dt.datetime.now(dt.UTC) - oldest).total_seconds())

    def pending(self) -> int:
        with self._sessions() as session:
            count = session.scalar(
                select(func.count()).select_from(self._model).where(self._model.sent_at.is_(None))
            )
            return int(count or 0)

    def relay_once(self) -> int:
        """Publish one batch of unsent rows; return how many went out.

        The broker is called outside any database transaction: a slow or
        dead broker must never hold the database's write lock (on SQLite every
        writer, hence every RecordOwnershipEvent, would wait on it). Rows are
        marked sent afterwards in a short transaction; a crash in between, or
        two relays (replicas) reading the same rows, publishes a row twice,
        which the idempotent tasks absorb.
        """
        model = self._model
        with self._read_sessions() as session:
            rows = [
                (row_id, task, queue, dict(payload))
                for row_id, task, queue, payload in session.execute(
                    select(model.id, model.task, model.queue, model.payload)
                    .where(model.sent_at.is_(None))
                    .order_by(model.id)
                    .limit(self._batch)
                )
            ]
            messages = [
                (message, self._prepare(session, message.task, message.kwargs()))
                for message in announcements(rows)
            ]
        sent: list[int] = []
        failed: int | None = None
        for message, kwargs in messages:
            trace_context = otel_context.attach(propagate.extract(message.trace()))
            try:
                self._publish(message.task, message.queue, kwargs)
            except Exception:
                log.warning("broker refused outbox rows %s; will retry", message.ids, exc_info=True)
                failed = message.ids[0]
                break
            finally:
                otel_context.detach(trace_context)
            outbox_published.add(len(message.ids), {"task": message.task})
            sent += message.ids
        if sent or failed is not None:
            self._write(lambda session: self._mark(session, sent, failed))
        return len(sent)

    def _mark(self, session: Session, sent: list[int], failed: int | None) -> None:
        model = self._model
        if sent:
            session.execute(
                update(model)
                .where(model.id.in_(sent))
                .values(sent_at=dt.datetime.now(dt.UTC), attempts=model.attempts + 1)
            )
        if failed is not None:
            session.execute(
                update(model).where(model.id == failed).values(attempts=model.attempts + 1)
            )

    def _own_transaction(self, work: Callable[[Session], None]) -> None:
        with self._sessions() as session, session.begin():
            work(session)

    def _run(self) -> None:
        backoff = self._poll
        while not self._stop.is_set():
            try:
                sent = self.relay_once()
                backoff = self._poll
            except Exception:
                log.warning("outbox relay failed; retrying", exc_info=True)
                sent = 0
                backoff = min(backoff * 2, 5.0)
            if sent == self._batch:
                continue
            woken = self._wake.wait(backoff)
            if woken and self._linger:
                # Let the writes that follow this one in a burst land first: they go out
                # with it (merged where they can be), for one read and one mark.
                self._stop.wait(self._linger)
            self._wake.clear()
