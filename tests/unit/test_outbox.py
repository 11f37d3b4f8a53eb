"""The transactional outbox relay, on a real SQLite database."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from sqlalchemy.orm import DeclarativeBase

from dpm.platform.db import make_engine, make_sessionmaker, new_metadata, transaction
from dpm.platform.outbox import OutboxMixin, OutboxRelay, add_outbox_row


class Base(DeclarativeBase):
    metadata = new_metadata()


class Row(OutboxMixin, Base):
    pass


def _sessions(tmp_path: Path):  # type: ignore[no-untyped-def]
    engine = make_engine(f"sqlite:///{tmp_path / 'outbox.db'}")
    Base.metadata.create_all(engine)
    return make_sessionmaker(engine)


def test_relay_publishes_in_order_marks_sent_and_keeps_the_trace(tmp_path: Path) -> None:
    sessions = _sessions(tmp_path)
    tracer = TracerProvider().get_tracer("test")
    with tracer.start_as_current_span("the change") as span, transaction(sessions) as session:
        add_outbox_row(session, Row, "dpm.first", "q", {"n": 1})
        add_outbox_row(session, Row, "dpm.second", "q", {"n": 2})
    seen: list[tuple[str, dict[str, Any], int]] = []

    def publish(task: str, queue: str, kwargs: dict[str, Any]) -> None:
        trace_id = trace.get_current_span().get_span_context().trace_id
        seen.append((task, kwargs, trace_id))

    relay = OutboxRelay(sessions, Row, publish)
    assert relay.pending() == 2
    assert relay.relay_once() == 2
    trace_id = span.get_span_context().trace_id
    assert seen == [("dpm.first", {"n": 1}, trace_id), ("dpm.second", {"n": 2}, trace_id)]
    assert relay.pending() == 0
    assert relay.relay_once() == 0  # sent rows are not sent again


def test_a_refusing_broker_delays_and_loses_nothing(tmp_path: Path) -> None:
    sessions = _sessions(tmp_path)
    with transaction(sessions) as session:
        add_outbox_row(session, Row, "dpm.task", "q", {"n": 1})
    broker_up = False
    delivered: list[dict[str, Any]] = []

    def publish(task: str, queue: str, kwargs: dict[str, Any]) -> None:
        if not broker_up:
            raise ConnectionError("broker down")
        delivered.append(kwargs)

    relay = OutboxRelay(sessions, Row, publish)
    assert relay.relay_once() == 0
    assert relay.pending() == 1
    broker_up = True
    assert relay.relay_once() == 1
    assert delivered == [{"n": 1}]
