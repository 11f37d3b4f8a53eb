"""Clients: create, read, list, update and delete, each change announced.

Every change runs in one unit of work (``Database.write()``) with the
``ClientChanged`` event it announces, so the outbox publishes it only if the
change committed. Revisions grow by one per change and never restart: a
deleted client leaves a tombstone with the revision of its deletion, and a
client re-created under that id continues from there, so no computation for
the old client can pass for one of the new. Creating a client issues its
first lab token in the same unit of work; deleting it revokes every token of
that lab at once (a client re-created later gets new tokens, never the old
ones back). Pure domain code: no gRPC.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Sequence

from google.protobuf import field_mask_pb2
from sqlalchemy.exc import IntegrityError

from dpm.platform import auth
from dpm.platform.db import Database
from dpm.platform.errors import AlreadyExists, NotFound
from dpm.platform.events import ClientChanged
from dpm.platform.names import ClientName, OrganizationName
from dpm.requirements import updates
from dpm.requirements.store.models import ClientRow
from dpm.requirements.store.repository import ClientRepository, to_client, write_fields
from dpm.requirements.tokens import CREATED_WITH_CLIENT, TokenRegistry
from dpm.requirements.v1 import requirements_pb2 as pb
from dpm.requirements.validation import validate_client


def _already_exists(name: ClientName) -> AlreadyExists:
    return AlreadyExists(f"{name} already exists")


def _not_found(name: ClientName) -> NotFound:
    return NotFound(f"{name} does not exist")


def competitors(client: pb.Client) -> set[OrganizationName]:
    """The organizations a validated client's policy watches: its competitors and its
    restricted parties. A change upstream of any of them can change its
    recommendations, so ListClients' competitors_any filter finds it by them."""
    policy = client.neutrality_policy
    return {OrganizationName.trusted(c) for c in [*policy.competitors, *policy.restricted_parties]}


def create(
    database: Database, name: ClientName, client: pb.Client, tokens: TokenRegistry
) -> tuple[pb.Client, str]:
    """Store a new client and issue its lab token; ALREADY_EXISTS when the id is taken.

    Its revision is 1, or one more than the deletion of the last client of that id.
    """
    validate_client(client)
    now = dt.datetime.now(dt.UTC)
    try:
        with database.write() as session:
            clients = ClientRepository(session)
            if clients.get(name) is not None:
                raise _already_exists(name)
            tombstone = clients.tombstone(name)
            revision = 1 if tombstone is None else tombstone.revision + 1
            if tombstone is not None:
                clients.remove_tombstone(tombstone)
            row = ClientRow(id=name.id, revision=revision, create_time=now, update_time=now)
            write_fields(row, client)
            clients.add(row)
            clients.replace_competitors(name, competitors(client))
            clients.announce(ClientChanged(name, revision))
            _, issued = tokens.issue_in(
                session, auth.Role.LAB, str(name), label=CREATED_WITH_CLIENT
            )
            return to_client(row), issued.token
    except IntegrityError:  # a concurrent create of the same id won
        raise _already_exists(name) from None


def get(database: Database, name: ClientName) -> pb.Client:
    with database.read() as session:
        row = ClientRepository(session).get(name)
        if row is None:
            raise _not_found(name)
        return to_client(row)


def batch_get(
    database: Database, names: Sequence[ClientName]
) -> tuple[list[pb.Client], list[ClientName]]:
    """The clients ``names`` name, in their order (a name given twice once), read in one
    snapshot; and the names no client has, in the same order."""
    unique = list(dict.fromkeys(names))
    with database.read() as session:
        rows = ClientRepository(session).get_many(unique)
        found = [to_client(rows[n.id]) for n in unique if n.id in rows]
    return found, [n for n in unique if n.id not in rows]


def list_page(
    database: Database,
    competitors_any: Collection[OrganizationName],
    after: ClientName | None,
    limit: int,
    names_only: bool = False,
) -> tuple[list[pb.Client], bool]:
    """Clients ordered by id after ``after``; True when more follow.

    With ``competitors_any``, only clients whose policy names any of them; with
    ``names_only``, each client holds only its name.
    """
    with database.read() as session:
        repository = ClientRepository(session)
        if names_only:
            ids, more = repository.page_ids(competitors_any, after, limit)
            return [pb.Client(name=str(ClientName(i))) for i in ids], more
        rows, more = repository.page(competitors_any, after, limit)
        return [to_client(r) for r in rows], more


def update(
    database: Database, name: ClientName, patch: pb.Client, mask: field_mask_pb2.FieldMask
) -> pb.Client:
    """Replace the fields ``mask`` names with those of ``patch``; the revision grows by one.

    The change is applied to the stored client under its row lock, so concurrent
    updates each get their own revision; a change that breaks a rule writes nothing.
    """
    paths = updates.check_mask(mask)
    with database.write() as session:
        clients = ClientRepository(session)
        row = clients.get_for_update(name)
        if row is None:
            raise _not_found(name)
        updated = updates.apply_update(to_client(row), patch, paths)
        validate_client(updated)
        write_fields(row, updated)
        row.revision += 1
        row.update_time = dt.datetime.now(dt.UTC)
        clients.replace_competitors(name, competitors(updated))
        clients.announce(ClientChanged(name, row.revision))
        return to_client(row)


def delete(database: Database, name: ClientName, tokens: TokenRegistry) -> None:
    """Delete the client and revoke its tokens; its tombstone keeps the revision of the
    deletion, announced. When the revocation list does not answer, nothing is deleted."""
    with database.write() as session:
        clients = ClientRepository(session)
        row = clients.get_for_update(name)
        if row is None:
            raise _not_found(name)
        tokens.revoke_subject_in(session, str(name))
        revision = row.revision + 1
        clients.delete(row)
        clients.set_tombstone(name, revision)
        clients.announce(ClientChanged(name, revision, deleted=True))
