"""The ledger's rules, called directly in a real transaction (SQLite and PostgreSQL), no gRPC."""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from dpm.catalog import graph, ledger
from dpm.catalog.event_kinds import HANDLERS
from dpm.catalog.store import MIGRATIONS_DIR
from dpm.catalog.store.graph_walk import GraphWalk
from dpm.catalog.store.models import (
    HoldingRow,
    OrganizationRow,
    OutboxRow,
    OwnershipEventRow,
    TieRow,
)
from dpm.catalog.upstream import with_upstream
from dpm.ownership.v1 import ownership_pb2
from dpm.platform import db
from dpm.platform.errors import AlreadyExists, FailedPrecondition, InvalidArgument
from dpm.platform.events import OwnershipChanged

VECTORS = json.loads((Path(__file__).parents[1] / "data" / "ownership-vectors.json").read_text())


def slug(name: str) -> str:
    return name.lower()


def org(name: str) -> str:
    return f"organizations/{slug(name)}"


@pytest.fixture
def sessions(database_url: str) -> Iterator[sessionmaker[Session]]:
    db.migrate(database_url, MIGRATIONS_DIR)
    engine = db.make_engine(database_url)
    yield db.make_sessionmaker(engine)
    engine.dispose()


def add_orgs(sessions: sessionmaker[Session], *names: str) -> None:
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
    event_id: str,
    holder: str,
    held: str,
    equity: float | None,
    votes: float | None = None,
    date: str = "2024-01-01",
    kind: str = "stake_acquired",
) -> ownership_pb2.OwnershipEvent:
    event = ownership_pb2.OwnershipEvent(event_id=event_id, effective_date=date)
    change = getattr(event, kind)
    change.holder, change.held = org(holder), org(held)
    if equity is not None:
        change.equity_fraction = equity
    if votes is not None:
        change.voting_fraction = votes
    return event


def pair_event(
    event_id: str, kind: str, holder: str, held: str, date: str, **fields: Any
) -> ownership_pb2.OwnershipEvent:
    event = ownership_pb2.OwnershipEvent(event_id=event_id, effective_date=date)
    change = getattr(event, kind)
    if kind == "full_acquisition":
        change.acquirer, change.target = org(holder), org(held)
    else:
        change.holder, change.held = org(holder), org(held)
    for key, value in fields.items():
        setattr(change, key, value)
    return event


def record(
    sessions: sessionmaker[Session], event: ownership_pb2.OwnershipEvent, **kwargs: Any
) -> ledger.Recorded:
    with db.transaction(sessions) as s:
        return ledger.record_event(s, event, **kwargs)


def counts(sessions: sessionmaker[Session]) -> tuple[int, int, int]:
    with sessions() as s:
        return tuple(  # type: ignore[return-value]
            int(s.scalar(select(func.count()).select_from(model)) or 0)
            for model in (OwnershipEventRow, HoldingRow, OutboxRow)
        )


def export(
    sessions: sessionmaker[Session], as_of: str, known_at: dt.datetime | None = None
) -> ownership_pb2.OwnershipGraph:
    with sessions() as s:
        return graph.export(s, dt.date.fromisoformat(as_of), as_known_at=known_at)


def stakes(
    sessions: sessionmaker[Session], as_of: str, known_at: dt.datetime | None = None
) -> dict[tuple[str, str], tuple[float, float]]:
    """(holder slug, held slug) -> (equity, votes) in force on as_of."""
    return {
        (h.holder.split("/")[1], h.held.split("/")[1]): (h.equity_fraction, h.voting_fraction)
        for h in export(sessions, as_of, known_at).holdings
    }


# ---------------------------------------------------------------------------- vectors, sums


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
    assert "2024-01-01" in info.value.message
    assert counts(sessions) == before


def test_three_node_closed_cycle_is_refused(sessions: sessionmaker[Session]) -> None:
    add_orgs(sessions, "A", "B", "C")
    record(sessions, acquire("ab", "A", "B", 1.0))
    record(sessions, acquire("bc", "B", "C", 1.0))
    with pytest.raises(InvalidArgument):
        record(sessions, acquire("ca", "C", "A", 1.0))
    record(sessions, acquire("ca-part", "C", "A", 0.999))


def test_a_vote_only_closed_cycle_is_refused_naming_the_companies(
    sessions: sessionmaker[Session],
) -> None:
    # Issue 6, case 3: 10% of the equity but all the votes, both ways.
    add_orgs(sessions, "X", "Y")
    record(sessions, acquire("xy", "X", "Y", 0.1, 1.0))
    before = counts(sessions)
    with pytest.raises(InvalidArgument) as info:
        record(sessions, acquire("yx", "Y", "X", 0.1, 1.0))
    assert info.value.violations[0].field == "event.stake_acquired.voting_fraction"
    assert "organizations/x, organizations/y" in info.value.message
    assert "votes" in info.value.message
    assert counts(sessions) == before
    record(sessions, acquire("yx-part", "Y", "X", 0.1, 0.9))  # some votes outside: fine


def test_a_back_dated_closed_cycle_is_refused_on_its_date(
    sessions: sessionmaker[Session],
) -> None:
    add_orgs(sessions, "A", "B", "C")
    record(sessions, acquire("ab", "A", "B", 1.0, date="2020-01-01"))
    record(sessions, pair_event("seat", "board_seat_granted", "B", "A", "2019-01-01"))
    record(sessions, acquire("ba-2023", "B", "A", 0.5, date="2023-01-01", kind="stake_changed"))
    record(sessions, acquire("ca", "C", "A", 0.5, date="2023-01-01"))
    # Filed late: B held all of A from 2021 to 2023, while A held all of B.
    with pytest.raises(InvalidArgument) as info:
        record(sessions, acquire("ba-2021", "B", "A", 1.0, date="2021-01-01", kind="stake_changed"))
    assert info.value.violations[0].field == "event.stake_changed.equity_fraction"
    assert "organizations/a, organizations/b" in info.value.message
    assert "on 2021-01-01" in info.value.message


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


def test_totals_hold_on_every_date_not_only_now(sessions: sessionmaker[Session]) -> None:
    add_orgs(sessions, "A", "B", "T")
    record(sessions, acquire("a", "A", "T", 0.6, date="2020-01-01"))
    record(sessions, pair_event("a-out", "stake_divested", "A", "T", "2022-01-01"))
    record(sessions, acquire("b-now", "B", "T", 0.6, date="2023-01-01"))  # after A left: fine
    with pytest.raises(InvalidArgument) as info:
        # B's filing was late: it bought in 2021, while A still held 60%.
        record(sessions, acquire("b-then", "B", "T", 0.6, date="2021-01-01"))
    assert "1.2" in info.value.message and "on 2021-01-01" in info.value.message


def test_ranges_count_with_their_minimum(sessions: sessionmaker[Session]) -> None:
    add_orgs(sessions, "A", "B", "T")
    event = acquire("a", "A", "T", None)
    event.stake_acquired.equity_range.minimum = 0.25
    event.stake_acquired.equity_range.maximum = 0.5
    event.stake_acquired.equity_range.exclusive_minimum = True
    record(sessions, event)
    [holding] = export(sessions, "2024-06-01").holdings
    assert not holding.HasField("equity_fraction") and not holding.HasField("voting_fraction")
    assert holding.equity_range == event.stake_acquired.equity_range
    assert holding.voting_range == event.stake_acquired.equity_range  # votes = the equity
    # 0.75 more makes exactly 1 with the minimums, but the minimum is exclusive: more than 1.
    with pytest.raises(InvalidArgument) as info:
        record(sessions, acquire("b", "B", "T", 0.75))
    assert "more than 1" in info.value.message
    record(sessions, acquire("b", "B", "T", 0.7))
    # An undisclosed stake counts as 0.
    add_orgs(sessions, "C")
    record(sessions, acquire("c", "C", "T", None))
    bad = acquire("d", "C", "T", 0.1)
    bad.stake_acquired.equity_range.minimum = 0.1
    with pytest.raises(InvalidArgument) as info:
        record(sessions, bad)
    assert info.value.violations[0].field == "event.stake_acquired.equity_range"
    empty = acquire("e", "C", "T", None)
    empty.stake_acquired.voting_range.minimum = 0.3
    empty.stake_acquired.voting_range.maximum = 0.3
    empty.stake_acquired.voting_range.exclusive_maximum = True
    with pytest.raises(InvalidArgument) as info:
        record(sessions, empty)
    assert info.value.violations[0].field == "event.stake_acquired.voting_range.maximum"


# ---------------------------------------------------------------------------- replay, outbox


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


def published(sessions: sessionmaker[Session], *, merged: bool = False) -> list[dict[str, Any]]:
    """What the relay would publish for the outbox rows now (one message per row, or
    the whole run merged), walked from the current snapshot as the relay walks."""
    with sessions() as s:
        rows = s.scalars(select(OutboxRow).order_by(OutboxRow.id)).all()
        payloads = [dict(row.payload) for row in rows]
        if merged:
            run = [OwnershipChanged.from_payload(p) for p in payloads]
            payloads = [OwnershipChanged.merged(run).to_payload()]
        return [with_upstream(s, OwnershipChanged.TASK, p) for p in payloads]


def test_an_event_writes_what_it_changed_and_the_relay_adds_what_holds_it(
    sessions: sessionmaker[Session],
) -> None:
    add_orgs(sessions, "Top", "Mid", "Lab", "Vendor", "Other")
    record(sessions, acquire("1", "Top", "Mid", 0.5))
    record(sessions, acquire("2", "Mid", "Lab", 0.5))
    before = time.time()
    record(sessions, acquire("3", "Lab", "Vendor", 0.2))
    after = time.time()
    with sessions() as s:
        row = s.scalars(select(OutboxRow).order_by(OutboxRow.id.desc())).first()
        assert row is not None
        payload = dict(row.payload)
        # When it was written: what the workers time the re-match from.
        assert before <= payload.pop("written_at") <= after
        # As written: the changed pair's ends and the first changed date, nothing walked.
        assert payload == {
            "v": 1,
            "event": "ownershipEvents/3",
            "graph_version": 3,
            "upstream": [org("Lab"), org("Vendor")],
            "since": "2024-01-01",
        }
    assert published(sessions)[-1]["upstream"] == [org(o) for o in ("Lab", "Mid", "Top", "Vendor")]
    record(sessions, acquire("4", "Other", "Vendor", 0.1))
    # Lab's voting power in Vendor changes with Other's stake: its groups re-match too.
    last = published(sessions)[-1]
    assert last.pop("written_at") > 0
    assert last == {
        "v": 1,
        "event": "ownershipEvents/4",
        "graph_version": 4,
        "upstream": [org(o) for o in ("Lab", "Mid", "Other", "Top", "Vendor")],
    }
    # A run of events goes out as one, timed from the run's first commit.
    merged = published(sessions, merged=True)[0]
    assert merged["written_at"] == min(p["written_at"] for p in published(sessions))


def test_upstream_covers_holders_that_were_there_only_before(
    sessions: sessionmaker[Session],
) -> None:
    add_orgs(sessions, "Fund", "Lab", "Vendor")
    record(sessions, acquire("f", "Fund", "Lab", 0.5, date="2020-01-01"))
    record(sessions, acquire("l", "Lab", "Vendor", 0.3, date="2020-01-01"))
    # Retracting Lab's stake: Fund's exposure to Vendor changes although Lab holds none after.
    retract = ownership_pb2.OwnershipEvent(event_id="r", supersedes="l")
    retract.retraction.SetInParent()
    record(sessions, retract)
    assert published(sessions)[-1]["upstream"] == [org("Fund"), org("Lab"), org("Vendor")]


def walked_now(sessions: sessionmaker[Session]) -> set[str]:
    """The newest row's changed organizations and everything holding them from its date
    on, as the graph is now: what the ledger named, walking inside the write, before
    the relay did the walk."""
    with sessions() as s:
        row = s.scalars(select(OutboxRow).order_by(OutboxRow.id.desc())).first()
        assert row is not None
        roots = [name.removeprefix("organizations/") for name in row.payload["upstream"]]
        if not row.payload.get("since"):
            return set(row.payload["upstream"])
        since = dt.date.fromisoformat(row.payload["since"])
        return {org_name(o) for o in GraphWalk(s).ancestors_of(roots, since)}


def org_name(org_id: str) -> str:
    return f"organizations/{org_id}"


NODES = ["A", "B", "C", "D", "E", "F"]
DAYS = ["2021-01-01", "2022-01-01", "2023-01-01"]


@st.composite
def histories(draw: st.DrawFn) -> list[ownership_pb2.OwnershipEvent]:
    """Stakes bought, changed and sold between a few organizations on a few dates, some
    dated before events already recorded, some corrected or retracted."""
    events: list[ownership_pb2.OwnershipEvent] = []
    for number in range(draw(st.integers(1, 12))):
        holder, held = draw(st.sampled_from([(a, b) for a in NODES for b in NODES if a != b]))
        day = draw(st.sampled_from(DAYS))
        kinds = ["stake_acquired", "stake_changed", "stake_divested", "full_acquisition"]
        kind = draw(st.sampled_from([*kinds, "contract_tie", "undo"]))
        if kind == "undo" and not events:
            kind = "stake_acquired"
        if kind == "undo":
            event = ownership_pb2.OwnershipEvent(
                event_id=f"e{number}", supersedes=draw(st.sampled_from(events)).event_id
            )
            event.retraction.SetInParent()
        elif kind == "contract_tie":
            event = ownership_pb2.OwnershipEvent(event_id=f"e{number}", effective_date=day)
            tie = event.contract_tie
            tie.kind, tie.organization, tie.counterparty = 3, org(holder), org(held)
        elif kind in ("stake_divested", "full_acquisition"):
            event = pair_event(f"e{number}", kind, holder, held, day)
        else:
            equity = draw(st.sampled_from([0.05, 0.2, 0.3]))
            event = acquire(f"e{number}", holder, held, equity, date=day, kind=kind)
        events.append(event)
    return events


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(events=histories())
def test_the_relays_later_walk_finds_every_organization_the_walk_at_each_event_would(
    tmp_path_factory: pytest.TempPathFactory, events: list[ownership_pb2.OwnershipEvent]
) -> None:
    """Walking each event's changed organizations at its own version (what the ledger did
    inside the write) finds nothing the relay's walk after the last event misses: in the
    message of the event itself or of a later one, and in the run merged into one."""
    url = f"sqlite:///{tmp_path_factory.mktemp('walk') / 'ledger.db'}"
    db.migrate(url, MIGRATIONS_DIR)
    engine = db.make_engine(url)
    sessions = db.make_sessionmaker(engine)
    try:
        add_orgs(sessions, *NODES)
        at_write: list[set[str]] = []
        for event in events:
            try:
                recorded = record(sessions, event)
            except (InvalidArgument, FailedPrecondition):
                continue
            if recorded.written:
                at_write.append(walked_now(sessions))
        later = [set(p["upstream"]) for p in published(sessions)]
        assert len(later) == len(at_write)
        for index, found in enumerate(at_write):
            assert found <= set().union(*later[index:]), (index, found, later)
        if at_write:
            assert set().union(*at_write) <= set(published(sessions, merged=True)[0]["upstream"])
    finally:
        engine.dispose()


# ---------------------------------------------------------------------------- late facts


def test_a_late_filing_lands_on_its_date(sessions: sessionmaker[Session]) -> None:
    add_orgs(sessions, "A", "B")
    record(sessions, acquire("x", "A", "B", 0.3, date="2024-01-01"))
    record(sessions, acquire("z", "A", "B", 0.5, date="2025-01-01", kind="stake_changed"))
    # Filed late: a change in mid-2024, between the two.
    record(sessions, acquire("y", "A", "B", 0.4, date="2024-06-01", kind="stake_changed"))
    assert stakes(sessions, "2023-12-31") == {}
    assert stakes(sessions, "2024-05-31") == {("a", "b"): (0.3, 0.3)}
    assert stakes(sessions, "2024-06-01") == {("a", "b"): (0.4, 0.4)}
    assert stakes(sessions, "2025-01-01") == {("a", "b"): (0.5, 0.5)}
    periods = [
        (h.valid_from, h.valid_to, h.event_id)
        for day in ("2024-01-01", "2024-06-01", "2025-01-01")
        for h in export(sessions, day).holdings
    ]
    assert periods == [
        ("2024-01-01", "2024-06-01", "x"),
        ("2024-06-01", "2025-01-01", "y"),
        ("2025-01-01", "", "z"),
    ]
    # Even earlier than everything: an acquisition in 2020 (the 2024 one becomes a top-up).
    record(sessions, acquire("w", "A", "B", 0.1, date="2020-01-01"))
    assert stakes(sessions, "2022-01-01") == {("a", "b"): (0.1, 0.1)}
    assert stakes(sessions, "2025-01-01") == {("a", "b"): (0.5, 0.5)}


def test_a_change_before_any_stake_is_refused(sessions: sessionmaker[Session]) -> None:
    add_orgs(sessions, "A", "B")
    record(sessions, acquire("x", "A", "B", 0.3, date="2024-01-01"))
    with pytest.raises(FailedPrecondition, match="holds no stake in organizations/b on 2023-06-01"):
        record(sessions, acquire("y", "A", "B", 0.4, date="2023-06-01", kind="stake_changed"))


def test_a_late_event_that_breaks_a_recorded_one_is_refused_naming_it(
    sessions: sessionmaker[Session],
) -> None:
    add_orgs(sessions, "A", "B")
    record(sessions, acquire("x", "A", "B", 0.3, date="2024-01-01"))
    record(sessions, acquire("z", "A", "B", 0.5, date="2025-01-01", kind="stake_changed"))
    before = counts(sessions)
    with pytest.raises(FailedPrecondition) as info:
        record(sessions, pair_event("gone", "stake_divested", "A", "B", "2024-06-01"))
    assert info.value.reason == "CONFLICTS_WITH_RECORDED_EVENT"
    assert "ownershipEvents/z (stake_changed on 2025-01-01) no longer applies" in info.value.message
    assert counts(sessions) == before


def test_full_acquisition_recorded_late_ends_every_other_holding_on_its_date(
    sessions: sessionmaker[Session],
) -> None:
    add_orgs(sessions, "A", "B", "C", "T")
    record(sessions, acquire("b", "B", "T", 0.2, date="2020-01-01"))
    record(sessions, pair_event("seat", "board_seat_granted", "A", "T", "2020-06-01", seats=2))
    record(sessions, pair_event("take", "full_acquisition", "A", "T", "2023-01-01"))
    # Learned later: C had bought 10% in 2021; the acquisition ended it too.
    record(sessions, acquire("c", "C", "T", 0.1, date="2021-01-01"))
    assert stakes(sessions, "2022-01-01") == {
        ("a", "t"): (0.0, 0.0),
        ("b", "t"): (0.2, 0.2),
        ("c", "t"): (0.1, 0.1),
    }
    assert stakes(sessions, "2023-01-01") == {("a", "t"): (1.0, 1.0)}
    [acquirer] = export(sessions, "2023-01-01").holdings
    assert acquirer.board_seats == 2  # the acquirer keeps its seats
    # A stake after the acquisition would make more than all of T.
    with pytest.raises(InvalidArgument, match="on 2024-01-01"):
        record(sessions, acquire("late", "C", "T", 0.1, date="2024-01-01"))
    # An acquisition recorded late, before stakes that were recorded already.
    add_orgs(sessions, "U")
    record(sessions, acquire("bu", "B", "U", 0.3, date="2022-01-01"))
    with pytest.raises(InvalidArgument):
        record(sessions, pair_event("take-u", "full_acquisition", "A", "U", "2021-01-01"))


# ---------------------------------------------------------------------------- corrections


def test_a_correction_replaces_the_wrong_event_from_its_record_time_on(
    sessions: sessionmaker[Session],
) -> None:
    add_orgs(sessions, "A", "B", "C")
    t0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    record(sessions, acquire("wrong", "A", "B", 0.5, date="2024-01-01"), now=t0)
    fix = acquire("right", "C", "B", 0.05, date="2024-02-01")
    fix.supersedes = "wrong"
    recorded = record(sessions, fix, now=t0 + dt.timedelta(days=1))
    assert recorded.event.supersedes == "wrong"
    assert stakes(sessions, "2025-01-01") == {("c", "b"): (0.05, 0.05)}
    # As known before the correction: the wrong figure.
    assert stakes(sessions, "2025-01-01", t0 + dt.timedelta(hours=1)) == {("a", "b"): (0.5, 0.5)}
    with sessions() as s:
        wrong = ledger.get_event(s, ledger.OwnershipEventName("wrong"))
        assert wrong.superseded_by == "right"
        assert wrong.stake_acquired.equity_fraction == 0.5  # history stays readable
        page = ledger.list_page(s, None, None, 10)
        assert [(e.event_id, e.superseded_by) for e in page] == [("wrong", "right"), ("right", "")]


def test_correction_rules(sessions: sessionmaker[Session]) -> None:
    add_orgs(sessions, "A", "B")
    record(sessions, acquire("x", "A", "B", 0.3))
    unknown = acquire("y", "A", "B", 0.2)
    unknown.supersedes = "nobody"
    with pytest.raises(InvalidArgument) as info:
        record(sessions, unknown)
    assert info.value.violations[0].field == "event.supersedes"
    assert "ownershipEvents/nobody does not exist" in info.value.message
    itself = acquire("y", "A", "B", 0.2)
    itself.supersedes = "y"
    with pytest.raises(InvalidArgument, match="itself"):
        record(sessions, itself)
    bad_id = acquire("y", "A", "B", 0.2)
    bad_id.supersedes = "a b"
    with pytest.raises(InvalidArgument):
        record(sessions, bad_id)
    lone = ownership_pb2.OwnershipEvent(event_id="r0", effective_date="2024-01-01")
    lone.retraction.SetInParent()
    with pytest.raises(InvalidArgument) as info:
        record(sessions, lone)
    assert info.value.violations[0].field == "event.supersedes"

    fix = acquire("y", "A", "B", 0.2)
    fix.supersedes = "x"
    record(sessions, fix)
    again = acquire("z", "A", "B", 0.25)
    again.supersedes = "x"
    with pytest.raises(FailedPrecondition) as refused:
        record(sessions, again)
    assert refused.value.reason == "ALREADY_SUPERSEDED"
    assert "ownershipEvents/y" in refused.value.message
    # Retract the correction: nothing is left.
    retract = ownership_pb2.OwnershipEvent(event_id="r", supersedes="y")
    retract.retraction.SetInParent()
    done = record(sessions, retract)
    assert done.event.effective_date == ""  # it states none; it takes y's for its own row
    assert stakes(sessions, "2025-01-01") == {}
    undo = ownership_pb2.OwnershipEvent(event_id="r2", supersedes="r")
    undo.retraction.SetInParent()
    with pytest.raises(FailedPrecondition) as refused:
        record(sessions, undo)
    assert refused.value.reason == "SUPERSEDES_RETRACTION"


def test_retracting_an_acquisition_that_a_later_change_needs_is_refused(
    sessions: sessionmaker[Session],
) -> None:
    add_orgs(sessions, "A", "B")
    record(sessions, acquire("x", "A", "B", 0.3, date="2024-01-01"))
    record(sessions, acquire("y", "A", "B", 0.4, date="2024-06-01", kind="stake_changed"))
    retract = ownership_pb2.OwnershipEvent(event_id="r", supersedes="x")
    retract.retraction.SetInParent()
    with pytest.raises(FailedPrecondition, match="ownershipEvents/y"):
        record(sessions, retract)


def test_a_retracted_tie_disappears_from_then_on(sessions: sessionmaker[Session]) -> None:
    add_orgs(sessions, "Vendor", "Lab")
    t0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    move = ownership_pb2.OwnershipEvent(event_id="move", effective_date="2025-06-13")
    move.leadership_move.person = "Someone"
    move.leadership_move.from_organization = org("Vendor")
    move.leadership_move.to_organization = org("Lab")
    move.provenance.source_type = ownership_pb2.SOURCE_TYPE_THIRD_PARTY
    move.provenance.asserted_by = "A newspaper"
    record(sessions, move, now=t0)
    [tie] = export(sessions, "2025-07-01").ties
    assert tie.provenance.asserted_by == "A newspaper"
    retract = ownership_pb2.OwnershipEvent(event_id="r", supersedes="move")
    retract.retraction.SetInParent()
    record(sessions, retract, now=t0 + dt.timedelta(days=1))
    assert list(export(sessions, "2025-07-01").ties) == []
    assert len(export(sessions, "2025-07-01", t0 + dt.timedelta(hours=1)).ties) == 1
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(TieRow)) == 1  # retired, not deleted


def test_record_time_never_goes_back(sessions: sessionmaker[Session]) -> None:
    add_orgs(sessions, "A", "B")
    t0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    first = record(sessions, acquire("x", "A", "B", 0.3), now=t0)
    second = record(sessions, acquire("y", "A", "B", 0.4), now=t0 - dt.timedelta(hours=1))
    assert second.event.record_time.ToDatetime() >= first.event.record_time.ToDatetime()


# ---------------------------------------------------------------------------- bounds


def long_text(n: int) -> str:
    return "x" * n


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda e: setattr(e, "effective_date", "9999-12-31"), "event.effective_date"),
        (lambda e: setattr(e, "effective_date", "1799-12-31"), "event.effective_date"),
        (lambda e: setattr(e, "effective_date", "20240101"), "event.effective_date"),
        (lambda e: setattr(e, "summary", long_text(2001)), "event.summary"),
        (lambda e: setattr(e, "summary", "a\x00b"), "event.summary"),
        (lambda e: setattr(e, "source_url", "https://x/" + long_text(2000)), "event.source_url"),
        (lambda e: setattr(e, "source_url", "https://x/\x00"), "event.source_url"),
        (
            lambda e: setattr(e.provenance, "asserted_by", long_text(301)),
            "event.provenance.asserted_by",
        ),
        (lambda e: setattr(e.provenance, "source_type", 77), "event.provenance.source_type"),
        (
            lambda e: setattr(e.provenance, "statement_date", "9999-01-01"),
            "event.provenance.statement_date",
        ),
        (lambda e: setattr(e.provenance, "statement_id", "\x00"), "event.provenance.statement_id"),
        (
            lambda e: setattr(e.stake_acquired, "board_seats", 2**31 - 1),
            "event.stake_acquired.board_seats",
        ),
    ],
)
def test_out_of_bounds_input_is_refused_naming_the_field(
    sessions: sessionmaker[Session], mutate: Any, field: str
) -> None:
    add_orgs(sessions, "A", "B")
    event = acquire("x", "A", "B", 0.3)
    mutate(event)
    with pytest.raises(InvalidArgument) as info:
        record(sessions, event)
    assert [v.field for v in info.value.violations] == [field]
    assert len(info.value.message) < 300  # a bad value is quoted as a short prefix
    assert counts(sessions) == (0, 0, 0)


def test_tie_text_and_kinds_are_bounded(sessions: sessionmaker[Session]) -> None:
    add_orgs(sessions, "A", "B")
    move = ownership_pb2.OwnershipEvent(event_id="m", effective_date="2025-01-01")
    move.leadership_move.from_organization, move.leadership_move.to_organization = (
        org("A"),
        org("B"),
    )
    for person, role, field in [
        (long_text(301), "", "event.leadership_move.person"),
        ("Someone", long_text(301), "event.leadership_move.role"),
        ("Some\x00one", "", "event.leadership_move.person"),
        ("  ", "", "event.leadership_move.person"),
    ]:
        move.leadership_move.person, move.leadership_move.role = person, role
        with pytest.raises(InvalidArgument) as info:
            record(sessions, move)
        assert [v.field for v in info.value.violations] == [field]
    tie = ownership_pb2.OwnershipEvent(event_id="t", effective_date="2025-01-01")
    tie.contract_tie.organization, tie.contract_tie.counterparty = org("A"), org("B")
    for kind in (0, 9999, ownership_pb2.TIE_KIND_LEADERSHIP_MOVE):
        tie.contract_tie.kind = kind  # type: ignore[assignment]
        with pytest.raises(InvalidArgument) as info:
            record(sessions, tie)
        assert [v.field for v in info.value.violations] == ["event.contract_tie.kind"]
    assert counts(sessions) == (0, 0, 0)


def test_board_seats_are_bounded_per_grant_and_per_holding(
    sessions: sessionmaker[Session],
) -> None:
    add_orgs(sessions, "A", "B")
    with pytest.raises(InvalidArgument) as info:
        record(
            sessions,
            pair_event("big", "board_seat_granted", "A", "B", "2024-01-01", seats=2**31 - 1),
        )
    assert [v.field for v in info.value.violations] == ["event.board_seat_granted.seats"]
    for i in range(10):
        record(
            sessions,
            pair_event(f"s{i}", "board_seat_granted", "A", "B", f"2024-01-{i + 1:02d}", seats=1000),
        )
    with pytest.raises(InvalidArgument) as info:
        record(sessions, pair_event("s10", "board_seat_granted", "A", "B", "2024-02-01", seats=1))
    assert [v.field for v in info.value.violations] == ["event.board_seat_granted.seats"]
    assert "10001" in info.value.message
    [holding] = export(sessions, "2024-03-01").holdings
    assert holding.board_seats == 10_000


def test_every_member_of_the_change_oneof_has_a_handler() -> None:
    oneof = ownership_pb2.OwnershipEvent.DESCRIPTOR.oneofs_by_name["change"]
    assert set(HANDLERS) == {field.name for field in oneof.fields}


def test_versions_stay_dense_when_a_savepoint_with_an_event_rolls_back(
    sessions: sessionmaker[Session],
) -> None:
    """The locked versions are kept per transaction; an event recorded in a savepoint that
    rolls back (the BODS import's way) takes its version back with it."""
    add_orgs(sessions, "A", "B", "C")
    with db.transaction(sessions) as s:
        first = ledger.record_event(s, acquire("1", "A", "B", 0.2))
        with pytest.raises(RuntimeError), s.begin_nested():
            ledger.record_event(s, acquire("2", "A", "C", 0.2))
            raise RuntimeError("the statement it came from is refused")
        third = ledger.record_event(s, acquire("3", "B", "C", 0.2))
        with s.begin_nested():  # released: its version stays taken
            fourth = ledger.record_event(s, acquire("4", "C", "A", 0.1, date="2024-02-01"))
        fifth = ledger.record_event(s, acquire("5", "A", "C", 0.1, date="2024-03-01"))
    assert [e.event.graph_version for e in (first, third, fourth, fifth)] == [1, 2, 3, 4]
    assert third.event.record_time.ToDatetime() >= first.event.record_time.ToDatetime()
    with sessions() as s:
        assert ledger.graph_version(s) == 4
        assert [e.graph_version for e in ledger.list_page(s, None, None, 10)] == [1, 2, 3, 4]
