"""The transactional outbox relay, on a real SQLite database."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from sqlalchemy.orm import DeclarativeBase, Session

from dpm.platform.db import Database, make_engine, make_sessionmaker, new_metadata, transaction
from dpm.platform.events import (
    CatalogChanged,
    ClientChanged,
    OwnershipChanged,
    UnknownEventVersion,
)
from dpm.platform.group_commit import GroupCommit
from dpm.platform.names import ClientName, OrganizationName, OwnershipEventName
from dpm.platform.outbox import OutboxMixin, OutboxRelay, add_outbox_row


class Base(DeclarativeBase):
    metadata = new_metadata()


class Row(OutboxMixin, Base):
    pass


FIRST = CatalogChanged(catalog_version=1, organization=OrganizationName("labelbox"))
SECOND = ClientChanged(ClientName("google"), revision=2)


@dataclass
class Broker:
    """Refuses every message until ``up``; then keeps what it is sent."""

    up: bool = False
    delivered: list[dict[str, Any]] = field(default_factory=list)

    def publish(self, task: str, queue: str, kwargs: dict[str, Any]) -> None:
        if not self.up:
            raise ConnectionError("broker down")
        self.delivered.append(kwargs)


def _sessions(tmp_path: Path):  # type: ignore[no-untyped-def]
    engine = make_engine(f"sqlite:///{tmp_path / 'outbox.db'}")
    Base.metadata.create_all(engine)
    return make_sessionmaker(engine)


def test_relay_publishes_in_order_marks_sent_and_keeps_the_trace(tmp_path: Path) -> None:
    sessions = _sessions(tmp_path)
    tracer = TracerProvider().get_tracer("test")
    with tracer.start_as_current_span("the change") as span, transaction(sessions) as session:
        add_outbox_row(session, Row, FIRST)
        add_outbox_row(session, Row, SECOND)
    seen: list[tuple[str, dict[str, Any], int]] = []

    def publish(task: str, queue: str, kwargs: dict[str, Any]) -> None:
        trace_id = trace.get_current_span().get_span_context().trace_id
        seen.append((task, kwargs, trace_id))

    relay = OutboxRelay(sessions, Row, publish)
    assert relay.pending() == 2
    assert relay.relay_once() == 2
    trace_id = span.get_span_context().trace_id
    assert seen == [
        (FIRST.TASK, FIRST.to_payload(), trace_id),
        (SECOND.TASK, SECOND.to_payload(), trace_id),
    ]
    assert relay.pending() == 0
    assert relay.relay_once() == 0  # sent rows are not sent again


def _ownership(version: int, *upstream: str) -> OwnershipChanged:
    return OwnershipChanged(
        OwnershipEventName(f"e{version}"), version, tuple(OrganizationName(o) for o in upstream)
    )


def test_a_run_of_ownership_events_goes_out_as_one_and_other_events_keep_their_place(
    tmp_path: Path,
) -> None:
    sessions = _sessions(tmp_path)
    tracer = TracerProvider().get_tracer("test")
    spans = []
    for event in (
        _ownership(1, "meta", "scale-ai"),
        _ownership(2, "google", "meta"),
        FIRST,
        _ownership(3, "xai"),
        _ownership(4),
    ):
        with tracer.start_as_current_span("a change") as span, transaction(sessions) as session:
            add_outbox_row(session, Row, event)
        spans.append(span.get_span_context().trace_id)
    seen: list[tuple[str, dict[str, Any], int]] = []

    def publish(task: str, queue: str, kwargs: dict[str, Any]) -> None:
        seen.append((task, kwargs, trace.get_current_span().get_span_context().trace_id))

    relay = OutboxRelay(sessions, Row, publish)
    assert relay.relay_once() == 5  # rows marked sent
    assert seen == [
        # The newest event and version of the run, every organization upstream of any;
        # the run's last trace.
        (OwnershipChanged.TASK, _ownership(2, "google", "meta", "scale-ai").to_payload(), spans[1]),
        (FIRST.TASK, FIRST.to_payload(), spans[2]),
        (OwnershipChanged.TASK, _ownership(4, "xai").to_payload(), spans[4]),
    ]
    assert relay.pending() == 0


def test_a_refused_merged_message_leaves_all_its_rows_to_retry(tmp_path: Path) -> None:
    sessions = _sessions(tmp_path)
    for version in (1, 2):
        with transaction(sessions) as session:
            add_outbox_row(session, Row, _ownership(version, f"org-{version}"))
    broker = Broker()
    relay = OutboxRelay(sessions, Row, broker.publish)
    assert relay.relay_once() == 0
    assert relay.pending() == 2
    broker.up = True
    assert relay.relay_once() == 2
    assert broker.delivered == [_ownership(2, "org-1", "org-2").to_payload()]


def test_a_refusing_broker_delays_and_loses_nothing(tmp_path: Path) -> None:
    sessions = _sessions(tmp_path)
    with transaction(sessions) as session:
        add_outbox_row(session, Row, FIRST)
    broker = Broker()
    relay = OutboxRelay(sessions, Row, broker.publish)
    assert relay.relay_once() == 0
    assert relay.pending() == 1
    broker.up = True
    assert relay.relay_once() == 1
    assert broker.delivered == [FIRST.to_payload()]


def test_marks_go_through_the_writer_it_is_given(tmp_path: Path) -> None:
    """A server hands the relay its group commit: the marks join the queued writes."""
    engine = make_engine(f"sqlite:///{tmp_path / 'outbox.db'}")
    Base.metadata.create_all(engine)
    database = Database(engine)
    writes = GroupCommit(database)
    with database.write() as session:
        add_outbox_row(session, Row, FIRST)
    marked: list[int] = []

    def write(work: Callable[[Session], None]) -> None:
        marked.append(1)
        writes.write(work)

    relay = OutboxRelay(database.sessions, Row, Broker(up=True).publish, write=write)
    assert relay.relay_once() == 1
    assert marked == [1]
    assert relay.pending() == 0
    database.close()


def test_a_woken_relay_lingers_so_a_burst_goes_out_as_one_message(tmp_path: Path) -> None:
    sessions = _sessions(tmp_path)
    published: list[dict[str, Any]] = []
    relay = OutboxRelay(
        sessions,
        Row,
        lambda task, queue, kwargs: published.append(kwargs),
        poll_seconds=30,  # only a wake-up sends
        linger_seconds=0.5,
    )
    relay.start()
    try:
        for version in (1, 2, 3):
            with transaction(sessions) as session:
                add_outbox_row(session, Row, _ownership(version, f"org-{version}"))
            relay.notify()  # each write wakes it, as a server's commits do
            time.sleep(0.05)
        deadline = time.monotonic() + 10
        while relay.pending() and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        relay.stop()
    assert published == [_ownership(3, "org-1", "org-2", "org-3").to_payload()]


def test_change_events_survive_the_json_trip() -> None:
    events = [
        FIRST,
        SECOND,
        ClientChanged(ClientName("google"), revision=3, deleted=True),
        OwnershipChanged(
            event=OwnershipEventName("2025-06-12-meta-scale-ai-49"),
            graph_version=16,
            upstream=(OrganizationName("meta"), OrganizationName("scale-ai")),
        ),
    ]
    for event in events:
        payload = json.loads(json.dumps(event.to_payload()))
        assert type(event).from_payload(payload) == event
    assert FIRST.to_payload() == {
        "v": 1,
        "catalog_version": 1,
        "organization": "organizations/labelbox",
    }


def test_an_unknown_payload_version_is_refused_not_guessed() -> None:
    payload = {**SECOND.to_payload(), "v": 2}
    with pytest.raises(UnknownEventVersion, match="schema version 2"):
        ClientChanged.from_payload(payload)
