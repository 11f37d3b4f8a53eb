"""Late facts against a full recompute, on SQLite and PostgreSQL (ledger and export, no gRPC).

Property: events recorded in any order (back-dated ones re-derive the periods)
give the same graph as of every date as the same events recorded in
effective-date order; the graph as known at each earlier record time stays
exactly what was read then; the same corrections give the same results.
Also: the 0002 migration carries data written under 0001.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from hypothesis import HealthCheck, given, settings
from hypothesis import event as note
from hypothesis import strategies as st
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session, sessionmaker

from dpm.catalog import graph, ledger
from dpm.catalog.store import MIGRATIONS_DIR
from dpm.catalog.store.ledger import LedgerRepository
from dpm.catalog.store.models import (
    Base,
    CountersRow,
    EventOrganizationRow,
    EventPairRow,
    HoldingRow,
    OrganizationRow,
    OutboxRow,
    OwnershipEventRow,
    TieRow,
)
from dpm.ownership.v1 import ownership_pb2
from dpm.platform import db
from dpm.platform.errors import DomainError

ORGS = ("o0", "o1", "o2", "o3")
# Few pairs, so events pile up on the same holdings; o0 <-> o1 is a cross-holding.
PAIRS = (("o0", "o1"), ("o1", "o0"), ("o2", "o1"), ("o0", "o2"), ("o3", "o2"))
T0 = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)


def name(slug: str) -> str:
    return f"organizations/{slug}"


@pytest.fixture
def sessions(database_url: str) -> Iterator[sessionmaker[Session]]:
    db.migrate(database_url, MIGRATIONS_DIR)
    engine = db.make_engine(database_url)
    made = db.make_sessionmaker(engine)
    now = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
    with db.transaction(made) as s:
        for slug in ORGS:
            s.add(
                OrganizationRow(
                    id=slug,
                    display_name=slug,
                    kind=1,
                    country="",
                    source_urls=[],
                    create_time=now,
                    update_time=now,
                )
            )
    yield made
    engine.dispose()


def reset(sessions: sessionmaker[Session]) -> None:
    """Empty the ledger and everything derived from it; organizations stay."""
    with db.transaction(sessions) as s:
        for model in (
            OutboxRow,
            EventPairRow,
            EventOrganizationRow,
            TieRow,
            HoldingRow,
            OwnershipEventRow,
        ):
            s.execute(delete(model))
        s.execute(update(CountersRow).values(graph_version=0))


# ---------------------------------------------------------------------------- generation

fractions = st.floats(0.0, 0.3, allow_nan=False)


@st.composite
def share_ranges(draw: st.DrawFn) -> ownership_pb2.ShareRange:
    low = draw(fractions)
    share = ownership_pb2.ShareRange(exclusive_minimum=draw(st.booleans()))
    if draw(st.booleans()):
        share.minimum = low
    if draw(st.booleans()):
        share.maximum = min(0.3, low + draw(st.floats(0.01, 0.2)))
    return share


@st.composite
def histories(draw: st.DrawFn) -> list[ownership_pb2.OwnershipEvent]:
    """Events on distinct dates (same-day events apply in ledger order, by design)."""
    days = draw(
        st.lists(
            st.dates(dt.date(2000, 1, 1), dt.date(2030, 12, 31)),
            min_size=2,
            max_size=12,
            unique=True,
        )
    )
    events = []
    for i, day in enumerate(days):
        event = ownership_pb2.OwnershipEvent(
            event_id=f"e{i}", effective_date=day.isoformat(), source_url=f"https://ex.com/{i}"
        )
        if draw(st.integers(0, 3)) == 0:
            event.provenance.source_type = ownership_pb2.SOURCE_TYPE_OFFICIAL_REGISTER
            event.provenance.asserted_by = f"register {i}"
        kind = draw(
            st.sampled_from(
                [
                    "stake_acquired",
                    "stake_acquired",
                    "stake_changed",
                    "stake_divested",
                    "board_seat_granted",
                    "board_seat_removed",
                    "leadership_move",
                    "contract_tie",
                ]
            )
        )
        holder, held = draw(st.sampled_from(PAIRS))
        if kind in ("stake_acquired", "stake_changed"):
            # board_seats 0: a stake keeps the seats it finds (so no order can lose seats)
            change = getattr(event, kind)
            change.holder, change.held = name(holder), name(held)
            how = draw(st.sampled_from(["exact", "exact-votes", "range", "undisclosed"]))
            if how.startswith("exact"):
                change.equity_fraction = draw(fractions)
            if how == "exact-votes":
                change.voting_fraction = draw(fractions)
            if how == "range":
                change.equity_range.CopyFrom(draw(share_ranges()))
        elif kind in ("stake_divested", "board_seat_granted", "board_seat_removed"):
            change = getattr(event, kind)
            change.holder, change.held = name(holder), name(held)
            if kind != "stake_divested":
                change.seats = draw(st.integers(0, 2))
        elif kind == "leadership_move":
            move = event.leadership_move
            move.person, move.role = f"Person {i}", "CEO"
            move.from_organization, move.to_organization = name(holder), name(held)
        else:
            tie = event.contract_tie
            tie.kind = draw(st.sampled_from([3, 4, 5]))  # type: ignore[assignment]
            tie.organization, tie.counterparty = name(holder), name(held)
        events.append(event)
    return events


# ---------------------------------------------------------------------------- running


@dataclass
class Run:
    sessions: sessionmaker[Session]
    clock: int = 0

    def record(self, event: ownership_pb2.OwnershipEvent) -> bool:
        self.clock += 1
        try:
            with db.transaction(self.sessions) as s:
                ledger.record_event(s, event, now=self.instant())
        except DomainError:
            return False
        return True

    def instant(self, clock: int | None = None) -> dt.datetime:
        return T0 + dt.timedelta(seconds=self.clock if clock is None else clock)

    def graphs(
        self, days: list[dt.date], known_at: dt.datetime | None = None
    ) -> dict[dt.date, tuple[list[ownership_pb2.Holding], list[ownership_pb2.Tie], int]]:
        with self.sessions() as s:
            out = {}
            for day in days:
                exported = graph.export(s, day, as_known_at=known_at)
                out[day] = (list(exported.holdings), list(exported.ties), exported.version)
            return out


def probe_days(events: list[ownership_pb2.OwnershipEvent]) -> list[dt.date]:
    """Every date on which the graph can change, the day before each, and the ends."""
    days = {dt.date(1999, 12, 31), dt.date(2031, 1, 1)}
    for event in events:
        day = dt.date.fromisoformat(event.effective_date)
        days |= {day, day - dt.timedelta(days=1)}
    return sorted(days)


def retraction(event_id: str, target: str) -> ownership_pb2.OwnershipEvent:
    event = ownership_pb2.OwnershipEvent(event_id=event_id, supersedes=target)
    event.retraction.SetInParent()
    return event


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(events=histories(), data=st.data())
def test_any_recording_order_gives_the_graph_of_the_effective_date_order(
    sessions: sessionmaker[Session],
    events: list[ownership_pb2.OwnershipEvent],
    data: st.DataObject,
) -> None:
    days = probe_days(events)

    # The oracle: in effective-date order (the old rule), keeping what is accepted.
    reset(sessions)
    ordered = Run(sessions)
    accepted = [e for e in sorted(events, key=lambda e: e.effective_date) if ordered.record(e)]
    expected = ordered.graphs(days)

    # The same events, in a random order: a refused one is filed again later, as a
    # late filing is, until no more go in. Everything the oracle took must go in.
    reset(sessions)
    run = Run(sessions)
    waiting = data.draw(st.permutations(accepted), label="recording order")
    snapshots: list[tuple[int, dict]] = []  # (clock of the record, graphs right after)
    while waiting:
        refused = []
        for event in waiting:
            if run.record(event):
                snapshots.append((run.clock, run.graphs(days)))
            else:
                refused.append(event)
        assert len(refused) < len(waiting), [e.event_id for e in refused]
        if refused:
            note("some events were filed again")
        waiting = refused
    got = run.graphs(days)
    assert {d: g[:2] for d, g in got.items()} == {d: g[:2] for d, g in expected.items()}

    # Corrections: withdraw a few events. A retraction goes in exactly when the events
    # left are a history the effective-date order accepts in full, and gives its graph.
    ids = [e.event_id for e in accepted]
    targets = (
        data.draw(st.lists(st.sampled_from(ids), unique=True, min_size=1, max_size=3), label="r")
        if ids
        else []
    )
    withdrawn: list[str] = []
    refused_with: list[list[str]] = []
    for i, target in enumerate(targets):
        if run.record(retraction(f"r{i}", target)):
            withdrawn.append(target)
            snapshots.append((run.clock, run.graphs(days)))
        else:
            note("a retraction was refused")
            refused_with.append([*withdrawn, target])
    final = run.graphs(days)

    # What was known at each record time stays readable, exactly.
    for clock, seen in snapshots:
        assert run.graphs(days, run.instant(clock)) == seen
    assert run.graphs(days, run.instant(0))[days[0]] == ([], [], 0)

    def replay_without(gone: list[str]) -> tuple[bool, dict]:
        reset(sessions)
        oracle = Run(sessions)
        kept = [e for e in accepted if e.event_id not in gone]
        ok = all([oracle.record(e) for e in sorted(kept, key=lambda e: e.effective_date)])
        return ok, oracle.graphs(days)

    note(f"{len(withdrawn)} withdrawn")
    ok, corrected = replay_without(withdrawn)
    assert ok
    assert {d: g[:2] for d, g in final.items()} == {d: g[:2] for d, g in corrected.items()}
    for gone in refused_with:
        assert not replay_without(gone)[0], gone


# ---------------------------------------------------------------------------- migrations


def test_an_event_dated_after_its_holdings_history_reads_none_of_it(
    sessions: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The usual case, events recorded in date order, steps only the open period of
    each pair (``History._appended``); a back-dated event re-folds the pair's history.
    Both give what the property above checks against a full recompute."""
    reset(sessions)
    folded: list[str] = []
    events_into = LedgerRepository.events_into

    def spy(self: LedgerRepository, held: str, holders: Collection[str]) -> Any:
        folded.append(held)
        return events_into(self, held, holders)

    monkeypatch.setattr(LedgerRepository, "events_into", spy)
    run = Run(sessions)

    def stake(event_id: str, day: str, fraction: float, first: bool = False) -> None:
        event = ownership_pb2.OwnershipEvent(event_id=event_id, effective_date=day)
        change = event.stake_acquired if first else event.stake_changed
        change.holder, change.held = name("o0"), name("o1")
        change.equity_fraction = fraction
        assert run.record(event)

    stake("e1", "2024-01-01", 0.1, first=True)
    stake("e2", "2024-02-01", 0.2)
    stake("e3", "2024-02-01", 0.25)  # the same day: replaces e2's period
    stake("e4", "2024-03-01", 0.3)
    assert folded == []
    with sessions() as s:
        held = graph.export(s, dt.date(2024, 2, 15)).holdings
        assert [(h.holder, round(h.equity_fraction, 6)) for h in held] == [(name("o0"), 0.25)]
    stake("e5", "2024-01-15", 0.15)  # back-dated: the pair is folded again
    assert folded == ["o1"]


def test_migrations_match_the_models(database_url: str) -> None:
    db.migrate(database_url, MIGRATIONS_DIR)
    engine = db.make_engine(database_url)
    try:
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
        assert diff == []
    finally:
        engine.dispose()


def _alembic(database_url: str, target: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    engine = sa.create_engine(db.normalize_url(database_url))
    try:
        with engine.connect() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, target)
    finally:
        engine.dispose()


def test_migration_0002_carries_data_written_under_0001(database_url: str) -> None:
    _alembic(database_url, "0001")
    engine = sa.create_engine(db.normalize_url(database_url))
    now = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    meta = sa.MetaData()
    meta.reflect(engine)
    t = meta.tables
    acquired = {
        "event_id": "a",
        "effective_date": "2024-01-01",
        "stake_acquired": {
            "holder": "organizations/x",
            "held": "organizations/y",
            "equity_fraction": 0.3,
        },
    }
    changed = {
        "event_id": "c",
        "effective_date": "2024-06-01",
        "stake_changed": {
            "holder": "organizations/x",
            "held": "organizations/y",
            "equity_fraction": 0.4,
        },
    }
    taken = {
        "event_id": "t",
        "effective_date": "2024-07-01",
        "full_acquisition": {"acquirer": "organizations/x", "target": "organizations/z"},
    }
    moved = {
        "event_id": "m",
        "effective_date": "2024-08-01",
        "leadership_move": {
            "person": "P",
            "from_organization": "organizations/y",
            "to_organization": "organizations/x",
        },
    }
    with engine.begin() as conn:
        conn.execute(t["counters"].update().values(graph_version=4))
        for slug in ("x", "y", "z"):
            conn.execute(
                t["organizations"]
                .insert()
                .values(
                    id=slug,
                    display_name=slug,
                    kind=1,
                    country="",
                    source_urls=[],
                    create_time=now,
                    update_time=now,
                )
            )
        for seq, payload in enumerate((acquired, changed, taken, moved), start=1):
            conn.execute(
                t["ownership_events"]
                .insert()
                .values(
                    seq=seq,
                    event_id=payload["event_id"],
                    fingerprint="f" * 64,
                    payload=payload,
                    effective_date=dt.date.fromisoformat(str(payload["effective_date"])),
                    record_time=now,
                )
            )
        holding = {"holder": "x", "held": "y", "board_seats": 0, "source_url": ""}
        conn.execute(
            t["holdings"]
            .insert()
            .values(
                **holding,
                equity=0.3,
                voting=0.3,
                valid_from=dt.date(2024, 1, 1),
                valid_to=dt.date(2024, 6, 1),
                event_id="a",
            )
        )
        conn.execute(
            t["holdings"]
            .insert()
            .values(
                **holding,
                equity=0.4,
                voting=None,
                valid_from=dt.date(2024, 6, 1),
                valid_to=None,
                event_id="c",
            )
        )
        conn.execute(
            t["holdings"]
            .insert()
            .values(
                holder="x",
                held="z",
                board_seats=0,
                source_url="",
                equity=1.0,
                voting=1.0,
                valid_from=dt.date(2024, 7, 1),
                valid_to=None,
                event_id="t",
            )
        )
        conn.execute(
            t["ties"]
            .insert()
            .values(
                kind=1,
                organization="y",
                counterparty="x",
                person="P",
                role="",
                effective_date=dt.date(2024, 8, 1),
                source_url="",
                event_id="m",
            )
        )
    engine.dispose()

    db.migrate(database_url, MIGRATIONS_DIR)
    engine = db.make_engine(database_url)
    sessions = db.make_sessionmaker(engine)
    try:
        with sessions() as s:
            rows = s.scalars(select(HoldingRow).order_by(HoldingRow.id)).all()
            assert [(r.event_id, r.recorded_from, r.recorded_to) for r in rows] == [
                ("a", 1, None),
                ("c", 2, None),
                ("t", 3, None),
            ]
            assert [(r.equity_low, r.voting_low) for r in rows] == [
                (0.3, 0.3),
                (0.4, 0.0),
                (1.0, 1.0),
            ]
            assert s.scalars(select(TieRow.recorded_from)).all() == [4]
            pairs = s.execute(
                select(EventPairRow.seq, EventPairRow.holder, EventPairRow.held)
            ).all()
            assert sorted(pairs) == [(1, "x", "y"), (2, "x", "y"), (3, "", "z"), (3, "x", "z")]
            assert len(graph.export(s, dt.date(2024, 9, 1)).holdings) == 2
        # The migrated ledger takes a late event on the old holdings.
        with db.transaction(sessions) as s:
            late = ownership_pb2.OwnershipEvent(event_id="late", effective_date="2024-03-01")
            late.stake_changed.holder, late.stake_changed.held = name("x"), name("y")
            late.stake_changed.equity_fraction = 0.35
            ledger.record_event(s, late)
        with sessions() as s:
            [mid] = [h for h in graph.export(s, dt.date(2024, 3, 1)).holdings]
            assert (mid.event_id, mid.equity_fraction) == ("late", 0.35)
            [after] = [
                h for h in graph.export(s, dt.date(2024, 6, 1)).holdings if h.held == name("y")
            ]
            assert (after.event_id, after.equity_fraction) == ("c", 0.4)
    finally:
        engine.dispose()
