"""Support for the BODS tests (no tests here): statement builders, the schema, a database."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker
from referencing import Registry, Resource

from dpm.catalog import graph
from dpm.catalog.bods.importer import ImportResult, import_statements
from dpm.catalog.store import MIGRATIONS_DIR
from dpm.ownership.v1 import ownership_pb2
from dpm.platform.db import Database

BODS = Path(__file__).resolve().parents[1] / "data" / "bods"
EXAMPLES_04 = BODS / "examples-0.4"
EXAMPLES_03 = BODS / "examples-0.3"
SCHEMA = BODS / "schema"

Json = dict[str, Any]


def schema_validator() -> Draft202012Validator:
    """The BODS 0.4 statement-array schema, its $refs resolved across the schema directory."""
    registry: Registry = Registry()
    schemas: dict[str, Json] = {}
    for path in sorted(SCHEMA.glob("*.json")):
        document = json.loads(path.read_text())
        if "$id" in document:
            registry = registry.with_resource(document["$id"], Resource.from_contents(document))
            schemas[document["$id"]] = document
    return Draft202012Validator(
        schemas["urn:statement"], registry=registry, format_checker=FormatChecker()
    )


def schema_errors(statements: list[Json]) -> list[str]:
    return [
        f"{list(e.absolute_path)}: {e.message[:200]}"
        for e in schema_validator().iter_errors(statements)
    ]


def texts_of(path: Path) -> list[str]:
    """The statements of one example file, as JSON texts."""
    data = json.loads(path.read_text())
    return [json.dumps(item) for item in (data if isinstance(data, list) else [data])]


def example_files(directory: Path) -> list[Path]:
    return sorted(directory.rglob("*.json"))


@contextmanager
def catalog_database(tmp_path: Path, name: str = "catalog") -> Iterator[Database]:
    database = Database.open(f"sqlite:///{tmp_path / f'{name}.db'}", MIGRATIONS_DIR)
    try:
        yield database
    finally:
        database.close()


def run_import(database: Database, texts: list[str]) -> ImportResult:
    with database.write() as session:
        return import_statements(session, texts)


def graph_of(database: Database, as_of: dt.date | None = None) -> ownership_pb2.OwnershipGraph:
    with database.read() as session:
        return graph.export(session, as_of or dt.date.today())


def facts(g: ownership_pb2.OwnershipGraph) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """What a graph says, without where it comes from (event ids, sources, provenance)."""

    def figure(h: ownership_pb2.Holding, axis: str) -> Any:
        if h.HasField(f"{axis}_fraction"):
            return round(getattr(h, f"{axis}_fraction"), 9)
        if h.HasField(f"{axis}_range"):
            r = getattr(h, f"{axis}_range")
            return (
                r.minimum if r.HasField("minimum") else None,
                r.maximum if r.HasField("maximum") else None,
                r.exclusive_minimum,
                r.exclusive_maximum,
            )
        return None

    holdings = sorted(
        (
            h.holder,
            h.held,
            figure(h, "equity"),
            figure(h, "voting"),
            h.board_seats,
            h.valid_from,
            h.valid_to,
        )
        for h in g.holdings
    )
    ties = sorted(
        (t.kind, t.organization, t.counterparty, t.person, t.role, t.effective_date) for t in g.ties
    )
    return holdings, ties


def holding(g: ownership_pb2.OwnershipGraph, holder: str, held: str) -> ownership_pb2.Holding:
    found = [h for h in g.holdings if h.holder == org(holder) and h.held == org(held)]
    assert len(found) == 1, (holder, held, [(h.holder, h.held) for h in g.holdings])
    return found[0]


def org(slug: str) -> str:
    return f"organizations/{slug}"


# ------------------------------------------------------------------ BODS 0.4 builders


def sid(label: str) -> str:
    """A deterministic 36-character statement id for a test label."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"dpmatch-test:{label}"))


def envelope(
    record_id: str, record_type: str, details: Json, *, label: str = "", **top: Any
) -> Json:
    statement: Json = {
        "statementId": sid(label or f"{record_type}:{record_id}"),
        "declarationSubject": record_id,
        "statementDate": "2020-01-01",
        "publicationDetails": {
            "publicationDate": "2020-01-02",
            "bodsVersion": "0.4",
            "publisher": {"name": "Test Register"},
        },
        "recordId": record_id,
        "recordType": record_type,
        "recordStatus": "new",
        "recordDetails": details,
    }
    statement.update(top)
    return statement


def entity(record_id: str, name: str, **top: Any) -> Json:
    details = {"isComponent": False, "entityType": {"type": "registeredEntity"}, "name": name}
    return envelope(record_id, "entity", details, **top)


def person(record_id: str, name: str, **top: Any) -> Json:
    details = {
        "isComponent": False,
        "personType": "knownPerson",
        "names": [{"type": "legal", "fullName": name}],
    }
    return envelope(record_id, "person", details, **top)


def relationship(
    record_id: str,
    subject: str | Json,
    party: str | Json,
    *interests: Json,
    components: list[str] | None = None,
    is_component: bool = False,
    **top: Any,
) -> Json:
    details: Json = {
        "isComponent": is_component,
        "subject": subject,
        "interestedParty": party,
        "interests": list(interests),
    }
    if components is not None:
        details["componentRecords"] = components
    return envelope(record_id, "relationship", details, **top)


def interest(kind: str = "shareholding", directness: str = "direct", **fields: Any) -> Json:
    found: Json = {"type": kind, "directOrIndirect": directness}
    found.update(fields)
    return found


def texts(*statements: Json) -> list[str]:
    return [json.dumps(s) for s in statements]
