"""BodsService over real gRPC (in-process catalog server, SQLite and PostgreSQL), and the CLI."""

from __future__ import annotations

import importlib.util
import io
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import grpc
import pytest
from test_catalog_support import Catalog, running_catalog

from dpm.catalog.v1 import bods_pb2, bods_pb2_grpc
from dpm.cli.bods import export_to, import_paths
from dpm.cli.stackfile import Stack
from dpm.platform import auth
from dpm.platform.grpc_client import open_channel

pytestmark = pytest.mark.timeout(120)


def _support() -> ModuleType:
    """tests/unit/test_bods_support.py (builders, schema, graph facts), also when run alone."""
    if "test_bods_support" not in sys.modules:
        path = Path(__file__).parents[1] / "unit" / "test_bods_support.py"
        spec = importlib.util.spec_from_file_location("test_bods_support", path)
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        sys.modules["test_bods_support"] = module
        spec.loader.exec_module(module)
    return sys.modules["test_bods_support"]


support = _support()


@pytest.fixture
def catalog(
    database_url: str, token_secret: str, admin_token: str, tmp_path: Path
) -> Iterator[Catalog]:
    with running_catalog(database_url, token_secret, admin_token, tmp_path) as running:
        yield running


def stack_of(catalog: Catalog, admin_token: str) -> Stack:
    return Stack(addresses={"catalog": catalog.address}, admin_token=admin_token, redis_url="")


def bods_stub(address: str, token: str) -> tuple[grpc.Channel, bods_pb2_grpc.BodsServiceStub]:
    channel = open_channel(address, token, 30)
    return channel, bods_pb2_grpc.BodsServiceStub(channel)


def send(
    stub: bods_pb2_grpc.BodsServiceStub,
    token: str,
    *batches: list[str],
    validate_only: bool = False,
) -> bods_pb2.ImportBodsStatementsResponse:
    requests = [
        bods_pb2.ImportBodsStatementsRequest(
            statements=batch, source_name="test", validate_only=validate_only
        )
        for batch in batches
    ]
    # Client-streaming calls take the token explicitly (see dpm.cli.bods).
    return stub.ImportBodsStatements(
        iter(requests), timeout=60, metadata=[("authorization", f"Bearer {token}")]
    )


def graph(catalog: Catalog) -> Any:
    return catalog.graph("2030-01-01")


# ------------------------------------------------------------------------------ import


def test_the_0_4_examples_import_with_the_cli_and_again_change_nothing(
    catalog: Catalog, admin_token: str
) -> None:
    out = io.StringIO()
    assert import_paths(stack_of(catalog, admin_token), support.EXAMPLES_04, out=out) == 0
    text = out.getvalue()
    assert "14 files, 62 statements" in text
    assert "organizations created: 24, persons created: 10" in text
    assert "5 indirect summaries of known chains skipped" in text
    assert "refused: none" in text
    assert "next: dpmatch explain <lab> bods-" in text
    before = graph(catalog)
    assert before.version > 0

    again = io.StringIO()
    assert import_paths(stack_of(catalog, admin_token), support.EXAMPLES_04, out=again) == 0
    assert "ownership events recorded: 0" in again.getvalue()
    after = graph(catalog)
    assert (after.version, after.etag) == (before.version, before.etag)


def test_every_example_file_imports_alone_with_the_cli(catalog: Catalog, admin_token: str) -> None:
    """One catalog for all: files reuse ids, so only first-come statements count; none fail hard."""
    stack = stack_of(catalog, admin_token)
    for path in support.example_files(support.EXAMPLES_04):
        out = io.StringIO()
        assert import_paths(stack, path, out=out) == 0, out.getvalue()


def test_the_cli_reads_arrays_single_statements_and_json_lines(
    catalog: Catalog, admin_token: str, tmp_path: Path
) -> None:
    s = support
    folder = tmp_path / "register"
    (folder / "people").mkdir(parents=True)
    (folder / "a-entities.json").write_text(
        json.dumps([s.entity("acme", "Acme Data"), s.entity("fund", "Fund LP")])
    )
    (folder / "people" / "ann.json").write_text(json.dumps(s.person("ann", "Ann Lee")))
    lines = [
        json.dumps(s.relationship("r1", "acme", "fund", s.interest(share={"exact": 60}))),
        "{broken",
        json.dumps(s.relationship("r2", "acme", "ann", s.interest("boardMember"))),
    ]
    (folder / "relationships.jsonl").write_text("\n".join(lines) + "\n")
    (folder / "truncated.json").write_text('[{"statementId": "x"')
    (folder / "notes.txt").write_text("not BODS, not read")
    out = io.StringIO()
    assert import_paths(stack_of(catalog, admin_token), folder, out=out) == 1
    text = out.getvalue()
    assert "4 files, 6 statements" in text
    assert "relationships.jsonl #1: is not JSON" in text
    assert "truncated.json: is not JSON" in text
    assert "refused (2; nothing of them was written)" in text
    g = graph(catalog)
    assert {(h.holder, h.held, h.board_seats) for h in g.holdings} == {
        ("organizations/bods-fund", "organizations/bods-acme", 0),
        ("organizations/bods-ann", "organizations/bods-acme", 1),
    }


def test_bad_statements_are_reported_one_by_one_and_the_good_ones_imported(
    catalog: Catalog, admin_token: str
) -> None:
    s = support
    cycle_a = s.relationship(
        "cyc-1", "acme", "ann", s.interest(directness="indirect"), components=["cyc-2"]
    )
    cycle_b = s.relationship(
        "cyc-2", "fund", "ann", s.interest(directness="indirect"), components=["cyc-1"]
    )
    statements = [
        json.dumps(s.entity("acme", "Acme Data")),  # 0
        json.dumps(s.person("ann", "Ann Lee")),  # 1
        "{this is not json",  # 2
        json.dumps({**s.entity("bad", "Bad"), "recordDetails": ["not", "an", "object"]}),  # 3
        json.dumps(s.relationship("r-ghost", "acme", "ghost", s.interest())),  # 4
        json.dumps(s.entity("fund", "Fund LP")),  # 5
        json.dumps(cycle_a),  # 6
        json.dumps(cycle_b),  # 7
        json.dumps(
            s.relationship(
                "r-range", "acme", "fund", s.interest(share={"minimum": 60, "maximum": 40})
            )
        ),  # 8
        json.dumps(s.person("huge", "x" * (2 << 20))),  # 9: 2 MiB
        json.dumps(s.relationship("r-good", "acme", "ann", s.interest(share={"exact": 35}))),  # 10
        "[]",  # 11
    ]
    channel, stub = bods_stub(catalog.address, admin_token)
    with channel:
        reply = send(stub, admin_token, statements[:5], statements[5:9], statements[9:])
    errors = {e.index: e for e in reply.errors}
    assert sorted(errors) == [2, 3, 4, 6, 7, 8, 9, 11]
    assert "is not JSON" in errors[2].reason
    assert (errors[3].field, errors[3].statement_id) == ("recordDetails", s.sid("entity:bad"))
    assert "ghost" in errors[4].reason and errors[4].field == "recordDetails.interestedParty"
    assert "cycle" in errors[6].reason and "cycle" in errors[7].reason
    assert "minimum 60% is more than maximum 40%" in errors[8].reason
    assert "MiB" in errors[9].reason and errors[9].statement_id == s.sid("person:huge")
    assert "must be a JSON object" in errors[11].reason
    assert reply.statements_received == 12
    assert reply.statements_imported == 4
    assert (reply.organizations_created, reply.persons_created) == (2, 1)
    assert reply.events_recorded == 1

    g = graph(catalog)
    assert sorted(g.organizations) == [
        "organizations/bods-acme",
        "organizations/bods-ann",
        "organizations/bods-fund",
    ]
    assert [(h.holder, h.held, h.equity_fraction) for h in g.holdings] == [
        ("organizations/bods-ann", "organizations/bods-acme", 0.35)
    ]


def test_a_ten_megabyte_string_is_one_refused_statement_and_the_file_still_imports(
    catalog: Catalog, admin_token: str, tmp_path: Path
) -> None:
    s = support
    path = tmp_path / "big.json"
    path.write_text(json.dumps([s.entity("big", "x" * 10_000_000), s.person("ann", "Ann Lee")]))
    out = io.StringIO()
    assert import_paths(stack_of(catalog, admin_token), path, out=out) == 1
    text = out.getvalue()
    assert f"big.json #0 (statement {s.sid('entity:big')}): is 9.5 MiB" in text
    assert "persons created: 1" in text
    assert graph(catalog).organizations == ["organizations/bods-ann"]


def test_a_message_over_the_grpc_limit_is_refused_whole_and_writes_nothing(
    catalog: Catalog, admin_token: str
) -> None:
    s = support
    channel, stub = bods_stub(catalog.address, admin_token)
    with channel, pytest.raises(grpc.RpcError) as info:
        send(stub, admin_token, [json.dumps(s.person("ann", "Ann")), "x" * 10_000_000])
    assert info.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert graph(catalog).organizations == []


def test_too_many_statements_in_one_call_are_refused_whole(
    catalog: Catalog, admin_token: str
) -> None:
    channel, stub = bods_stub(catalog.address, admin_token)
    ann = json.dumps(support.person("ann", "Ann"))
    with channel, pytest.raises(grpc.RpcError) as info:
        send(stub, admin_token, [ann], *[["{}"] * 50_000] * 2)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "more than 100000 statements" in str(info.value.details())
    assert graph(catalog).organizations == []


def test_a_call_the_client_abandons_writes_nothing(catalog: Catalog, admin_token: str) -> None:
    def requests() -> Iterator[bods_pb2.ImportBodsStatementsRequest]:
        yield bods_pb2.ImportBodsStatementsRequest(
            statements=[json.dumps(support.person("ann", "Ann"))]
        )
        raise RuntimeError("the client's file broke mid-way")

    channel, stub = bods_stub(catalog.address, admin_token)
    with channel, pytest.raises(grpc.RpcError) as info:
        stub.ImportBodsStatements(
            requests(), timeout=30, metadata=[("authorization", f"Bearer {admin_token}")]
        )
    assert info.value.code() in (grpc.StatusCode.CANCELLED, grpc.StatusCode.UNKNOWN)
    assert graph(catalog).organizations == []


def test_validate_only_reports_and_writes_nothing(catalog: Catalog, admin_token: str) -> None:
    texts = [t for p in support.example_files(support.EXAMPLES_04) for t in support.texts_of(p)]
    channel, stub = bods_stub(catalog.address, admin_token)
    with channel:
        reply = send(stub, admin_token, texts, validate_only=True)
    assert reply.validate_only
    assert (reply.organizations_created, reply.persons_created) == (24, 10)
    assert reply.events_recorded == 23
    assert list(reply.errors) == []
    assert len(reply.created) == 34
    g = graph(catalog)
    assert (g.version, list(g.organizations)) == (0, [])


def test_import_needs_the_admin_token_and_export_any_token(
    catalog: Catalog, admin_token: str, token_secret: str
) -> None:
    lab = auth.client_token(token_secret, "clients/google")
    ann = [json.dumps(support.person("ann", "Ann"))]
    channel, stub = bods_stub(catalog.address, lab)
    with channel:
        with pytest.raises(grpc.RpcError) as info:
            send(stub, lab, ann)
        assert info.value.code() == grpc.StatusCode.PERMISSION_DENIED
        replies = list(
            stub.ExportBodsStatements(bods_pb2.ExportBodsStatementsRequest(as_of="2024-01-01"))
        )
        assert replies[0].as_of == "2024-01-01"
    with grpc.insecure_channel(catalog.address) as bare:
        stub = bods_pb2_grpc.BodsServiceStub(bare)
        with pytest.raises(grpc.RpcError) as info:
            stub.ImportBodsStatements(iter([bods_pb2.ImportBodsStatementsRequest(statements=ann)]))
        assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED


# ------------------------------------------------------------------------------ export


def exported(catalog: Catalog, token: str, as_of: str) -> list[dict[str, Any]]:
    channel, stub = bods_stub(catalog.address, token)
    with channel:
        replies = list(stub.ExportBodsStatements(bods_pb2.ExportBodsStatementsRequest(as_of=as_of)))
    assert len({r.graph_version for r in replies}) == 1
    return [json.loads(text) for r in replies for text in r.statements]


def test_export_needs_a_date(catalog: Catalog, admin_token: str) -> None:
    channel, stub = bods_stub(catalog.address, admin_token)
    with channel, pytest.raises(grpc.RpcError) as info:
        list(stub.ExportBodsStatements(bods_pb2.ExportBodsStatementsRequest()))
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_import_export_import_gives_the_same_graph(
    catalog: Catalog,
    admin_token: str,
    token_secret: str,
    database_url: str,
    tmp_path: Path,
) -> None:
    texts = [t for p in support.example_files(support.EXAMPLES_04) for t in support.texts_of(p)]
    channel, stub = bods_stub(catalog.address, admin_token)
    with channel:
        assert list(send(stub, admin_token, texts).errors) == []
    statements = exported(catalog, admin_token, "2030-01-01")
    assert support.schema_errors(statements) == []
    assert statements == exported(catalog, admin_token, "2030-01-01")

    # Into a second, empty catalog (a second database on the same server kind).
    other_url = database_url.replace("test.db", "second.db") if "sqlite" in database_url else None
    if other_url is None:
        from tests.conftest import drop_postgres_database, postgres_database_url

        other_url = postgres_database_url()
        assert other_url is not None
    try:
        with running_catalog(other_url, token_secret, admin_token, tmp_path / "b") as second:
            channel, stub = bods_stub(second.address, admin_token)
            with channel:
                reply = send(stub, admin_token, [json.dumps(s) for s in statements])
            assert list(reply.errors) == []
            assert support.facts(graph(second)) == support.facts(graph(catalog))
            assert sorted(graph(second).organizations) == sorted(graph(catalog).organizations)
    finally:
        if "sqlite" not in database_url:
            drop_postgres_database(other_url)


def test_export_bods_writes_a_valid_file(
    catalog: Catalog, admin_token: str, tmp_path: Path
) -> None:
    stack = stack_of(catalog, admin_token)
    assert import_paths(stack, support.EXAMPLES_03 / "1-single-direct.json", out=io.StringIO()) == 0
    path = tmp_path / "out.json"
    out = io.StringIO()
    assert export_to(stack, "2024-01-01", path, out=out) == 0
    statements = json.loads(path.read_text())
    assert "wrote 3 BODS 0.4 statements" in out.getvalue()
    assert support.schema_errors(statements) == []
    # Parties first (in id order), then the relationship that names them.
    assert sorted(s["recordType"] for s in statements[:2]) == ["entity", "person"]
    assert statements[2]["recordType"] == "relationship"
    assert statements[2]["recordDetails"]["interests"][0]["share"] == {"exact": 100}
