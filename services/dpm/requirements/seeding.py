"""Loading many clients at once, for an initial import or a benchmark.

Creating 10^5 clients one CreateClient at a time costs a round trip, a token
and an outbox event each; a load does not need them. ``load_clients`` checks
every client first (the rules of CreateClient, ids well-formed and distinct,
none taken) and only then writes, in one transaction with plain multi-row
writes (``dpm.platform.bulk``): the client rows and their competitor index
rows, so ListClients' competitors_any filter finds them. Each client starts at
revision 1, or one past its tombstone's (as CreateClient, so no revision of a
deleted client is ever reused). No token is issued: the admin issues lab
tokens (IssueToken) when labs need them.

Nothing is announced (no outbox row): load before the matching runs, or let the
periodic reconciliation re-match everything.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from dpm.platform.bulk import BulkWriter
from dpm.platform.db import Database
from dpm.platform.errors import AlreadyExists, InvalidArgument
from dpm.platform.names import ClientName
from dpm.requirements.clients import competitors
from dpm.requirements.store.models import ClientCompetitorRow, ClientRow, ClientTombstoneRow
from dpm.requirements.store.repository import ClientRepository, client_fields
from dpm.requirements.v1 import requirements_pb2 as pb
from dpm.requirements.validation import validate_client

# Clients per write, and per progress report.
CHUNK = 5_000

# (clients written, clients to write)
Progress = Callable[[int, int], None]


def load_clients(
    database: Database,
    clients: Sequence[tuple[ClientName, pb.Client]],
    progress: Progress | None = None,
) -> int:
    """Write ``clients`` in one transaction; return how many. Refuses the whole load when
    one client breaks a rule (INVALID_ARGUMENT naming ``clients[i]``) or its id is taken
    (ALREADY_EXISTS)."""
    _check(clients)
    names = [name for name, _ in clients]
    now = dt.datetime.now(dt.UTC)
    with database.write() as session:
        repository = ClientRepository(session)
        for chunk in _chunks(names):
            if taken := repository.get_many(chunk):
                raise AlreadyExists(f"{ClientName(min(taken))} already exists")
        tombstones = repository.tombstones(names)
        writer = BulkWriter(session)
        done = 0
        for chunk in _chunks(clients):
            rows = [_client_row(n, c, now, tombstones.get(n.id)) for n, c in chunk]
            writer.insert(ClientRow, rows)
            writer.insert(ClientCompetitorRow, [row for n, c in chunk for row in _index_rows(n, c)])
            done += len(chunk)
            if progress is not None:
                progress(done, len(clients))
        for tombstone in tombstones.values():
            repository.remove_tombstone(tombstone)
        writer.analyze([ClientRow, ClientCompetitorRow])
    return len(clients)


def _check(clients: Sequence[tuple[ClientName, pb.Client]]) -> None:
    """Every rule CreateClient enforces that needs no database, over the whole load."""
    seen: set[str] = set()
    for i, (name, client) in enumerate(clients):
        field = f"clients[{i}]"
        if not ClientName.matches(str(name)):
            raise InvalidArgument.one(f"{field}.name", f"{str(name)!r} is not a client name")
        if name.id in seen:
            raise InvalidArgument.one(f"{field}.name", f"{name} is listed twice")
        seen.add(name.id)
        validate_client(client, field)


def _chunks(items: Sequence[Any]) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), CHUNK):
        yield items[start : start + CHUNK]


def _client_row(
    name: ClientName, client: pb.Client, now: dt.datetime, tombstone: ClientTombstoneRow | None
) -> dict[str, Any]:
    return {
        "id": name.id,
        **client_fields(client),
        "revision": 1 if tombstone is None else tombstone.revision + 1,
        "create_time": now,
        "update_time": now,
    }


def _index_rows(name: ClientName, client: pb.Client) -> list[dict[str, Any]]:
    """The ``client_competitors`` rows ``ClientRepository.replace_competitors`` would write."""
    return [{"client_id": name.id, "competitor_id": o.id} for o in sorted(competitors(client))]
