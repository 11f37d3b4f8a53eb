"""Reading and writing clients; every change commits with its outbox row.

The repository speaks the ``Client`` message (the domain model of this
service): requirements and policy are stored as proto JSON, and the policy's
competitors are mirrored one per row for ListClients' filter.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence

from google.protobuf import json_format
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from dpm.platform.db import transaction
from dpm.platform.errors import AlreadyExists, NotFound
from dpm.platform.names import client_name, org_id
from dpm.platform.outbox import add_outbox_row
from dpm.requirements.store.models import (
    ClientCompetitorRow,
    ClientRow,
    ClientTombstoneRow,
    OutboxRow,
)
from dpm.requirements.v1 import requirements_pb2 as pb
from dpm.worker.queues import Queue, Task

# Given the stored client, returns the client to store, or raises (nothing is then written).
Change = Callable[[pb.Client], pb.Client]


def _utc(value: dt.datetime) -> dt.datetime:
    # SQLite hands back naive datetimes; everything we store is UTC.
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def to_message(row: ClientRow) -> pb.Client:
    client = pb.Client(
        name=client_name(row.id),
        display_name=row.display_name,
        organization=row.organization,
        revision=row.revision,
    )
    json_format.ParseDict(row.requirements, client.requirements)
    json_format.ParseDict(row.neutrality_policy, client.neutrality_policy)
    client.create_time.FromDatetime(_utc(row.create_time))
    client.update_time.FromDatetime(_utc(row.update_time))
    return client


def _write_fields(row: ClientRow, client: pb.Client) -> None:
    row.display_name = client.display_name
    row.organization = client.organization
    row.requirements = json_format.MessageToDict(
        client.requirements, preserving_proto_field_name=True
    )
    row.neutrality_policy = json_format.MessageToDict(
        client.neutrality_policy, preserving_proto_field_name=True
    )


def _competitor_ids(client: pb.Client) -> set[str]:
    return {org_id(c) for c in client.neutrality_policy.competitors}


def _announce(session: Session, client_id: str, revision: int) -> None:
    add_outbox_row(
        session,
        OutboxRow,
        Task.CLIENT_CHANGED,
        Queue.REMATCH,
        {"client": client_name(client_id), "revision": revision},
    )


class ClientStore:
    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def create(self, client_id: str, client: pb.Client) -> pb.Client:
        """Insert a new client; ALREADY_EXISTS when the id is taken.

        Its revision is 1, or one more than the last revision of a deleted client of that id.
        """
        now = dt.datetime.now(dt.UTC)
        try:
            with transaction(self._sessions) as session:
                if session.get(ClientRow, client_id) is not None:
                    raise AlreadyExists(f"{client_name(client_id)} already exists")
                # A re-created client continues the revisions of the one deleted before it.
                tombstone = session.get(ClientTombstoneRow, client_id)
                revision = tombstone.revision + 1 if tombstone else 1
                if tombstone:
                    session.delete(tombstone)
                row = ClientRow(id=client_id, revision=revision, create_time=now, update_time=now)
                _write_fields(row, client)
                session.add(row)
                session.flush()
                session.add_all(
                    ClientCompetitorRow(client_id=client_id, competitor_id=c)
                    for c in sorted(_competitor_ids(client))
                )
                _announce(session, client_id, row.revision)
                return to_message(row)
        except IntegrityError:  # a concurrent create of the same id won
            raise AlreadyExists(f"{client_name(client_id)} already exists") from None

    def get(self, client_id: str) -> pb.Client:
        with self._sessions() as session:
            row = session.get(ClientRow, client_id)
            if row is None:
                raise NotFound(f"{client_name(client_id)} does not exist")
            return to_message(row)

    def list(
        self, competitor_ids: Sequence[str], after: str | None, limit: int
    ) -> tuple[list[pb.Client], bool]:
        """Clients ordered by id after ``after``; True when more follow.

        With ``competitor_ids``, only clients whose policy names any of them.
        """
        query = select(ClientRow).order_by(ClientRow.id).limit(limit + 1)
        if after is not None:
            query = query.where(ClientRow.id > after)
        if competitor_ids:
            query = query.where(
                ClientRow.id.in_(
                    select(ClientCompetitorRow.client_id).where(
                        ClientCompetitorRow.competitor_id.in_(list(competitor_ids))
                    )
                )
            )
        with self._sessions() as session:
            rows = session.scalars(query).all()
            return [to_message(r) for r in rows[:limit]], len(rows) > limit

    def update(self, client_id: str, change: Change) -> pb.Client:
        """Apply ``change`` to the stored client under a row lock; revision grows by one."""
        with transaction(self._sessions) as session:
            row = session.scalars(
                select(ClientRow).where(ClientRow.id == client_id).with_for_update()
            ).one_or_none()
            if row is None:
                raise NotFound(f"{client_name(client_id)} does not exist")
            before = to_message(row)
            after = change(before)
            _write_fields(row, after)
            row.revision += 1
            row.update_time = dt.datetime.now(dt.UTC)
            old, new = _competitor_ids(before), _competitor_ids(after)
            if old != new:
                if old - new:
                    session.execute(
                        delete(ClientCompetitorRow).where(
                            ClientCompetitorRow.client_id == client_id,
                            ClientCompetitorRow.competitor_id.in_(sorted(old - new)),
                        )
                    )
                session.add_all(
                    ClientCompetitorRow(client_id=client_id, competitor_id=c)
                    for c in sorted(new - old)
                )
            _announce(session, client_id, row.revision)
            session.flush()
            return to_message(row)

    def delete(self, client_id: str) -> None:
        with transaction(self._sessions) as session:
            row = session.get(ClientRow, client_id)
            if row is None:
                raise NotFound(f"{client_name(client_id)} does not exist")
            session.execute(
                delete(ClientCompetitorRow).where(ClientCompetitorRow.client_id == client_id)
            )
            tombstone = session.get(ClientTombstoneRow, client_id)
            if tombstone is None:
                session.add(ClientTombstoneRow(id=client_id, revision=row.revision + 1))
            else:
                tombstone.revision = row.revision + 1
            session.delete(row)
            _announce(session, client_id, 0)
