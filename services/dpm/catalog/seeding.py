"""Loading a large ownership ledger at once: organizations and the stakes they hold.

Recording 10^6 events one RecordOwnershipEvent at a time takes hours; an
initial import does not need to. ``load`` writes organizations and
stake_acquired events in one transaction, with plain multi-row writes
(``dpm.platform.bulk``), and leaves the ledger exactly as recording the
same events one by one would (a test compares the two): each event gets the
next sequence number, its ledger row (same content and fingerprint, so a
replay is recognised), its pair, the organizations it touches and its holding
period from its date on.

The shape it accepts keeps that exact and cheap to check: an empty ledger,
and stake_acquired events with exact figures on distinct pairs. The rules
RecordOwnershipEvent enforces are checked in memory over the whole load
before anything is written (ids, existing organizations, fractions, dates,
the sums into each organization, no closed cycle), and any violation refuses
the whole load (INVALID_ARGUMENT naming the stake). Since stakes only open,
the graph on the latest date holds every edge of every earlier date, so the
sums and closed sets checked on that graph cover every date.

Nothing is announced (no outbox row): load before clients exist, or let the
periodic reconciliation re-match everything.
"""

from __future__ import annotations

import datetime as dt
import math
import sys
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from typing import Any, NamedTuple, TextIO

from sqlalchemy.orm import Session

from dpm.catalog.ledger import fingerprint
from dpm.catalog.store.counters import CountersRepository
from dpm.catalog.store.ledger import LedgerRepository
from dpm.catalog.store.models import (
    EventOrganizationRow,
    EventPairRow,
    HoldingRow,
    OrganizationRow,
    OwnershipEventRow,
)
from dpm.catalog.store.organizations import OrganizationRepository
from dpm.catalog.v1 import catalog_pb2
from dpm.platform.bulk import BulkWriter
from dpm.platform.dates import BadDate, to_date
from dpm.platform.errors import FailedPrecondition, InvalidArgument
from dpm.platform.names import OrganizationName, check_event_id, check_slug

# Rows per write, and per progress report.
CHUNK = 20_000
EPS = 1e-9  # as dpm.catalog.invariants

# (rows written, rows to write)
Progress = Callable[[int, int], None]


class NewOrganization(NamedTuple):
    id: str
    display_name: str
    kind: int = catalog_pb2.ORGANIZATION_KIND_VENDOR


class Stake(NamedTuple):
    """A stake_acquired event: ``holder`` takes ``equity`` (and ``voting``, default the
    equity) of ``held`` from ``effective`` on. (Tuples: a load makes millions.)"""

    event_id: str
    holder: str
    held: str
    equity: float
    effective: dt.date
    voting: float | None = None

    @property
    def votes(self) -> float:
        return self.equity if self.voting is None else self.voting


def load(
    session: Session,
    organizations: Sequence[NewOrganization],
    stakes: Sequence[Stake],
    progress: Progress | None = None,
    now: dt.datetime | None = None,
) -> int:
    """Write ``organizations`` and ``stakes`` (in that order, in ledger order) into an empty
    ledger; return the graph version (the number of events). Refuses the whole load when
    one rule fails."""
    counters = CountersRepository(session)
    counters.lock()
    if LedgerRepository(session).latest_seq() != 0:
        raise FailedPrecondition(
            "a bulk load needs an empty ledger; record further events with RecordOwnershipEvent",
            reason="LEDGER_NOT_EMPTY",
        )
    stored = set(OrganizationRepository(session).ids())
    _check(organizations, stakes, stored)

    instant = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    writer = BulkWriter(session)
    total = len(organizations) + len(stakes)
    done = 0

    def write(model: Any, rows: list[dict[str, Any]], counted: int) -> None:
        nonlocal done
        writer.insert(model, rows)
        done += counted
        if progress is not None:
            progress(done, total)

    for chunk in _chunks(organizations):
        rows = [_organization_row(org, instant) for org in chunk]
        write(OrganizationRow, rows, len(rows))
    seq = 0
    for chunk in _chunks(stakes):
        events, pairs, touched, holdings = [], [], [], []
        for stake in chunk:
            seq += 1
            content = _content(stake)
            events.append(
                {
                    "seq": seq,
                    "event_id": stake.event_id,
                    "fingerprint": fingerprint(content),
                    "payload": content,
                    "effective_date": stake.effective,
                    "record_time": instant,
                    "supersedes": None,
                }
            )
            pairs.append({"seq": seq, "holder": stake.holder, "held": stake.held})
            for org in sorted((stake.holder, stake.held)):
                touched.append({"seq": seq, "organization_id": org})
            holdings.append(_holding_row(stake, seq))
        writer.insert(OwnershipEventRow, events)
        writer.insert(EventPairRow, pairs)
        writer.insert(EventOrganizationRow, touched)
        write(HoldingRow, holdings, len(chunk))
    writer.analyze(
        [OrganizationRow, OwnershipEventRow, EventPairRow, EventOrganizationRow, HoldingRow]
    )
    counters.set_graph_version(seq)
    if organizations:
        counters.next_catalog_version()
    return seq


def text_progress(what: str, stream: TextIO = sys.stderr, width: int = 30) -> Progress:
    """A one-line progress bar on ``stream``, redrawn in place."""

    def show(done: int, total: int) -> None:
        filled = width * done // max(total, 1)
        bar = "#" * filled + "." * (width - filled)
        end = "\n" if done >= total else ""
        stream.write(f"\r{what} [{bar}] {done:,}/{total:,}{end}")
        stream.flush()

    return show


def _chunks(items: Sequence[Any]) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), CHUNK):
        yield items[start : start + CHUNK]


def _check(
    organizations: Sequence[NewOrganization], stakes: Sequence[Stake], stored: set[str]
) -> None:
    known = set(stored)
    for i, org in enumerate(organizations):
        check_slug(org.id, f"organizations[{i}].id")
        if org.id in known:
            raise InvalidArgument.one(f"organizations[{i}].id", f"{org.id!r} already exists")
        if not org.display_name.strip():
            raise InvalidArgument.one(f"organizations[{i}].display_name", "is required")
        known.add(org.id)
    event_ids: set[str] = set()
    pairs: set[tuple[str, str]] = set()
    dates: set[dt.date] = set()
    into: dict[str, list[Stake]] = defaultdict(list)
    for i, stake in enumerate(stakes):
        field = f"stakes[{i}]"
        check_event_id(stake.event_id, f"{field}.event_id")
        if stake.event_id in event_ids:
            raise InvalidArgument.one(f"{field}.event_id", f"{stake.event_id!r} is repeated")
        event_ids.add(stake.event_id)
        for end in (stake.holder, stake.held):
            if end not in known:
                raise InvalidArgument.one(field, f"{OrganizationName(end)} does not exist")
        if stake.holder == stake.held:
            raise InvalidArgument.one(f"{field}.held", "an organization cannot hold itself")
        if (stake.holder, stake.held) in pairs:
            raise InvalidArgument.one(field, "a bulk load takes one stake per pair")
        pairs.add((stake.holder, stake.held))
        for name, value in (("equity", stake.equity), ("voting", stake.votes)):
            if not (math.isfinite(value) and 0.0 <= value <= 1.0):
                raise InvalidArgument.one(f"{field}.{name}", f"{value!r} must be in [0, 1]")
        dates.add(stake.effective)
        into[stake.held].append(stake)
    for day in dates:
        try:
            to_date(day.isoformat())
        except BadDate as bad:
            raise InvalidArgument.one("stakes.effective", str(bad)) from None
    for axis in ("equity", "voting"):
        wholly = _check_sums(into, axis)
        _check_closed(into, wholly, axis)


def _low(stake: Stake, axis: str) -> float:
    return stake.equity if axis == "equity" else stake.votes


def _check_sums(into: dict[str, list[Stake]], axis: str) -> set[str]:
    """Sums at most 1 into every organization; the organizations wholly held."""
    wholly: set[str] = set()
    for held, stakes in into.items():
        total = math.fsum(_low(s, axis) for s in stakes)
        if total > 1.0 + EPS:
            raise InvalidArgument.one(
                f"stakes.{axis}",
                f"the holders of {OrganizationName(held)} would hold {total:.6g} of its {axis} "
                "in total, more than 1",
            )
        if total >= 1.0 - EPS:
            wholly.add(held)
    return wholly


def _check_closed(into: dict[str, list[Stake]], wholly: set[str], axis: str) -> None:
    """No set of organizations wholly held among themselves: drop members held partly
    from outside until none is; what is left is the largest closed set."""
    closed = set(wholly)
    while True:
        outside = {
            m
            for m in closed
            if math.fsum(_low(s, axis) for s in into[m] if s.holder in closed) < 1.0 - EPS
        }
        if not outside:
            break
        closed -= outside
    if closed:
        names = ", ".join(str(OrganizationName(m)) for m in sorted(closed)[:10])
        raise InvalidArgument.one(
            f"stakes.{axis}", f"would make {names} wholly held among themselves (a closed cycle)"
        )


def _organization_row(org: NewOrganization, instant: dt.datetime) -> dict[str, Any]:
    return {
        "id": org.id,
        "display_name": org.display_name.strip(),
        "kind": int(org.kind),
        "country": "",
        "source_urls": [],
        "create_time": instant,
        "update_time": instant,
    }


def _content(stake: Stake) -> dict[str, Any]:
    """The event as ``dpm.catalog.ledger.content_of`` stores it."""
    change: dict[str, Any] = {
        "holder": str(OrganizationName(stake.holder)),
        "held": str(OrganizationName(stake.held)),
        "equity_fraction": float(stake.equity),
    }
    if stake.voting is not None:
        change["voting_fraction"] = float(stake.voting)
    return {
        "event_id": stake.event_id,
        "effective_date": stake.effective.isoformat(),
        "stake_acquired": change,
    }


def _holding_row(stake: Stake, seq: int) -> dict[str, Any]:
    """Its one period; the ranges and provenance it has not are left NULL."""
    return {
        "holder": stake.holder,
        "held": stake.held,
        "equity": float(stake.equity),
        "voting": float(stake.votes),
        "equity_low": float(stake.equity),
        "voting_low": float(stake.votes),
        "board_seats": 0,
        "valid_from": stake.effective,
        "valid_to": None,
        "source_url": "",
        "event_id": stake.event_id,
        "recorded_from": seq,
        "recorded_to": None,
    }
