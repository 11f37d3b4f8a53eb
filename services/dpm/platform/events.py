"""Change events: the typed contract between producers and the code that reacts.

Catalog and requirements announce a change by writing one of these to their
outbox in the same transaction as the change (``dpm.platform.outbox``); the
relay publishes it as a Celery task named by ``TASK`` on ``QUEUE`` (in its
deployment); matching's re-match tasks (``dpm.matching.rematch``) consume it
with ``from_payload``.
Neither side imports the other: both import this module.

A payload is JSON: the event's fields, resource names as strings, and ``v``,
the schema version. A consumer refuses a version it does not know rather than
guess; a new field gets a default so older producers stay readable.
"""

from __future__ import annotations

import dataclasses
import enum
from dataclasses import dataclass
from typing import Any, ClassVar, Self

from dpm.platform.names import ClientName, OrganizationName, OwnershipEventName

SCHEMA_VERSION = 1
VERSION_KEY = "v"


class Queue(enum.StrEnum):
    """Broker queues and who consumes them.

    A value is the queue's name within a deployment; on the broker it is
    ``in_deployment(settings.deployment)`` ("dpm.rematch" by default), so
    stacks sharing a broker never take each other's tasks.
    """

    # `dpmatch worker` (celery -Q <deployment>.rematch): changes that need re-matching.
    REMATCH = "rematch"

    def in_deployment(self, deployment: str) -> str:
        return f"{deployment}.{self.value}"

    @classmethod
    def of(cls, name: str) -> Queue:
        """The queue named ``name``, with or without a deployment ("rematch", "dpm.rematch")."""
        return cls(name.rpartition(".")[2])


class UnknownEventVersion(ValueError):
    pass


@dataclass(frozen=True)
class ChangeEvent:
    """Base of every change event; subclasses set TASK and declare their fields."""

    TASK: ClassVar[str]
    QUEUE: ClassVar[Queue] = Queue.REMATCH

    def to_payload(self) -> dict[str, Any]:
        payload: dict[str, Any] = {VERSION_KEY: SCHEMA_VERSION}
        for item in dataclasses.fields(self):
            payload[item.name] = _encode(getattr(self, item.name))
        return payload

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> Self:
        version = payload.get(VERSION_KEY)
        if version != SCHEMA_VERSION:
            raise UnknownEventVersion(
                f"{cls.TASK} payload has schema version {version!r}; this consumer reads "
                f"{SCHEMA_VERSION}"
            )
        return cls(**cls._decode({k: v for k, v in payload.items() if k != VERSION_KEY}))

    @classmethod
    def _decode(cls, fields: dict[str, Any]) -> dict[str, Any]:
        return fields


def _encode(value: Any) -> Any:
    if isinstance(value, tuple | list):
        return [_encode(v) for v in value]
    if isinstance(value, OrganizationName | ClientName | OwnershipEventName):
        return str(value)
    return value


@dataclass(frozen=True)
class OwnershipChanged(ChangeEvent):
    """An ownership event was recorded: the graph is at ``graph_version``.

    ``upstream`` holds every organization whose competitor group may now see a
    different exposure on some date: both ends of every holding the event
    changed (a late or corrected event can change periods far from its own
    date), the targets of ties it added or withdrew, and everything that holds
    any of them, directly or through chains, on any date from the first
    change. Only clients naming one of them need re-matching.

    ``since`` is set only in the catalog's outbox, where the event is written:
    ``upstream`` then holds the changed organizations alone, and the relay adds
    what holds them from ``since`` on before it publishes
    (``dpm.catalog.upstream``), so the walk is not part of the write. A
    published event has ``since`` "".

    ``written_at`` is when the event committed (Unix seconds, the catalog's clock): the
    workers measure from it how long the affected clients waited for fresh sets
    (``dpm.rematch.event_to_fresh``). 0 when unknown (an older producer).
    """

    TASK: ClassVar[str] = "dpm.ownership_changed"

    event: OwnershipEventName
    graph_version: int
    upstream: tuple[OrganizationName, ...]
    since: str = ""
    written_at: float = 0.0

    @classmethod
    def _decode(cls, fields: dict[str, Any]) -> dict[str, Any]:
        return {
            **fields,
            "event": OwnershipEventName.trusted(fields["event"]),
            "upstream": tuple(OrganizationName.trusted(o) for o in fields["upstream"]),
        }

    def to_payload(self) -> dict[str, Any]:
        payload = super().to_payload()
        if not self.since:  # what is published reads as it did before ``since`` existed
            del payload["since"]
        return payload

    @classmethod
    def merged(cls, events: list[OwnershipChanged]) -> OwnershipChanged:
        """One announcement for a run of events recorded in ledger order: the newest
        event and graph version, every organization upstream of any of them (to be
        walked from the earliest ``since``). Re-matching at the newest version covers
        every event of the run; it is timed from the run's first commit."""
        last = max(events, key=lambda e: e.graph_version)
        upstream = {name.id: name for event in events for name in event.upstream}
        since = min((e.since for e in events if e.since), default="")
        written_at = min((e.written_at for e in events if e.written_at), default=0.0)
        return cls(
            last.event,
            last.graph_version,
            tuple(upstream[i] for i in sorted(upstream)),
            since,
            written_at,
        )


@dataclass(frozen=True)
class CatalogChanged(ChangeEvent):
    """An organization or vendor profile changed: the catalog is at ``catalog_version``."""

    TASK: ClassVar[str] = "dpm.catalog_changed"

    catalog_version: int
    organization: OrganizationName

    @classmethod
    def _decode(cls, fields: dict[str, Any]) -> dict[str, Any]:
        return {**fields, "organization": OrganizationName.trusted(fields["organization"])}


@dataclass(frozen=True)
class ClientChanged(ChangeEvent):
    """A client was created, updated (``revision``) or deleted (``deleted``)."""

    TASK: ClassVar[str] = "dpm.client_changed"

    client: ClientName
    revision: int
    deleted: bool = False

    @classmethod
    def _decode(cls, fields: dict[str, Any]) -> dict[str, Any]:
        return {**fields, "client": ClientName.trusted(fields["client"])}


# Events a run of which the outbox relay may announce as one (``merged``): a burst of
# ownership events fans out once, not once per event.
MERGEABLE: dict[str, type[OwnershipChanged]] = {OwnershipChanged.TASK: OwnershipChanged}
