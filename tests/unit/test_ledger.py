"""The ledger's rules, called directly inside a real (SQLite) transaction, no gRPC."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from dpm.catalog import ledger
from dpm.catalog.event_kinds import HANDLERS
from dpm.catalog.store import MIGRATIONS_DIR
from dpm.catalog.store.models import HoldingRow, OrganizationRow, OutboxRow, OwnershipEventRow
from dpm.ownership.v1 import ownership_pb2
from dpm.platform import db
from dpm.platform.errors import AlreadyExists, FailedPrecondition, InvalidArgument

VECTORS = json.loads((Path(__file__).parents[1] / "data" / "ownership-vectors.json").read_text())


def slug(name: str) -> str:
    return name.lower()


@pytest.fixture
def sessions(tmp_path: Path) -> Iterator[sessionmaker[Session]]:
    url = f"sqlite:///{tmp_path / 'catalog.db'}"
    db.migrate(url, MIGRATIONS_DIR)
    engine = db.make_engine(url)
    yield db.make_sessionmaker(engine)
    engine.dispose()


def add_orgs(sessions: sessionmaker[Session], *names: str) -> None:
    import datetime as dt

    now = dt.datetime.now(dt.UTC)
    with db.transaction(sessions) as s:
        for name in names:
            s.add(
                OrganizationRow(
                    id=slug(name),
                    display_name=name,
                    kind=1,
                    country="",
                    source_urls=[],
                    create_time=now,
                    update_time=now,
                )
            )


def acquire(
    event_id: str, holder: str, held: str, equity: float, votes: float | None = None
) -> ownership_pb2.OwnershipEvent:
    event = ownership_pb2.OwnershipEvent(event_id=event_id, effective_date="2024-01-01")
    event.stake_acquired.holder = f"organizations/{slug(holder)}"
    event.stake_acquired.held = f"organizations/{slug(held)}"
    event.stake_acquired.equity_fraction = equity
    if votes is not None:
        event.stake_acquired.voting_fraction = votes
    return event


def record(sessions: sessionmaker[Session], event: ownership_pb2.OwnershipEvent) -> ledger.Recorded:
    with db.transaction(sessions) as s:
        return ledger.record_event(s, event)


def counts(sessions: sessionmaker[Session]) -> tuple[int, int, int]:
    with sessions() as s:
        return tuple(  # type: ignore[return-value]
            int(s.scalar(select(func.count()).select_from(model)) or 0)
            for model in (OwnershipEventRow, HoldingRow, OutboxRow)
        )


@pytest.mark.parametrize(
    "vector", [v for v in VECTORS["vectors"] if "error" not in v["expected"]], ids=lambda v: v["id"]
)
def test_every_legal_vector_graph_is_accepted(
    sessions: sessionmaker[Session], vector: dict
) -> None:
    add_orgs(sessions, *vector["nodes"])
    for i, edge in enumerate(vector["edges"]):
        record(
            sessions,
            acquire(f"e{i}", edge["holder"], edge["held"], edge["equity"], edge.get("votes")),
        )
    assert counts(sessions)[0] == len(vector["edges"])


def test_closed_cycle_vector_is_refused_and_nothing_written(
    sessions: sessionmaker[Session],
) -> None:
    vector = next(v for v in VECTORS["vectors"] if v["id"] == "j_closed_cycle_error")
    add_orgs(sessions, *vector["nodes"])
    first, second = vector["edges"]
    record(sessions, acquire("first", first["holder"], first["held"], first["equity"]))
    before = counts(sessions)
    with pytest.raises(InvalidArgument) as info:
        record(sessions, acquire("second", second["holder"], second["held"], second["equity"]))
    assert info.value.violations[0].field == "event.stake_acquired.equity_fraction"
    assert "organizations/a, organizations/b" in info.value.message
    assert counts(sessions) == before


def test_three_node_closed_cycle_is_refused(sessions: sessionmaker[Session]) -> None:
    add_orgs(sessions, "A", "B", "C")
    record(sessions, acquire("ab", "A", "B", 1.0))
    record(sessions, acquire("bc", "B", "C", 1.0))
    with pytest.raises(InvalidArgument):
        record(sessions, acquire("ca", "C", "A", 1.0))
    record(sessions, acquire("ca-part", "C", "A", 0.999))


def test_equity_and_vote_totals(sessions: sessionmaker[Session]) -> None:
    add_orgs(sessions, "A", "B", "T")
    record(sessions, acquire("a", "A", "T", 0.6, 0.2))
    with pytest.raises(InvalidArgument) as info:
        record(sessions, acquire("b", "B", "T", 0.5, 0.1))
    assert info.value.violations[0].field == "event.stake_acquired.equity_fraction"
    assert "1.1" in info.value.message
    with pytest.raises(InvalidArgument) as info:
        record(sessions, acquire("b", "B", "T", 0.3, 0.9))
    assert info.value.violations[0].field == "event.stake_acquired.voting_fraction"
    record(sessions, acquire("b", "B", "T", 0.4, 0.8))  # exactly 1: fine


def test_replay_and_conflict(sessions: sessionmaker[Session]) -> None:
    add_orgs(sessions, "A", "B")
    first = record(sessions, acquire("x", "A", "B", 0.3))
    assert first.written
    before = counts(sessions)
    again = record(sessions, acquire("x", "A", "B", 0.3))
    assert not again.written and again.event == first.event
    assert counts(sessions) == before
    with pytest.raises(AlreadyExists, match=r"'x'.*different content"):
        record(sessions, acquire("x", "A", "B", 0.31))


def test_upstream_holds_ancestors_before_and_after(sessions: sessionmaker[Session]) -> None:
    add_orgs(sessions, "Top", "Mid", "Lab", "Vendor", "Other")
    record(sessions, acquire("1", "Top", "Mid", 0.5))
    record(sessions, acquire("2", "Mid", "Lab", 0.5))
    record(sessions, acquire("3", "Lab", "Vendor", 0.2))
    record(sessions, acquire("4", "Other", "Vendor", 0.1))
    with db.transaction(sessions) as s:
        rows = s.scalars(select(OutboxRow).order_by(OutboxRow.id)).all()
        assert rows[-2].payload["upstream"] == [
            "organizations/lab",
            "organizations/mid",
            "organizations/top",
        ]
        assert rows[-1].payload == {
            "v": 1,
            "event": "ownershipEvents/4",
            "graph_version": 4,
            "upstream": ["organizations/other"],
        }


def test_back_dated_change_is_a_failed_precondition(sessions: sessionmaker[Session]) -> None:
    add_orgs(sessions, "A", "B")
    record(sessions, acquire("x", "A", "B", 0.3))
    late = acquire("y", "A", "B", 0.4)
    late.effective_date = "2023-12-31"
    with pytest.raises(FailedPrecondition, match="out of order"):
        record(sessions, late)


def test_every_member_of_the_change_oneof_has_a_handler() -> None:
    oneof = ownership_pb2.OwnershipEvent.DESCRIPTOR.oneofs_by_name["change"]
    assert set(HANDLERS) == {field.name for field in oneof.fields}
