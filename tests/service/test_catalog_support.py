"""Support for the catalog service tests (no tests here): a server on port 0, a real channel."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from dpm.catalog.server import create_server
from dpm.catalog.settings import CatalogSettings
from dpm.catalog.v1 import catalog_pb2, catalog_pb2_grpc
from dpm.ownership.v1 import ownership_pb2
from dpm.platform.events import OwnershipChanged
from dpm.platform.grpc_client import open_channel
from dpm.platform.grpc_server import RunningServer
from dpm.platform.outbox import Publisher

KINDS = {
    "vendor": catalog_pb2.ORGANIZATION_KIND_VENDOR,
    "lab": catalog_pb2.ORGANIZATION_KIND_LAB,
    "investor": catalog_pb2.ORGANIZATION_KIND_INVESTOR,
    "parent": catalog_pb2.ORGANIZATION_KIND_PARENT,
    "person": catalog_pb2.ORGANIZATION_KIND_PERSON,
}


@dataclass
class Recorder:
    """A publisher that records what the outbox relay sends."""

    calls: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)
    arrived: threading.Condition = field(default_factory=threading.Condition)

    def __call__(self, task: str, queue: str, kwargs: dict[str, Any]) -> None:
        with self.arrived:
            self.calls.append((task, queue, kwargs))
            self.arrived.notify_all()

    def wait_for(self, task: str, key: str, value: Any, timeout: float = 5.0) -> dict[str, Any]:
        return self.wait_until(lambda t, kwargs: t == task and kwargs.get(key) == value, timeout)

    def wait_until(
        self, matches: Callable[[str, dict[str, Any]], bool], timeout: float = 5.0
    ) -> dict[str, Any]:
        """The first message sent that ``matches`` (task, kwargs), waiting for it."""

        def find() -> dict[str, Any] | None:
            for t, _q, kwargs in self.calls:
                if matches(t, kwargs):
                    return kwargs
            return None

        with self.arrived:
            self.arrived.wait_for(lambda: find() is not None, timeout)
            found = find()
        assert found is not None, f"no such message in {self.calls}"
        return found


@dataclass
class Catalog:
    running: RunningServer
    stub: catalog_pb2_grpc.CatalogServiceStub
    address: str
    published: Recorder
    # Whether ``published`` is the server's publisher (else a test's, or the real broker).
    recording: bool = True

    def org(self, slug: str, kind: str = "vendor", name: str = "") -> catalog_pb2.Organization:
        return self.stub.CreateOrganization(
            catalog_pb2.CreateOrganizationRequest(
                organization_id=slug,
                organization=catalog_pb2.Organization(
                    display_name=name or slug.title(), kind=KINDS[kind], country="US"
                ),
            )
        )

    def record(self, event: ownership_pb2.OwnershipEvent) -> ownership_pb2.OwnershipEvent:
        """Record ``event`` and wait until the relay has announced it: the relay merges a
        run of events into one message, and a test reading one event's message records
        the next only after it."""
        recorded = self.stub.RecordOwnershipEvent(
            catalog_pb2.RecordOwnershipEventRequest(event=event)
        )
        if self.recording:
            self.published.wait_until(
                lambda t, kwargs: (
                    t == OwnershipChanged.TASK and kwargs["graph_version"] >= recorded.graph_version
                )
            )
        return recorded

    def graph(
        self, as_of: str, as_known_at: Timestamp | None = None
    ) -> ownership_pb2.OwnershipGraph:
        """The graph as of an effective date, as known now or at ``as_known_at``."""
        request = catalog_pb2.ExportOwnershipGraphRequest(as_of=as_of)
        if as_known_at is not None:
            request.as_known_at.CopyFrom(as_known_at)
        return self.stub.ExportOwnershipGraph(request)

    def event(self, event_id: str) -> ownership_pb2.OwnershipEvent:
        return self.stub.GetOwnershipEvent(
            catalog_pb2.GetOwnershipEventRequest(name=f"ownershipEvents/{event_id}")
        )


@contextmanager
def running_catalog(
    database_url: str,
    token_secret: str,
    token: str,
    data_dir: Path,
    publisher: Publisher | None = None,
    *,
    real_broker: bool = False,
    **overrides: Any,
) -> Iterator[Catalog]:
    recorder = Recorder()
    settings = CatalogSettings(
        token_secret=token_secret,
        database_url=database_url,
        host="127.0.0.1",
        port=0,
        data_dir=data_dir,
        outbox_poll_seconds=0.05,
        **overrides,
    )
    # real_broker: the production celery_publisher to settings.celery_broker_url.
    running = create_server(settings, None if real_broker else (publisher or recorder))
    address = f"127.0.0.1:{running.port}"
    channel = open_channel(address, token, 5)
    try:
        stub = catalog_pb2_grpc.CatalogServiceStub(channel)
        recording = publisher is None and not real_broker
        yield Catalog(running, stub, address, recorder, recording)
    finally:
        channel.close()
        running.stop(0)


def org(slug: str) -> str:
    return f"organizations/{slug}"


def stake(
    event_id: str,
    holder: str,
    held: str,
    date: str,
    equity: float | None = None,
    votes: float | None = None,
    *,
    kind: str = "stake_acquired",
    seats: int = 0,
) -> ownership_pb2.OwnershipEvent:
    change = ownership_pb2.StakeChange(holder=org(holder), held=org(held), board_seats=seats)
    if equity is not None:
        change.equity_fraction = equity
    if votes is not None:
        change.voting_fraction = votes
    event = ownership_pb2.OwnershipEvent(
        event_id=event_id, effective_date=date, source_url="https://example.com/news"
    )
    getattr(event, kind).CopyFrom(change)
    return event


def event(event_id: str, date: str, member: str, **fields: Any) -> ownership_pb2.OwnershipEvent:
    """An event with one change: ``event("x", "2025-01-01", "stake_divested", holder=...)``.

    Message-valued fields (ranges) are copied; organization slugs are not expanded.
    """
    message = ownership_pb2.OwnershipEvent(event_id=event_id, effective_date=date)
    change = getattr(message, member)
    change.SetInParent()
    for key, value in fields.items():
        if isinstance(value, Message):
            getattr(change, key).CopyFrom(value)
        else:
            setattr(change, key, value)
    return message


def field_violations(err: grpc.RpcError) -> list[str]:
    status = rpc_status.from_call(err)  # type: ignore[arg-type]
    assert status is not None, f"no rich status on {err}"
    fields: list[str] = []
    for detail in status.details:
        if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad = error_details_pb2.BadRequest()
            detail.Unpack(bad)
            fields.extend(v.field for v in bad.field_violations)
    return fields
