"""Random ownership events, valid and not, against a real catalog server: every answer
is a deliberate status (never INTERNAL or UNKNOWN), and a refused event writes nothing."""

from __future__ import annotations

import datetime as dt
import itertools
import math
from pathlib import Path

import grpc
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_catalog_support import running_catalog

from dpm.ownership.v1 import ownership_pb2

ORGS = ("meta", "scale-ai", "outlier", "google", "amazon")
# Effective dates the graph is compared on before and after a refused event.
DAYS = ("1999-12-31", "2010-06-01", "2025-06-12", "2031-01-01")
EXPECTED = {
    grpc.StatusCode.INVALID_ARGUMENT,
    grpc.StatusCode.FAILED_PRECONDITION,
    grpc.StatusCode.ALREADY_EXISTS,
    grpc.StatusCode.NOT_FOUND,
}


def mostly(valid: st.SearchStrategy, invalid: st.SearchStrategy) -> st.SearchStrategy:
    """Valid nine times in ten, so that events get past validation often enough."""
    return st.integers(0, 9).flatmap(lambda i: valid if i < 9 else invalid)


names = mostly(
    st.sampled_from([f"organizations/{o}" for o in ORGS]),
    st.one_of(
        st.sampled_from(
            ["", "organizations/", "organizations/nobody", "orgs/meta", "organizations/Meta!"]
        ),
        st.text(max_size=12),
    ),
)
fractions = mostly(
    st.one_of(st.none(), st.floats(min_value=0, max_value=0.3)),
    st.sampled_from([-0.1, 1.5, math.nan, math.inf, -math.inf, 1.0]),
)
dates = mostly(
    st.dates(dt.date(2000, 1, 1), dt.date(2030, 12, 31)).map(lambda d: d.isoformat()),
    st.sampled_from(
        ["", "2025-13-01", "yesterday", "2025-06", "9999-12-31", "0001-01-01", "20250612"]
    ),
)
# Free text: short and plain, or long, or with a NUL byte.
texts = mostly(
    st.text(st.characters(blacklist_categories=("Cc", "Cs")), max_size=20),
    st.sampled_from(["x" * 301, "a\x00b", "\x00", "y" * 2001]),
)
ranges = st.builds(
    lambda lo, hi, xlo, xhi: ownership_pb2.ShareRange(
        exclusive_minimum=xlo,
        exclusive_maximum=xhi,
        **({} if lo is None else {"minimum": lo}),
        **({} if hi is None else {"maximum": hi}),
    ),
    mostly(st.one_of(st.none(), st.floats(0, 0.2)), st.sampled_from([-1.0, math.nan, 2.0])),
    mostly(st.one_of(st.none(), st.floats(0.2, 0.3)), st.sampled_from([0.0, math.inf])),
    st.booleans(),
    st.booleans(),
)

# Half short ids that collide (duplicates, supersedes), half unique ones (so that enough
# events get through to be accepted).
event_ids = mostly(
    st.one_of(
        st.from_regex(r"[a-z0-9]{1,2}", fullmatch=True), st.uuids().map(lambda u: u.hex[:16])
    ),
    st.sampled_from(["", " ", "a/b"]),
)


@st.composite
def events(draw: st.DrawFn) -> ownership_pb2.OwnershipEvent:
    event = ownership_pb2.OwnershipEvent(
        event_id=draw(event_ids),
        effective_date=draw(dates),
        source_url=draw(
            mostly(
                st.just("https://example.com/a"),
                st.one_of(st.text(max_size=8), st.just("https://x/" + "a" * 2000)),
            )
        ),
        summary=draw(texts),
    )
    if draw(st.integers(0, 3)) == 0:
        provenance = event.provenance
        provenance.source_type = draw(mostly(st.integers(0, 5), st.just(77)))
        provenance.asserted_by = draw(texts)
        provenance.statement_date = draw(dates)
    if draw(st.integers(0, 7)) == 0:  # often an id recorded before: short ids collide
        event.supersedes = draw(st.from_regex(r"[a-z0-9]{1,2}", fullmatch=True))
    kind = draw(
        st.sampled_from(
            [
                "none",
                "stake_acquired",
                "stake_changed",
                "stake_divested",
                "full_acquisition",
                "leadership_move",
                "board_seat_granted",
                "board_seat_removed",
                "contract_tie",
                "retraction",
            ]
        )
    )
    if kind in ("stake_acquired", "stake_changed"):
        change = getattr(event, kind)
        change.holder, change.held = draw(names), draw(names)
        change.board_seats = draw(mostly(st.integers(0, 2), st.sampled_from([-1, 2**31 - 1])))
        for field in ("equity_fraction", "voting_fraction"):
            value = draw(fractions)
            if value is not None:
                setattr(change, field, value)
            if draw(st.integers(0, 3)) == 0:
                getattr(change, field.replace("fraction", "range")).CopyFrom(draw(ranges))
    elif kind == "stake_divested":
        event.stake_divested.holder, event.stake_divested.held = draw(names), draw(names)
    elif kind == "full_acquisition":
        event.full_acquisition.acquirer = draw(names)
        event.full_acquisition.target = draw(names)
    elif kind == "leadership_move":
        move = event.leadership_move
        move.person = draw(mostly(st.just("Alexandr Wang"), texts))
        move.role = draw(texts)
        move.from_organization, move.to_organization = draw(names), draw(names)
    elif kind in ("board_seat_granted", "board_seat_removed"):
        seat = getattr(event, kind)
        seat.holder, seat.held = draw(names), draw(names)
        seat.seats = draw(mostly(st.integers(1, 2), st.sampled_from([-1, 0, 2**31 - 1])))
    elif kind == "contract_tie":
        tie = event.contract_tie
        tie.kind = draw(mostly(st.integers(1, 5), st.sampled_from([0, 6, 99, 9999])))
        tie.organization, tie.counterparty = draw(names), draw(names)
    elif kind == "retraction":
        event.retraction.SetInParent()
    return event


def test_random_events_get_deliberate_answers_and_refusals_write_nothing(
    tmp_path: Path, token_secret: str, admin_token: str
) -> None:
    counter = itertools.count()
    outcomes: dict[str, int] = {}
    with running_catalog(
        f"sqlite:///{tmp_path / 'fuzz.db'}", token_secret, admin_token, tmp_path
    ) as catalog:
        for slug in ORGS:
            catalog.org(slug)

        @settings(
            max_examples=300,
            deadline=None,
            suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        )
        @given(event=events())
        def check(event: ownership_pb2.OwnershipEvent) -> None:
            before = [catalog.graph(day) for day in DAYS]
            try:
                catalog.record(event)
                outcomes["OK"] = outcomes.get("OK", 0) + 1
                for day in DAYS:  # every answer exports: nothing stored breaks a read
                    catalog.graph(day)
            except grpc.RpcError as err:
                outcomes[err.code().name] = outcomes.get(err.code().name, 0) + 1
                assert err.code() in EXPECTED, (err.code(), err.details(), event)
                assert err.details(), event
                assert len(err.details() or "") < 1000, err.details()  # bad values quoted short
                after = [catalog.graph(day) for day in DAYS]
                assert after == before
            next(counter)

        check()
    assert next(counter) >= 300
    # The generator must reach acceptance and the interesting refusals, not only syntax errors.
    assert outcomes.get("OK", 0) >= 5, outcomes  # about 20 in a run
    assert outcomes.get("FAILED_PRECONDITION", 0) + outcomes.get("ALREADY_EXISTS", 0) >= 5, outcomes
