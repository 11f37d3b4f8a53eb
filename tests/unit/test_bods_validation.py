"""Checks across one import's statements: duplicates, references, cycles, refused records."""

from __future__ import annotations

import json
from typing import Any

import pytest
from test_bods_support import entity, interest, person, relationship, sid

from dpm.catalog.bods.model import RecordType
from dpm.catalog.bods.reading import Problem, ids_of, read
from dpm.catalog.bods.validation import Checked, check


def nothing_known(slug: str) -> RecordType | None:
    """An empty catalog."""
    return None


def checked(*statements: dict[str, Any], catalog: dict[str, RecordType] | None = None) -> Checked:
    known = catalog or {}
    return check([read(json.dumps(s), i) for i, s in enumerate(statements)], known.get)


def reasons(result: Checked) -> dict[int, str]:
    return {r.index: f"{r.field}: {r.reason}" for r in result.rejections}


def test_a_consistent_set_passes() -> None:
    result = checked(
        entity("a", "A"),
        person("p", "P"),
        relationship("r", "a", "p", interest()),
    )
    assert result.rejections == []
    assert [s.index for s in result.statements] == [0, 1, 2]
    assert result.record_types == {"a": RecordType.ENTITY, "p": RecordType.PERSON}


def test_a_statement_published_twice_is_kept_once_and_a_changed_one_is_refused() -> None:
    first = entity("a", "A", label="same")
    again = entity("a", "A", label="same", source={"url": "https://register.test/a"})
    changed = entity("a", "A Holdings", label="same")
    result = checked(first, again, changed)
    assert result.duplicates == [1]
    assert list(reasons(result)) == [2]
    assert "already used by statement #0" in reasons(result)[2]


def test_unknown_references_are_refused_with_the_record_they_name() -> None:
    result = checked(entity("a", "A"), relationship("r", "a", "ghost", interest()))
    assert reasons(result) == {
        1: "recordDetails.interestedParty: names record ghost, which is neither in this import "
        "nor in the catalog"
    }


def test_references_may_name_records_already_in_the_catalog() -> None:
    result = checked(
        relationship("r", "a", "p", interest()),
        catalog={"bods-a": RecordType.ENTITY, "bods-p": RecordType.PERSON},
    )
    assert result.rejections == []


def test_the_subject_must_be_an_entity_and_differ_from_the_interested_party() -> None:
    result = checked(
        entity("a", "A"),
        person("p", "P"),
        relationship("r1", "p", "a", interest()),
        relationship("r2", "a", "a", interest()),
    )
    found = reasons(result)
    assert "the subject must be an entity" in found[2]
    assert "cannot hold itself" in found[3]


def test_a_relationship_naming_a_refused_record_is_refused_too() -> None:
    bad = entity("a", "A")
    bad["recordDetails"]["entityType"] = "registeredEntity"  # must be an object
    texts = [
        json.dumps(s) for s in (bad, person("p", "P"), relationship("r", "a", "p", interest()))
    ]
    with pytest.raises(Problem):
        read(texts[0], 0)
    assert ids_of(texts[0]) == (sid("entity:a"), "a")
    result = check([read(texts[1], 1), read(texts[2], 2)], nothing_known, {"a": 0})
    assert reasons(result) == {2: "recordDetails.subject: a was refused (statement #0)"}


def test_cycles_through_component_records_refuse_every_statement_on_them() -> None:
    result = checked(
        entity("a", "A"),
        entity("b", "B"),
        person("p", "P"),
        relationship("r1", "a", "p", interest(directness="indirect"), components=["r2"]),
        relationship("r2", "b", "p", interest(directness="indirect"), components=["r1"]),
        relationship("r3", "a", "b", interest(), components=["r3"]),
    )
    found = reasons(result)
    assert set(found) == {3, 4, 5}
    assert all("components form a cycle" in text for text in found.values())


def test_a_0_3_replacement_joins_the_record_it_replaces() -> None:
    statements = [
        {"statementID": "e1", "statementType": "entityStatement", "name": "Old name"},
        {
            "statementID": "e2",
            "statementType": "entityStatement",
            "name": "New name",
            "replacesStatements": ["e1"],
        },
    ]
    result = check([read(json.dumps(s), i) for i, s in enumerate(statements)], nothing_known)
    assert [s.record_id for s in result.statements] == ["e1", "e1"]


def test_replacements_that_come_back_are_a_cycle() -> None:
    statements = [
        {"statementID": "e1", "statementType": "entityStatement", "replacesStatements": ["e2"]},
        {"statementID": "e2", "statementType": "entityStatement", "replacesStatements": ["e1"]},
    ]
    result = check([read(json.dumps(s), i) for i, s in enumerate(statements)], nothing_known)
    assert set(reasons(result)) == {0, 1}
    assert "replacements form a cycle" in reasons(result)[0]


def test_statement_ids_in_builders_are_stable() -> None:
    assert sid("x") == sid("x") != sid("y")
    assert 32 <= len(sid("x")) <= 64
