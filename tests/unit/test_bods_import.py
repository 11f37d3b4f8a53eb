"""BODS import and export against a real catalog database (SQLite) and ledger; no gRPC."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from test_bods_support import (
    EXAMPLES_03,
    EXAMPLES_04,
    catalog_database,
    entity,
    example_files,
    facts,
    graph_of,
    holding,
    interest,
    person,
    relationship,
    run_import,
    schema_errors,
    texts,
    texts_of,
)

from dpm.catalog import ledger
from dpm.catalog.bods import export
from dpm.ownership.v1 import ownership_pb2
from dpm.platform.db import Database
from dpm.platform.names import OwnershipEventName

# Example files that are genuinely invalid on their own, and why.
INVALID_ALONE = {
    # Two different statements share statementID c222fe05-...; the second is refused.
    "examples-0.3/3-joint-ownership.json": [(6, "statementID", "already used by statement #5")],
    # Its subject, statement 309523dc-..., exists in no example file.
    "examples-0.3/workshop/modelling-bods-data/renco-energy-ltd-roberto-lopez.json": [
        (0, "subject.describedByEntityStatement", "309523dc-8bdc-48a6-bca5-bdd3c879db65")
    ],
    # Refers to statements of its sibling files: it imports after them (see below).
    "examples-0.3/workshop/modelling-bods-data/ren-consulting-limited-natalie-coleman.json": [
        (0, "subject.describedByEntityStatement", "3ff64336-9d26-49da-b0ce-f4685c6af139")
    ],
}
EXAMPLES = example_files(EXAMPLES_04) + example_files(EXAMPLES_03)


def name_of(path: Path) -> str:
    return str(path.relative_to(EXAMPLES_04.parent))


@pytest.mark.parametrize("path", EXAMPLES, ids=name_of)
def test_every_example_file_imports_and_again_changes_nothing(path: Path, tmp_path: Path) -> None:
    with catalog_database(tmp_path) as database:
        first = run_import(database, texts_of(path))
        expected = INVALID_ALONE.get(name_of(path), [])
        got = [(e.index, e.field, e.reason) for e in first.errors]
        assert len(got) == len(expected), got
        for (index, field, words), (got_index, got_field, reason) in zip(
            expected, got, strict=True
        ):
            assert (got_index, got_field) == (index, field)
            assert words in reason
        assert first.imported + len(first.errors) == first.received
        before = graph_of(database)

        again = run_import(database, texts_of(path))
        assert again.events_recorded == 0
        assert again.organizations_created == again.persons_created == 0
        assert again.graph_version == first.graph_version
        assert [(e.index, e.field) for e in again.errors] == [
            (e.index, e.field) for e in first.errors
        ]
        after = graph_of(database)
        assert after.etag == before.etag
        assert facts(after) == facts(before)


def test_a_file_naming_statements_of_other_files_imports_after_them(tmp_path: Path) -> None:
    workshop = EXAMPLES_03 / "workshop" / "modelling-bods-data"
    with catalog_database(tmp_path) as database:
        for name in ("ren-consulting-limited.json", "natalie-coleman-person-statement.json"):
            assert run_import(database, texts_of(workshop / name)).errors == []
        result = run_import(
            database, texts_of(workshop / "ren-consulting-limited-natalie-coleman.json")
        )
        assert result.errors == []
        assert result.events_recorded == 1
        stake = holding(
            graph_of(database),
            "bods-5eb1e15c-fd25-40c7-8a75-246c79654185",
            "bods-3ff64336-9d26-49da-b0ce-f4685c6af139",
        )
        assert (stake.equity_range.minimum, stake.equity_range.maximum) == (0.25, 0.5)


def test_the_0_4_examples_import_together_without_errors(tmp_path: Path) -> None:
    with catalog_database(tmp_path) as database:
        result = run_import(database, [t for p in example_files(EXAMPLES_04) for t in texts_of(p)])
        assert result.errors == []
        assert result.summaries == 5  # the indirect relationships of the examples
        g = graph_of(database)
        # indirect-ownership.json: Person 1 owns Company A through Company B; not twice.
        assert not [
            h
            for h in g.holdings
            if h.holder.endswith("c25d4d612c2c") and h.held.endswith("ad3f6c2fcc9e")
        ]
        assert holding(g, "bods-d4ab89ea169a", "bods-ad3f6c2fcc9e").equity_fraction == 0.6


def test_the_0_3_examples_together_clash_only_where_files_reuse_ids(tmp_path: Path) -> None:
    """The 0.3 example files reuse statement ids for different statements; those are refused."""
    with catalog_database(tmp_path) as database:
        paths = example_files(EXAMPLES_03)
        result = run_import(database, [t for p in paths for t in texts_of(p)])
        clashes = [e.statement_id[:8] for e in result.errors if "already used" in e.reason]
        unknown = [
            e.statement_id[:8] for e in result.errors if "neither in this import" in e.reason
        ]
        assert sorted(clashes) == ["0713bc04", "1dc0e987", "676ce2ec", "c222fe05"]
        assert unknown == ["4a0e93d8"]
        assert len(result.errors) == 5


def test_a_0_3_update_supersedes_the_statement_it_replaces(tmp_path: Path) -> None:
    taggart, chrinon = (
        "bods-019a93f1-e470-42e9-957b-03559861b2e2",
        "bods-1dc0e987-5c57-4a1c-b3ad-61353b66a9b7",
    )
    with catalog_database(tmp_path) as database:
        run_import(database, texts_of(EXAMPLES_03 / "1-single-direct.json"))
        assert holding(graph_of(database), taggart, chrinon).equity_fraction == 1.0
        update = run_import(database, texts_of(EXAMPLES_03 / "2-single-update.json"))
        assert update.errors == []
        stake = holding(graph_of(database), taggart, chrinon)
        assert stake.equity_fraction == 0.5
        with database.read() as session:
            new = ledger.get_event(session, OwnershipEventName(stake.event_id))
            old = ledger.get_event(session, OwnershipEventName(new.supersedes))
        assert old.superseded_by == new.event_id
        assert old.provenance.statement_id == "fbfd0547-d0c6-4a00-b559-5c5e91c34f5c"
        # The first file again: already imported, nothing changes.
        again = run_import(database, texts_of(EXAMPLES_03 / "1-single-direct.json"))
        assert again.events_recorded == 0
        assert holding(graph_of(database), taggart, chrinon).equity_fraction == 0.5


PARTIES = [entity("acme", "Acme Data"), entity("fund", "Fund LP"), person("ann", "Ann Lee")]


def test_an_updated_record_replaces_its_earlier_statement_across_imports(tmp_path: Path) -> None:
    first = relationship(
        "r",
        "acme",
        "fund",
        interest(share={"exact": 30}, startDate="2018-01-01"),
        interest("boardMember", startDate="2018-01-01"),
        label="first",
        statementDate="2019-01-01",
    )
    second = relationship(
        "r",
        "acme",
        "fund",
        interest(share={"minimum": 25, "maximum": 50}, startDate="2018-01-01"),
        label="second",
        recordStatus="updated",
        statementDate="2021-01-01",
    )
    with catalog_database(tmp_path) as database:
        run_import(database, texts(*PARTIES, first))
        stake = holding(graph_of(database), "bods-fund", "bods-acme")
        assert (stake.equity_fraction, stake.board_seats) == (0.3, 1)
        result = run_import(database, texts(second))
        assert result.errors == []
        stake = holding(graph_of(database), "bods-fund", "bods-acme")
        assert not stake.HasField("equity_fraction")
        assert (stake.equity_range.minimum, stake.equity_range.maximum) == (0.25, 0.5)
        assert stake.board_seats == 0  # withdrawn: the update no longer states it
        # The older statement imported again changes nothing.
        assert run_import(database, texts(first)).events_recorded == 0
        assert holding(graph_of(database), "bods-fund", "bods-acme").board_seats == 0


def test_a_closed_record_ends_the_holding_and_keeps_its_history(tmp_path: Path) -> None:
    closed = relationship(
        "r",
        "acme",
        "ann",
        interest(share={"exact": 40}, startDate="2016-01-01"),
        interest("seniorManagingOfficial", startDate="2017-01-01", details="CEO"),
        recordStatus="closed",
        statementDate="2021-06-30",
    )
    with catalog_database(tmp_path) as database:
        assert run_import(database, texts(*PARTIES, closed)).errors == []
        assert (
            holding(
                graph_of(database, dt.date(2020, 1, 1)), "bods-ann", "bods-acme"
            ).equity_fraction
            == 0.4
        )
        assert graph_of(database, dt.date(2022, 1, 1)).holdings == []
        (tie,) = graph_of(database).ties
        assert (tie.person, tie.role, tie.kind) == (
            "Ann Lee",
            "CEO",
            ownership_pb2.TIE_KIND_LEADERSHIP_MOVE,
        )


def test_a_statement_the_ledger_refuses_is_rolled_back_alone(tmp_path: Path) -> None:
    statements = [
        *PARTIES,
        relationship("r1", "acme", "fund", interest(share={"exact": 60}, startDate="2016-01-01")),
        relationship("r2", "acme", "ann", interest(share={"exact": 60}, startDate="2016-01-01")),
        relationship("r3", "fund", "ann", interest(share={"exact": 10}, startDate="2016-01-01")),
    ]
    with catalog_database(tmp_path) as database:
        result = run_import(database, texts(*statements))
        assert [(e.index, e.statement_id[:4]) for e in result.errors] == [
            (4, statements[4]["statementId"][:4])
        ]
        assert "more than 1" in result.errors[0].reason
        g = graph_of(database)
        assert {(h.holder, h.held) for h in g.holdings} == {
            ("organizations/bods-fund", "organizations/bods-acme"),
            ("organizations/bods-ann", "organizations/bods-fund"),
        }
        assert result.events_recorded == 2


@pytest.mark.parametrize("directory", [EXAMPLES_04, EXAMPLES_03], ids=["0.4", "0.3"])
def test_export_is_valid_bods_0_4_and_imports_to_the_same_graph(
    directory: Path, tmp_path: Path
) -> None:
    with catalog_database(tmp_path, "a") as first, catalog_database(tmp_path, "b") as second:
        run_import(first, [t for p in example_files(directory) for t in texts_of(p)])
        exported = exported_statements(first)
        assert schema_errors(exported) == []
        assert exported == exported_statements(first)  # deterministic
        result = run_import(second, [json.dumps(s) for s in exported])
        assert result.errors == []
        assert facts(graph_of(second)) == facts(graph_of(first))
        assert sorted(graph_of(second).organizations) == sorted(graph_of(first).organizations)


def test_export_round_trips_seats_roles_ranges_ends_and_recorded_ties(tmp_path: Path) -> None:
    statements = [
        *PARTIES,
        entity("lab", "A Lab", entityType={"type": "registeredEntity"}),
        relationship(
            "r1",
            "acme",
            "fund",
            interest(share={"exclusiveMinimum": 25, "maximum": 50}, startDate="2016-01-01"),
            interest("votingRights", share={"exact": 10}, startDate="2016-01-01"),
            interest("boardMember", startDate="2017-01-01"),
        ),
        relationship(
            "r2", "acme", "ann", interest("seniorManagingOfficial", startDate="2019-01-01")
        ),
        relationship(
            "r3",
            "fund",
            "ann",
            interest(share={"exact": 20}, startDate="2015-01-01", endDate="2030-01-01"),
        ),
        relationship("r4", "lab", "ann", interest("boardChair", startDate="2020-01-01")),
        relationship(
            "r5", "fund", "lab", interest("otherInfluenceOrControl", startDate="2020-01-01")
        ),
    ]
    with catalog_database(tmp_path, "a") as first, catalog_database(tmp_path, "b") as second:
        assert run_import(first, texts(*statements)).errors == []
        with first.write() as session:
            tie = ownership_pb2.OwnershipEvent(event_id="native-tie", effective_date="2021-02-03")
            tie.contract_tie.kind = ownership_pb2.TIE_KIND_EXCLUSIVE_CONTRACT
            tie.contract_tie.organization = "organizations/bods-acme"
            tie.contract_tie.counterparty = "organizations/bods-lab"
            ledger.record_event(session, tie)
            move = ownership_pb2.OwnershipEvent(event_id="native-move", effective_date="2022-03-04")
            move.leadership_move.person = "Bo Chen"
            move.leadership_move.role = "CTO"
            move.leadership_move.from_organization = "organizations/bods-acme"
            move.leadership_move.to_organization = "organizations/bods-lab"
            ledger.record_event(session, move)
        exported = exported_statements(first)
        assert schema_errors(exported) == []
        assert run_import(second, [json.dumps(s) for s in exported]).errors == []
        holdings, ties = facts(graph_of(first))
        assert len(holdings) == 4 and len(ties) == 3
        assert facts(graph_of(second)) == (holdings, ties)


def exported_statements(
    database: Database, as_of: dt.date | None = None
) -> list[dict[str, object]]:
    with database.read() as session:
        snap = export.snapshot(session, as_of or dt.date.today())
    return list(export.statements(snap))
