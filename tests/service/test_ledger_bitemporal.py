"""Late and uncertain facts over real gRPC, on SQLite and PostgreSQL: back-dated events,
"as known at" reads, corrections, share ranges, provenance, persons, bounded input."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from test_catalog_support import Catalog, event, field_violations, org, running_catalog, stake

from dpm.catalog.v1 import catalog_pb2
from dpm.ownership.v1 import ownership_pb2
from dpm.platform.events import OwnershipChanged

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def catalog(
    database_url: str, token_secret: str, admin_token: str, tmp_path: Path
) -> Iterator[Catalog]:
    with running_catalog(database_url, token_secret, admin_token, tmp_path) as running:
        yield running


def refused(code: grpc.StatusCode, call: object, *args: object) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as info:
        call(*args)  # type: ignore[operator]
    assert info.value.code() == code, info.value.details()
    return info.value


def edges(graph: ownership_pb2.OwnershipGraph) -> dict[tuple[str, str], tuple[float, float]]:
    return {(h.holder, h.held): (h.equity_fraction, h.voting_fraction) for h in graph.holdings}


def just_after(stamp: Timestamp) -> Timestamp:
    return Timestamp(seconds=stamp.seconds, nanos=stamp.nanos)


def test_what_we_knew_on_1_july_about_12_june(catalog: Catalog) -> None:
    catalog.org("meta", "lab")
    catalog.org("scale-ai", "vendor")
    catalog.org("fund", "investor")
    first = catalog.record(stake("meta-scale", "meta", "scale-ai", "2025-06-12", 0.49, 0.0))
    # Filed months late: a fund held 20% of Scale AI since January.
    late = catalog.record(stake("fund-scale", "fund", "scale-ai", "2025-01-15", 0.2))
    assert late.graph_version == first.graph_version + 1

    known_then = catalog.graph("2025-06-12", first.record_time)
    known_now = catalog.graph("2025-06-12")
    assert edges(known_then) == {(org("meta"), org("scale-ai")): (0.49, 0.0)}
    assert edges(known_now) == {
        (org("meta"), org("scale-ai")): (0.49, 0.0),
        (org("fund"), org("scale-ai")): (0.2, 0.2),
    }
    assert known_then.version == first.graph_version and known_now.version == late.graph_version
    assert known_then.as_known_at == first.record_time
    assert not known_now.HasField("as_known_at")
    # The graph as of every date reflects the late fact.
    assert edges(catalog.graph("2025-01-15")) == {(org("fund"), org("scale-ai")): (0.2, 0.2)}
    assert edges(catalog.graph("2025-01-14")) == {}
    # As known at the late event's record time: the same as now.
    assert edges(catalog.graph("2025-06-12", late.record_time)) == edges(known_now)
    # Before anything was recorded: nothing.
    empty = catalog.graph("2025-06-12", Timestamp(seconds=first.record_time.seconds - 3600))
    assert (empty.version, list(empty.holdings)) == (0, [])

    # The etag tells the record instant apart; a copy as known then stays current.
    assert known_then.etag != known_now.etag
    again = catalog.stub.ExportOwnershipGraph(
        catalog_pb2.ExportOwnershipGraphRequest(
            as_of="2025-06-12", as_known_at=first.record_time, if_none_match=known_then.etag
        )
    )
    assert again.not_modified
    catalog.record(stake("later", "meta", "scale-ai", "2025-09-01", 0.5, kind="stake_changed"))
    assert catalog.stub.ExportOwnershipGraph(
        catalog_pb2.ExportOwnershipGraphRequest(
            as_of="2025-06-12", as_known_at=first.record_time, if_none_match=known_then.etag
        )
    ).not_modified

    # The late event re-matches the fund's groups and those above Scale AI.
    kwargs = catalog.published.wait_for(
        OwnershipChanged.TASK, "event", "ownershipEvents/fund-scale"
    )
    assert kwargs["upstream"] == [org("fund"), org("meta"), org("scale-ai")]


def test_a_correction_and_what_was_known_before_it(catalog: Catalog) -> None:
    catalog.org("meta", "lab")
    catalog.org("scale-ai", "vendor")
    wrong = catalog.record(stake("wrong", "meta", "scale-ai", "2025-06-12", 0.94, 0.0))
    fix = stake("fix", "meta", "scale-ai", "2025-06-12", 0.49, 0.0)
    fix.supersedes = "wrong"
    fixed = catalog.record(fix)
    assert fixed.supersedes == "wrong" and fixed.superseded_by == ""

    assert edges(catalog.graph("2025-07-01")) == {(org("meta"), org("scale-ai")): (0.49, 0.0)}
    assert edges(catalog.graph("2025-07-01", wrong.record_time)) == {
        (org("meta"), org("scale-ai")): (0.94, 0.0)
    }
    # History stays readable, and says what corrected it.
    got = catalog.event("wrong")
    assert got.stake_acquired.equity_fraction == 0.94 and got.superseded_by == "fix"
    listed = catalog.stub.ListOwnershipEvents(catalog_pb2.ListOwnershipEventsRequest())
    assert [(e.event_id, e.superseded_by) for e in listed.events] == [("wrong", "fix"), ("fix", "")]
    # Replaying the correction returns it as stored.
    assert catalog.record(fix) == fixed

    again = stake("fix-2", "meta", "scale-ai", "2025-06-12", 0.5, 0.0)
    again.supersedes = "wrong"
    err = refused(grpc.StatusCode.FAILED_PRECONDITION, catalog.record, again)
    assert "ownershipEvents/fix" in str(err.details())
    missing = stake("fix-3", "meta", "scale-ai", "2025-06-12", 0.5, 0.0)
    missing.supersedes = "nothing"
    err = refused(grpc.StatusCode.INVALID_ARGUMENT, catalog.record, missing)
    assert field_violations(err) == ["event.supersedes"]

    withdraw = ownership_pb2.OwnershipEvent(event_id="withdraw", supersedes="fix")
    withdraw.retraction.SetInParent()
    catalog.record(withdraw)
    assert edges(catalog.graph("2025-07-01")) == {}
    assert edges(catalog.graph("2025-07-01", fixed.record_time)) == {
        (org("meta"), org("scale-ai")): (0.49, 0.0)
    }
    assert catalog.event("fix").superseded_by == "withdraw"


def test_vote_only_closed_cycle_is_refused(catalog: Catalog) -> None:
    catalog.org("x", "parent")
    catalog.org("y", "parent")
    catalog.record(stake("xy", "x", "y", "2024-01-01", 0.1, 1.0))
    err = refused(
        grpc.StatusCode.INVALID_ARGUMENT,
        catalog.record,
        stake("yx", "y", "x", "2024-01-01", 0.1, 1.0),
    )
    assert field_violations(err) == ["event.stake_acquired.voting_fraction"]
    assert "organizations/x, organizations/y" in str(err.details())
    assert edges(catalog.graph("2024-06-01")) == {(org("x"), org("y")): (0.1, 1.0)}


def test_ranges_provenance_and_persons_are_exported(catalog: Catalog) -> None:
    catalog.org("scale-ai", "vendor")
    catalog.org("alexandr-wang", "person", "Alexandr Wang")
    catalog.org("meta", "lab")
    share = ownership_pb2.ShareRange(minimum=0.25, maximum=0.5, exclusive_minimum=True)
    founder = event(
        "founder",
        "2016-06-01",
        "stake_acquired",
        holder=org("alexandr-wang"),
        held=org("scale-ai"),
        equity_range=share,
        voting_fraction=0.6,
    )
    founder.source_url = "https://register.example/scale"
    founder.provenance.CopyFrom(
        ownership_pb2.Provenance(
            source_type=ownership_pb2.SOURCE_TYPE_OFFICIAL_REGISTER,
            asserted_by="Companies House",
            statement_date="2016-07-01",
            statement_id="stmt-1",
        )
    )
    catalog.record(founder)
    undisclosed = event(
        "meta-undisclosed", "2025-06-12", "stake_acquired", holder=org("meta"), held=org("scale-ai")
    )
    catalog.record(undisclosed)
    contract = event(
        "contract",
        "2025-06-13",
        "contract_tie",
        kind=ownership_pb2.TIE_KIND_EXCLUSIVE_CONTRACT,
        organization=org("scale-ai"),
        counterparty=org("meta"),
    )
    contract.provenance.asserted_by = "A newspaper"
    catalog.record(contract)

    graph = catalog.graph("2025-07-01")
    by_holder = {h.holder: h for h in graph.holdings}
    person = by_holder[org("alexandr-wang")]
    assert not person.HasField("equity_fraction") and person.equity_range == share
    assert person.voting_fraction == 0.6 and not person.HasField("voting_range")
    assert person.provenance == founder.provenance
    assert person.source_url == "https://register.example/scale"
    meta = by_holder[org("meta")]
    assert not meta.HasField("equity_fraction") and not meta.HasField("equity_range")
    assert not meta.HasField("voting_fraction") and not meta.HasField("provenance")
    [tie] = graph.ties
    assert tie.provenance.asserted_by == "A newspaper"
    assert org("alexandr-wang") in graph.organizations

    # The minimums already make 0.25+ (exclusive); 0.75 more is more than all of it.
    err = refused(
        grpc.StatusCode.INVALID_ARGUMENT,
        catalog.record,
        stake("too-much", "meta", "scale-ai", "2025-08-01", 0.75, kind="stake_changed"),
    )
    assert "more than 1" in str(err.details())


def test_reads_take_their_dates_explicitly(catalog: Catalog) -> None:
    export = catalog.stub.ExportOwnershipGraph
    for as_of in ("", "June 2025", "2025-13-01"):
        err = refused(
            grpc.StatusCode.INVALID_ARGUMENT,
            export,
            catalog_pb2.ExportOwnershipGraphRequest(as_of=as_of),
        )
        assert field_violations(err) == ["as_of"]
    err = refused(
        grpc.StatusCode.INVALID_ARGUMENT,
        export,
        catalog_pb2.ExportOwnershipGraphRequest(
            as_of="2025-01-01", as_known_at=Timestamp(seconds=10**12)
        ),
    )
    assert field_violations(err) == ["as_known_at"]


def test_hostile_input_is_refused_never_internal(catalog: Catalog) -> None:
    catalog.org("meta", "lab")
    catalog.org("scale-ai", "vendor")

    def expect(field: str, bad: ownership_pb2.OwnershipEvent) -> None:
        err = refused(grpc.StatusCode.INVALID_ARGUMENT, catalog.record, bad)
        assert field_violations(err) == [field], err.details()
        assert len(str(err.details())) < 300

    expect("event.effective_date", stake("far", "meta", "scale-ai", "9999-12-31", 0.1))
    seats = event(
        "seats", "2025-01-01", "board_seat_granted", holder=org("meta"), held=org("scale-ai")
    )
    seats.board_seat_granted.seats = 2**31 - 1
    expect("event.board_seat_granted.seats", seats)
    move = event(
        "move",
        "2025-01-01",
        "leadership_move",
        person="P" * 301,
        from_organization=org("scale-ai"),
        to_organization=org("meta"),
    )
    expect("event.leadership_move.person", move)
    move.leadership_move.person, move.leadership_move.role = "Someone", "CEO\x00"
    expect("event.leadership_move.role", move)
    tie = event(
        "tie",
        "2025-01-01",
        "contract_tie",
        organization=org("scale-ai"),
        counterparty=org("meta"),
    )
    tie.contract_tie.kind = 9999
    expect("event.contract_tie.kind", tie)
    summary = stake("summary", "meta", "scale-ai", "2025-01-01", 0.1)
    summary.summary = "s" * 2001
    expect("event.summary", summary)
    err = refused(
        grpc.StatusCode.INVALID_ARGUMENT,
        catalog.stub.CreateOrganization,
        catalog_pb2.CreateOrganizationRequest(
            organization_id="nul",
            organization=catalog_pb2.Organization(
                display_name="Bad\x00Name", kind=catalog_pb2.ORGANIZATION_KIND_VENDOR
            ),
        ),
    )
    assert field_violations(err) == ["organization.display_name"]
    assert list(catalog.graph("2030-01-01").holdings) == []
