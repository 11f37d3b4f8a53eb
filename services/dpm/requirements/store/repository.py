"""The SQL of the requirements database, over the ``*Row`` models.

``ClientRepository`` and ``TokenRepository`` work inside the caller's unit of
work (the ``Session`` that ``Database.write()`` or ``.read()`` opened): they
never commit and apply no rule; ``dpm.requirements.clients`` and
``dpm.requirements.tokens`` decide. Requirements and policy are
stored as binary protobuf, and a policy's competitors are mirrored one per row in
``client_competitors`` for ListClients' filter.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Sequence
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from dpm.platform.events import ClientChanged
from dpm.platform.names import ClientName, OrganizationName
from dpm.platform.outbox import add_outbox_row
from dpm.requirements.store.models import (
    ClientCompetitorRow,
    ClientRow,
    ClientTombstoneRow,
    OutboxRow,
    TokenRow,
)
from dpm.requirements.v1 import requirements_pb2 as pb


def utc(value: dt.datetime) -> dt.datetime:
    # SQLite hands back naive datetimes; everything we store is UTC.
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def to_client(row: ClientRow) -> pb.Client:
    """The ``Client`` message a stored row stands for."""
    client = pb.Client(
        name=str(ClientName(row.id)),
        display_name=row.display_name,
        organization=row.organization,
        revision=row.revision,
    )
    client.requirements.ParseFromString(row.requirements_pb)
    client.neutrality_policy.ParseFromString(row.neutrality_policy_pb)
    client.create_time.FromDatetime(utc(row.create_time))
    client.update_time.FromDatetime(utc(row.update_time))
    return client


def client_fields(client: pb.Client) -> dict[str, Any]:
    """The stored columns of the mutable fields of ``client`` (not its id, revision or times)."""
    return {
        "display_name": client.display_name,
        "organization": client.organization,
        "requirements_pb": client.requirements.SerializeToString(deterministic=True),
        "neutrality_policy_pb": client.neutrality_policy.SerializeToString(deterministic=True),
    }


def write_fields(row: ClientRow, client: pb.Client) -> None:
    """Copy the mutable fields of ``client`` into ``row`` (not its id, revision or times)."""
    for column, value in client_fields(client).items():
        setattr(row, column, value)


# Ids per ``IN (...)`` list: well under any engine's limit of bound parameters.
IN_CHUNK = 500


class ClientRepository:
    """Clients, their competitor index, their tombstones and their outbox, in one session."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def get(self, client: ClientName) -> ClientRow | None:
        return self._session.get(ClientRow, client.id)

    def tombstones(self, clients: Sequence[ClientName]) -> dict[str, ClientTombstoneRow]:
        """The tombstones of those of ``clients`` that have one, by id."""
        ids = sorted({c.id for c in clients})
        found: dict[str, ClientTombstoneRow] = {}
        for start in range(0, len(ids), IN_CHUNK):
            query = select(ClientTombstoneRow).where(
                ClientTombstoneRow.id.in_(ids[start : start + IN_CHUNK])
            )
            found.update((t.id, t) for t in self._session.scalars(query))
        return found

    def get_many(self, clients: Sequence[ClientName]) -> dict[str, ClientRow]:
        """The rows of those of ``clients`` that exist, by id: one SELECT per ``IN_CHUNK`` ids."""
        ids = sorted({c.id for c in clients})
        rows: dict[str, ClientRow] = {}
        for start in range(0, len(ids), IN_CHUNK):
            chunk = ids[start : start + IN_CHUNK]
            for row in self._session.scalars(select(ClientRow).where(ClientRow.id.in_(chunk))):
                rows[row.id] = row
        return rows

    def get_for_update(self, client: ClientName) -> ClientRow | None:
        """The row, locked until the unit of work ends (a no-op on SQLite, which locks it all)."""
        return self._session.scalars(
            select(ClientRow).where(ClientRow.id == client.id).with_for_update()
        ).one_or_none()

    def add(self, row: ClientRow) -> None:
        """Insert ``row`` now: a taken id fails here with ``IntegrityError``."""
        self._session.add(row)
        self._session.flush()

    def page(
        self, competitors: Collection[OrganizationName], after: ClientName | None, limit: int
    ) -> tuple[list[ClientRow], bool]:
        """Up to ``limit`` rows ordered by id after ``after``; True when more follow.

        With ``competitors``, only clients whose policy names any of them.
        """
        ids, more = self.page_ids(competitors, after, limit)
        rows = self.get_many([ClientName(i) for i in ids])
        return [rows[i] for i in ids], more

    def page_ids(
        self, competitors: Collection[OrganizationName], after: ClientName | None, limit: int
    ) -> tuple[list[str], bool]:
        """``page``, ids only."""
        if competitors:
            # Walk the competitor index in client order from ``after`` (its primary key
            # leads with the client): a page costs its own rows, not a pass over every
            # client naming the competitors (a 10^5-client list took 100 such passes).
            query = (
                select(ClientCompetitorRow.client_id)
                .where(ClientCompetitorRow.competitor_id.in_(sorted(o.id for o in competitors)))
                .distinct()
                .order_by(ClientCompetitorRow.client_id)
            )
            if after is not None:
                query = query.where(ClientCompetitorRow.client_id > after.id)
        else:
            query = select(ClientRow.id).order_by(ClientRow.id)
            if after is not None:
                query = query.where(ClientRow.id > after.id)
        found = list(self._session.scalars(query.limit(limit + 1)))
        return found[:limit], len(found) > limit

    def replace_competitors(
        self, client: ClientName, competitors: Collection[OrganizationName]
    ) -> None:
        """Make the competitor rows of ``client`` exactly ``competitors``; write only the change."""
        stored = set(
            self._session.scalars(
                select(ClientCompetitorRow.competitor_id).where(
                    ClientCompetitorRow.client_id == client.id
                )
            )
        )
        wanted = {o.id for o in competitors}
        if gone := stored - wanted:
            self._session.execute(
                delete(ClientCompetitorRow).where(
                    ClientCompetitorRow.client_id == client.id,
                    ClientCompetitorRow.competitor_id.in_(sorted(gone)),
                )
            )
        self._session.add_all(
            ClientCompetitorRow(client_id=client.id, competitor_id=c)
            for c in sorted(wanted - stored)
        )

    def delete(self, row: ClientRow) -> None:
        """Delete the client and its competitor rows."""
        self._session.execute(
            delete(ClientCompetitorRow).where(ClientCompetitorRow.client_id == row.id)
        )
        self._session.delete(row)

    def tombstone(self, client: ClientName) -> ClientTombstoneRow | None:
        return self._session.get(ClientTombstoneRow, client.id)

    def remove_tombstone(self, tombstone: ClientTombstoneRow) -> None:
        self._session.delete(tombstone)

    def set_tombstone(self, client: ClientName, revision: int) -> None:
        tombstone = self.tombstone(client)
        if tombstone is None:
            self._session.add(ClientTombstoneRow(id=client.id, revision=revision))
        else:
            tombstone.revision = revision

    def announce(self, event: ClientChanged) -> None:
        """Write ``event`` to the outbox: it is published once the unit of work commits."""
        add_outbox_row(self._session, OutboxRow, event)


class TokenRepository:
    """The registry of issued tokens, in one session."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def add(self, row: TokenRow) -> None:
        self._session.add(row)
        self._session.flush()

    def get_for_update(self, jti: str) -> TokenRow | None:
        return self._session.scalars(
            select(TokenRow).where(TokenRow.jti == jti).with_for_update()
        ).one_or_none()

    def page(self, subject: str, after: int | None, limit: int) -> tuple[list[TokenRow], bool]:
        """Up to ``limit`` rows in issue order after ``after`` (a seq); True when more follow.

        With ``subject``, only that subject's tokens.
        """
        query = select(TokenRow).order_by(TokenRow.seq).limit(limit + 1)
        if after is not None:
            query = query.where(TokenRow.seq > after)
        if subject:
            query = query.where(TokenRow.subject == subject)
        rows = self._session.scalars(query).all()
        return list(rows[:limit]), len(rows) > limit

    def live_of(self, subject: str, now: dt.datetime) -> list[TokenRow]:
        """``subject``'s tokens that are neither revoked nor expired, locked until the unit ends."""
        return list(
            self._session.scalars(
                select(TokenRow)
                .where(
                    TokenRow.subject == subject,
                    TokenRow.revoke_time.is_(None),
                    TokenRow.expire_time > now,
                )
                .order_by(TokenRow.seq)
                .with_for_update()
            )
        )

    def mark_revoked(self, rows: list[TokenRow], when: dt.datetime) -> None:
        for row in rows:
            row.revoke_time = when
        self._session.flush()

    def revoked_unexpired(self, now: dt.datetime) -> list[TokenRow]:
        """Every revoked token that has not expired yet (what Redis must hold)."""
        return list(
            self._session.scalars(
                select(TokenRow).where(
                    TokenRow.revoke_time.is_not(None), TokenRow.expire_time > now
                )
            )
        )
