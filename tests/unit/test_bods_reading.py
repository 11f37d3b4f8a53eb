"""Reading one BODS statement (0.4 or 0.3) into the model, and refusing what cannot be read."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from test_bods_support import (
    EXAMPLES_03,
    EXAMPLES_04,
    entity,
    example_files,
    interest,
    person,
    relationship,
    texts_of,
)

from dpm.catalog.bods.model import Directness, RecordType, Share, Status
from dpm.catalog.bods.reading import MAX_STATEMENT_BYTES, Problem, read


def problem(statement: Any) -> Problem:
    text = statement if isinstance(statement, str) else json.dumps(statement)
    with pytest.raises(Problem) as info:
        read(text, 0)
    return info.value


@pytest.mark.parametrize("path", example_files(EXAMPLES_04) + example_files(EXAMPLES_03), ids=str)
def test_every_example_statement_reads(path: Any) -> None:
    for i, text in enumerate(texts_of(path)):
        statement = read(text, i)
        assert statement.statement_id
        assert statement.version == ("0.4" if "examples-0.4" in str(path) else "0.3")


def test_a_04_relationship_becomes_the_model() -> None:
    statement = read(
        json.dumps(
            relationship(
                "rel-1",
                "company",
                "owner",
                interest("shareholding", share={"minimum": 25, "exclusiveMaximum": 50}),
                interest("votingRights", "indirect", share={"exact": 30}, startDate="2019-05"),
                components=["x"],
                recordStatus="updated",
            )
        ),
        7,
    )
    assert statement.index == 7
    assert statement.record_type is RecordType.RELATIONSHIP
    assert statement.record_id == "rel-1"
    assert statement.status is Status.UPDATED
    rel = statement.relationship
    assert rel is not None
    assert (rel.subject.record_id, rel.interested.record_id) == ("company", "owner")
    assert rel.components == ("x",)
    equity, votes = rel.interests
    assert equity.share == Share(minimum=0.25, maximum=0.5, exclusive_maximum=True)
    assert votes.directness is Directness.INDIRECT
    assert votes.share == Share(exact=0.3)
    assert votes.start == dt.date(2019, 5, 1)  # BODS: an unknown day is the first
    assert statement.source.statement_date == dt.date(2020, 1, 1)
    assert statement.source.publisher == "Test Register"


def test_a_03_statement_names_statements_and_uses_flags_for_exclusive_bounds() -> None:
    text = json.dumps(
        {
            "statementID": "s-3",
            "statementType": "ownershipOrControlStatement",
            "isComponent": False,
            "subject": {"describedByEntityStatement": "s-1"},
            "interestedParty": {"describedByPersonStatement": "s-2"},
            "interests": [
                {
                    "type": "shareholding",
                    "share": {"minimum": 25, "maximum": 50, "exclusiveMinimum": True},
                }
            ],
            "replacesStatements": ["s-0"],
        }
    )
    statement = read(text, 0)
    assert statement.version == "0.3"
    assert statement.record_id == "s-3"
    assert statement.status is Status.UPDATED
    assert statement.replaces == ("s-0",)
    rel = statement.relationship
    assert rel is not None
    assert rel.subject.expected is RecordType.ENTITY
    assert rel.interested.expected is RecordType.PERSON
    assert rel.interests[0].share == Share(minimum=0.25, maximum=0.5, exclusive_minimum=True)
    assert rel.interests[0].directness is Directness.UNKNOWN


@pytest.mark.parametrize(
    ("share", "expected"),
    [
        ({"exact": 100}, Share(exact=1.0)),
        ({"exact": 50, "minimum": 50, "maximum": 50}, Share(exact=0.5)),
        ({"minimum": 40, "maximum": 40}, Share(exact=0.4)),
        ({"minimum": 75, "exclusiveMaximum": 100}, Share(None, 0.75, 1.0, False, True)),
        ({"exclusiveMinimum": 25, "exclusiveMaximum": 50}, Share(None, 0.25, 0.5, True, True)),
        ({"minimum": 10, "exclusiveMinimum": 20}, Share(None, 0.2, None, True, False)),
        ({"maximum": 30}, Share(maximum=0.3)),
        ({}, None),
    ],
)
def test_shares_in_percent_become_fractions(share: dict[str, Any], expected: Share | None) -> None:
    statement = read(json.dumps(relationship("r", "a", "b", interest(share=share))), 0)
    assert statement.relationship is not None
    assert statement.relationship.interests[0].share == expected


def test_the_meaning_leaves_out_where_a_statement_comes_from() -> None:
    plain = entity("e", "Acme")
    richer = entity("e", "Acme", source={"type": ["officialRegister"], "url": "https://x.test"})
    assert read(json.dumps(plain), 0).content == read(json.dumps(richer), 1).content
    renamed = entity("e", "Acme Ltd")
    assert read(json.dumps(plain), 0).content != read(json.dumps(renamed), 0).content


def bad_relationship(**details: Any) -> dict[str, Any]:
    statement = relationship("r", "a", "b", interest())
    statement["recordDetails"].update(details)
    return statement


@pytest.mark.parametrize(
    ("statement", "field", "words"),
    [
        ("{not json", "", "is not JSON"),
        ('{"statementId": NaN}', "", "is not JSON"),
        ("[1, 2]", "", "must be a JSON object, not an array"),
        ('"text"', "", "must be a JSON object, not a string"),
        ({"hello": "world"}, "", "neither a BODS 0.4 statement"),
        ({**entity("e", "E"), "statementId": 42}, "statementId", "must be a string"),
        ({**entity("e", "E"), "recordDetails": "E"}, "recordDetails", "must be an object"),
        ({**entity("e", "E"), "recordType": "company"}, "recordType", "is not one of"),
        ({**entity("e", "E"), "recordStatus": "gone"}, "recordStatus", "is not one of"),
        ({**entity("e", "E"), "statementDate": "yesterday"}, "statementDate", "is not a date"),
        ({**entity("e", "E"), "statementDate": "1066-10-14"}, "statementDate", "is outside"),
        ({**entity("e", "E"), "statementId": "a\nb"}, "statementId", "control characters"),
        ({**entity("e", "E"), "recordId": ""}, "recordId", "is required"),
        (bad_relationship(interests="all"), "recordDetails.interests", "must be an array"),
        (bad_relationship(interests=[3]), "recordDetails.interests[0]", "must be an object"),
        (bad_relationship(subject=7), "recordDetails.subject", "must be a record id"),
        (bad_relationship(isComponent="yes"), "recordDetails.isComponent", "must be a boolean"),
        (
            bad_relationship(interests=[interest(share={"minimum": "25"})]),
            "recordDetails.interests[0].share.minimum",
            "must be a number",
        ),
        (
            bad_relationship(interests=[interest(share={"minimum": 60, "maximum": 50})]),
            "recordDetails.interests[0].share",
            "minimum 60% is more than maximum 50%",
        ),
        (
            bad_relationship(interests=[interest(share={"minimum": 50, "exclusiveMaximum": 50})]),
            "recordDetails.interests[0].share",
            "is empty",
        ),
        (
            bad_relationship(interests=[interest(share={"exact": 70, "maximum": 50})]),
            "recordDetails.interests[0].share",
            "outside its own range",
        ),
        (
            bad_relationship(interests=[interest(share={"exact": 140})]),
            "recordDetails.interests[0].share.exact",
            "percentage in [0, 100]",
        ),
        (
            bad_relationship(interests=[interest(share={"exact": True})]),
            "recordDetails.interests[0].share.exact",
            "must be a number, not a boolean",
        ),
        (
            bad_relationship(interests=[interest("ownsEverything")]),
            "recordDetails.interests[0].type",
            "not an interestType",
        ),
        (
            bad_relationship(interests=[interest(startDate="2020-01-01", endDate="2019-01-01")]),
            "recordDetails.interests[0].endDate",
            "before startDate",
        ),
        (
            {**entity("e", "E"), "recordDetails": {"name": "x" * 20_000}},
            "recordDetails.name",
            "more than 10000",
        ),
        (
            {
                "statementID": "s",
                "statementType": "ownershipOrControlStatement",
                "subject": {"describedByPersonStatement": "p"},
                "interestedParty": {"describedByPersonStatement": "q"},
            },
            "subject",
            "must be described by an entity statement",
        ),
        (
            {
                "statementID": "s",
                "statementType": "ownershipOrControlStatement",
                "subject": {"describedByEntityStatement": "e"},
                "interestedParty": {},
            },
            "interestedParty",
            "exactly one of",
        ),
    ],
)
def test_a_bad_statement_is_refused_naming_the_field(
    statement: Any, field: str, words: str
) -> None:
    found = problem(statement)
    assert found.field == field, found
    assert words in found.reason, found


def test_a_ten_megabyte_string_is_refused_without_parsing_it() -> None:
    text = json.dumps(person("p", "x" * 10_000_000))
    found = problem(text)
    assert found.field == ""
    assert "MiB" in found.reason and "more than" in found.reason
    assert len(text) > MAX_STATEMENT_BYTES


def test_a_0_3_statement_may_use_older_interest_codes() -> None:
    text = json.dumps(
        {
            "statementID": "s",
            "statementType": "ownershipOrControlStatement",
            "subject": {"describedByEntityStatement": "e"},
            "interestedParty": {"describedByEntityStatement": "f"},
            "interests": [{"type": "influence-or-control"}],
        }
    )
    rel = read(text, 0).relationship
    assert rel is not None
    assert rel.interests[0].type == "unknownInterest"
