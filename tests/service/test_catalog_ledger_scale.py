"""The ledger at scale: the bulk load (``dpm.catalog.seeding``) and the one-query graph walk,
each against an oracle (recording event by event; a walk in Python), SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from dpm.catalog import ledger, seeding
from dpm.catalog.store import MIGRATIONS_DIR
from dpm.catalog.store.counters import CountersRepository
from dpm.catalog.store.graph_walk import GraphWalk
from dpm.catalog.store.models import (
    EventOrganizationRow,
    EventPairRow,
    HoldingRow,
    OutboxRow,
    OwnershipEventRow,
)
from dpm.ownership.v1 import ownership_pb2
from dpm.platform.db import Database
from dpm.platform.errors import FailedPrecondition, InvalidArgument
from tests.conftest import drop_postgres_database, postgres_database_url

NOW = dt.datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=dt.UTC)
ORGS = [seeding.NewOrganization(f"org-{c}", f"Organization {c.upper()}") for c in "abcdefghijkl"]
DAY = dt.date(2020, 1, 1)


def _stake(i: int, holder: str, held: str, equity: float, voting: float | None = None) -> Any:
    return seeding.Stake(
        f"seed-{i}", f"org-{holder}", f"org-{held}", equity, DAY + dt.timedelta(days=i), voting
    )


STAKES = [
    _stake(0, "a", "b", 1.0),  # wholly owned
    _stake(1, "b", "c", 0.3, 0.0),  # equity without votes
    _stake(2, "e", "f", 0.5),  # two holders, all of f between them
    _stake(3, "g", "f", 0.5),
    _stake(4, "h", "i", 0.4),  # a cross-holding that leaks
    _stake(5, "i", "h", 0.4),
    _stake(6, "c", "d", 0.0, 0.6),  # votes without equity
    _stake(7, "a", "j", 0.125),
]


def as_event(stake: seeding.Stake) -> ownership_pb2.OwnershipEvent:
    event = ownership_pb2.OwnershipEvent(
        event_id=stake.event_id, effective_date=stake.effective.isoformat()
    )
    event.stake_acquired.holder = f"organizations/{stake.holder}"
    event.stake_acquired.held = f"organizations/{stake.held}"
    event.stake_acquired.equity_fraction = stake.equity
    if stake.voting is not None:
        event.stake_acquired.voting_fraction = stake.voting
    return event


@contextmanager
def second_database(database_url: str, tmp_path: Path) -> Iterator[str]:
    """Another empty database of the same engine as ``database_url``."""
    if database_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'second.db'}"
        return
    url = postgres_database_url()
    assert url is not None
    try:
        yield url
    finally:
        drop_postgres_database(url)


@contextmanager
def opened(url: str) -> Iterator[Database]:
    database = Database.open(url, MIGRATIONS_DIR)
    try:
        yield database
    finally:
        database.close()


def ledger_state(session: Session) -> dict[str, Any]:
    """Everything recording writes, in a comparable form (holding ids left out)."""

    def rows(model: Any, *order: Any) -> list[tuple[Any, ...]]:
        columns = [c for c in model.__table__.columns if c.key != "id"]
        return [tuple(r) for r in session.execute(select(*columns).order_by(*order))]

    return {
        "events": rows(OwnershipEventRow, OwnershipEventRow.seq),
        "pairs": rows(EventPairRow, EventPairRow.seq, EventPairRow.holder),
        "touched": rows(
            EventOrganizationRow, EventOrganizationRow.seq, EventOrganizationRow.organization_id
        ),
        "holdings": rows(HoldingRow, HoldingRow.holder, HoldingRow.held, HoldingRow.valid_from),
        "graph_version": CountersRepository(session).read().graph_version,
    }


def test_bulk_load_leaves_the_ledger_recording_one_by_one_would(
    database_url: str, tmp_path: Path
) -> None:
    with (
        second_database(database_url, tmp_path) as other_url,
        opened(database_url) as loaded,
        opened(other_url) as recorded,
    ):
        with loaded.write() as s:
            assert seeding.load(s, ORGS, STAKES, now=NOW) == len(STAKES)
        with recorded.write() as s:
            seeding.load(s, ORGS, [], now=NOW)
        for stake in STAKES:
            with recorded.write() as s:
                assert ledger.record_event(s, as_event(stake), now=NOW).written

        with loaded.read() as a, recorded.read() as b:
            assert ledger_state(a) == ledger_state(b)

        # A seeded event sent again is a replay; later events land the same on both.
        with loaded.write() as s:
            replay = ledger.record_event(s, as_event(STAKES[1]), now=NOW)
        assert not replay.written and replay.event.graph_version == 2
        later = as_event(_stake(8, "b", "c", 0.25))
        later.stake_acquired.ClearField("voting_fraction")
        changed = ownership_pb2.OwnershipEvent(event_id="later-2", effective_date="2021-06-01")
        changed.full_acquisition.acquirer = "organizations/org-e"
        changed.full_acquisition.target = "organizations/org-f"
        upstream = []
        for database in (loaded, recorded):
            for event in (later, changed):
                with database.write() as s:
                    ledger.record_event(s, event, now=NOW)
            with database.read() as s:
                upstream.append(
                    [r.payload for r in s.scalars(select(OutboxRow).order_by(OutboxRow.id))][-2:]
                )
        with loaded.read() as a, recorded.read() as b:
            assert ledger_state(a) == ledger_state(b)
        assert [p["upstream"] for p in upstream[0]] == [p["upstream"] for p in upstream[1]]


@pytest.mark.parametrize(
    ("stakes", "message"),
    [
        ([_stake(0, "a", "b", 0.7), _stake(1, "c", "b", 0.4)], "more than 1"),
        ([_stake(0, "a", "b", 1.0), _stake(1, "b", "a", 1.0)], "closed cycle"),
        ([_stake(0, "a", "b", 0.0, 1.0), _stake(1, "b", "a", 0.0, 1.0)], "closed cycle"),
        ([_stake(0, "a", "b", 0.1), _stake(1, "a", "b", 0.2)], "one stake per pair"),
        ([_stake(0, "a", "zz", 0.1)], "does not exist"),
        ([_stake(0, "a", "a", 0.1)], "cannot hold itself"),
        ([_stake(0, "a", "b", 1.5)], "1.5 must be in"),
    ],
)
def test_bulk_load_refuses_what_recording_would_refuse(
    database_url: str, stakes: list[seeding.Stake], message: str
) -> None:
    with opened(database_url) as database:
        with pytest.raises(InvalidArgument, match=message), database.write() as s:
            seeding.load(s, ORGS, stakes)
        with database.read() as s:  # nothing half-written
            assert ledger_state(s)["events"] == []
            assert ledger_state(s)["graph_version"] == 0


def test_bulk_load_needs_an_empty_ledger(database_url: str) -> None:
    with opened(database_url) as database:
        with database.write() as s:
            seeding.load(s, ORGS, STAKES[:1])
        with pytest.raises(FailedPrecondition), database.write() as s:
            seeding.load(s, [], STAKES[1:2])


def _oracle(
    edges: list[tuple[str, str, dt.date | None, bool, float, float]],
    roots: set[str],
    since: dt.date,
    upward: bool,
    axis: str,
) -> set[str]:
    seen: set[str] = set()
    frontier = set(roots)
    while frontier:
        found = set()
        for holder, held, valid_to, known, equity, voting in edges:
            if not known or (valid_to is not None and valid_to <= since):
                continue
            if (axis == "equity" and equity <= 0) or (axis == "voting" and voting <= 0):
                continue
            start, end = (held, holder) if upward else (holder, held)
            if start in frontier:
                found.add(end)
        frontier = found - seen
        seen |= frontier
    return seen


def test_graph_walk_is_the_walk_over_known_edges_in_effect(database_url: str) -> None:
    rng = random.Random(5)
    ids = [org.id for org in ORGS]
    edges = []
    for _ in range(40):
        holder, held = rng.sample(ids, 2)
        valid_to = rng.choice([None, dt.date(2021, 1, 1), dt.date(2023, 1, 1)])
        known = rng.random() < 0.8
        edges.append(
            (holder, held, valid_to, known, rng.choice([0.0, 0.2]), rng.choice([0.0, 0.3]))
        )
    with opened(database_url) as database:
        with database.write() as s:
            seeding.load(s, ORGS, [])
            for i, (holder, held, valid_to, known, equity, voting) in enumerate(edges):
                s.add(
                    HoldingRow(
                        holder=holder,
                        held=held,
                        equity=equity,
                        voting=voting,
                        equity_low=equity,
                        voting_low=voting,
                        valid_from=dt.date(2020, 1, 1),
                        valid_to=valid_to,
                        event_id=f"e{i}",
                        recorded_from=0,
                        recorded_to=None if known else 1,
                    )
                )
        with database.read() as s:
            walk = GraphWalk(s)
            for since in (dt.date(2020, 6, 1), dt.date(2022, 1, 1), dt.date(2024, 1, 1)):
                for node in ids:
                    for axis in ("", "equity", "voting"):
                        assert walk.ancestors(node, since, axis=axis) == _oracle(
                            edges, {node}, since, True, axis
                        )
                        assert walk.descendants(node, since, axis=axis) == _oracle(
                            edges, {node}, since, False, axis
                        )
                roots = set(rng.sample(ids, 3))
                assert walk.ancestors_of(roots, since) == roots | _oracle(
                    edges, roots, since, True, ""
                )
