"""Reading and writing the ledger: ``ownership_events``, the organizations each touches and
the (holder, held) pairs whose periods each sets."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table, bindparam, func, insert, select
from sqlalchemy.orm import Session, aliased

from dpm.catalog.store.models import (
    EVERY_HOLDER,
    EventOrganizationRow,
    EventPairRow,
    OwnershipEventRow,
)
from dpm.platform.db import per_transaction

# Ids per IN (...) list.
CHUNK = 500
# per_transaction key: (seq, record time) of the last event this transaction appended.
_APPENDED = "ledger_appended"


@dataclass(frozen=True)
class StoredEvent:
    """What re-deriving a pair reads of a stored event."""

    seq: int
    event_id: str
    effective_date: dt.date
    payload: dict[str, Any]


def _table(model: type[Any]) -> Table:
    table = model.__table__
    assert isinstance(table, Table)
    return table


_EVENTS, _PAIRS, _ORGANIZATIONS = (
    _table(m) for m in (OwnershipEventRow, EventPairRow, EventOrganizationRow)
)

# Statements run for every recorded event, built once.
_BY_EVENT_ID = select(OwnershipEventRow).where(OwnershipEventRow.event_id == bindparam("id"))
_SUPERSEDER = select(OwnershipEventRow).where(OwnershipEventRow.supersedes == bindparam("id"))
_RECORD_TIME = select(OwnershipEventRow.record_time).where(
    OwnershipEventRow.seq == bindparam("seq")
)
_FINGERPRINT = select(OwnershipEventRow.fingerprint).where(
    OwnershipEventRow.seq == bindparam("seq")
)
_corrector = aliased(OwnershipEventRow)
_EVENTS_INTO = (
    select(
        EventPairRow.holder,
        OwnershipEventRow.seq,
        OwnershipEventRow.event_id,
        OwnershipEventRow.effective_date,
        OwnershipEventRow.payload,
    )
    .join(OwnershipEventRow, OwnershipEventRow.seq == EventPairRow.seq)
    .where(
        EventPairRow.held == bindparam("held"),
        EventPairRow.holder.in_(bindparam("holders", expanding=True)),
        ~select(_corrector.seq).where(_corrector.supersedes == OwnershipEventRow.event_id).exists(),
    )
)


_LATEST_INTO = (
    select(EventPairRow.holder, func.max(OwnershipEventRow.effective_date))
    .join(OwnershipEventRow, OwnershipEventRow.seq == EventPairRow.seq)
    .where(
        EventPairRow.held == bindparam("held"),
        EventPairRow.holder.in_(bindparam("holders", expanding=True)),
        ~select(_corrector.seq).where(_corrector.supersedes == OwnershipEventRow.event_id).exists(),
    )
    .group_by(EventPairRow.holder)
)


class LedgerRepository:
    def __init__(self, session: Session) -> None:
        self._session = session

    def by_event_id(self, event_id: str) -> OwnershipEventRow | None:
        return self._session.scalars(_BY_EVENT_ID, {"id": event_id}).first()

    def record_time(self, seq: int) -> dt.datetime | None:
        """When event ``seq`` was recorded; None when there is none."""
        appended = per_transaction(self._session).get(_APPENDED)
        if appended is not None and appended[0] == seq:  # this transaction's last event
            return appended[1]
        return self._session.scalars(_RECORD_TIME, {"seq": seq}).first()

    def fingerprint_at(self, seq: int) -> str:
        """The content hash of event ``seq``; "" when there is none (seq 0)."""
        return self._session.scalars(_FINGERPRINT, {"seq": seq}).first() or ""

    def latest_seq(self) -> int:
        """The sequence number of the newest event (the graph version); 0 when empty."""
        query = select(func.coalesce(func.max(OwnershipEventRow.seq), 0))
        return int(self._session.scalar(query) or 0)

    def seq_known_at(self, instant: dt.datetime) -> int:
        """The newest seq recorded at or before ``instant``; 0 when none was."""
        query = select(func.coalesce(func.max(OwnershipEventRow.seq), 0)).where(
            OwnershipEventRow.record_time <= instant.astimezone(dt.UTC)
        )
        return int(self._session.scalar(query) or 0)

    def superseder_of(self, event_id: str) -> OwnershipEventRow | None:
        """The event that corrected ``event_id``, if any."""
        return self._session.scalars(_SUPERSEDER, {"id": event_id}).first()

    def superseders(self, event_ids: Collection[str]) -> dict[str, str]:
        """event_id -> event_id of the event that corrected it, for those corrected."""
        ids = sorted(event_ids)
        found: dict[str, str] = {}
        for start in range(0, len(ids), CHUNK):
            query = select(OwnershipEventRow.supersedes, OwnershipEventRow.event_id).where(
                OwnershipEventRow.supersedes.in_(ids[start : start + CHUNK])
            )
            found.update({old: new for old, new in self._session.execute(query) if old})
        return found

    def pairs_of(self, seq: int) -> list[tuple[str, str]]:
        """The (holder, held) pairs event ``seq`` sets; holder "" = every holder of held."""
        query = select(EventPairRow.holder, EventPairRow.held).where(EventPairRow.seq == seq)
        return [(holder, held) for holder, held in self._session.execute(query)]

    def organizations_between(self, after: int, upto: int) -> set[str]:
        """The organizations the events at seq in (after, upto] touch."""
        query = select(EventOrganizationRow.organization_id).where(
            EventOrganizationRow.seq.between(after + 1, upto)
        )
        return set(self._session.scalars(query))

    def organizations_of(self, seq: int) -> set[str]:
        query = select(EventOrganizationRow.organization_id).where(EventOrganizationRow.seq == seq)
        return set(self._session.scalars(query))

    def events_into(self, held: str, holders: Collection[str]) -> list[tuple[str, StoredEvent]]:
        """(holder, event) for the events that set a pair (h, ``held``), h in ``holders``, and
        were not corrected; holder "" for the events that concern every holder of ``held``."""
        wanted = sorted({*holders, EVERY_HOLDER})
        found: list[tuple[str, StoredEvent]] = []
        for start in range(0, len(wanted), CHUNK):
            params = {"held": held, "holders": wanted[start : start + CHUNK]}
            for holder, seq, event_id, day, payload in self._session.execute(_EVENTS_INTO, params):
                found.append((holder, StoredEvent(seq, event_id, day, payload)))
        return found

    def latest_into(self, held: str, holders: Collection[str]) -> dict[str, dt.date]:
        """The latest effective date of the events ``events_into`` would return, by holder
        ("" for those concerning every holder); holders with none are absent."""
        wanted = sorted({*holders, EVERY_HOLDER})
        found: dict[str, dt.date] = {}
        for start in range(0, len(wanted), CHUNK):
            params = {"held": held, "holders": wanted[start : start + CHUNK]}
            for holder, day in self._session.execute(_LATEST_INTO, params):
                found[holder] = day if isinstance(day, dt.date) else dt.date.fromisoformat(day)
        return found

    def append(
        self,
        row: OwnershipEventRow,
        organization_ids: Iterable[str],
        pairs: Iterable[tuple[str, str]],
    ) -> None:
        """Write the event, the organizations it touches and the pairs it sets.

        Written at once (one statement per table), not through the session's flush;
        ``row`` is not attached to the session."""
        self._session.execute(insert(_EVENTS), {c.key: getattr(row, c.key) for c in _EVENTS.c})
        per_transaction(self._session)[_APPENDED] = (row.seq, row.record_time)
        touched = [{"seq": row.seq, "organization_id": org_id} for org_id in organization_ids]
        if touched:
            self._session.execute(insert(_ORGANIZATIONS), touched)
        keys = [{"seq": row.seq, "holder": holder, "held": held} for holder, held in pairs]
        if keys:
            self._session.execute(insert(_PAIRS), keys)

    def page(
        self, organization_id: str | None, after: int | None, limit: int
    ) -> list[OwnershipEventRow]:
        """Events in ledger order after ``after``; only those touching one organization if given."""
        query = select(OwnershipEventRow).order_by(OwnershipEventRow.seq).limit(limit)
        if organization_id is not None:
            touching = select(EventOrganizationRow.seq).where(
                EventOrganizationRow.organization_id == organization_id
            )
            query = query.where(OwnershipEventRow.seq.in_(touching))
        if after is not None:
            query = query.where(OwnershipEventRow.seq > after)
        return list(self._session.scalars(query))
