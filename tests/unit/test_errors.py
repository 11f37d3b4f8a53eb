"""Errors stay small whatever the input: a hostile request cannot blow up the trailer."""

from __future__ import annotations

import pytest

from dpm.platform.errors import (
    MAX_VIOLATIONS,
    FieldViolation,
    InvalidArgument,
    NotFound,
    Violations,
)
from dpm.platform.names import OrganizationName, quote


def test_a_flood_of_violations_is_bounded_and_counted() -> None:
    v = Violations()
    huge = "y" * 1_000_000
    for i in range(100_000):
        v.add(f"vendors[{i}]" + "x" * 1000, huge)
    with pytest.raises(InvalidArgument) as caught:
        v.raise_if_any()
    error = caught.value
    assert len(error.to_status().SerializeToString()) < 32_000
    assert len(error.violations) == MAX_VIOLATIONS + 1
    assert error.violations[-1] == FieldViolation("", "and 99980 more violations not shown")
    assert error.violations[0].field.startswith("vendors[0]")


def test_a_huge_message_is_clipped() -> None:
    assert len(NotFound("z" * 10_000_000).to_status().SerializeToString()) < 4_000


def test_a_bad_name_is_quoted_by_a_short_prefix() -> None:
    huge = "organizations/" + "a" * 1_000_000 + "\n"
    with pytest.raises(InvalidArgument) as caught:
        OrganizationName.parse(huge, "held")
    (violation,) = caught.value.violations
    assert violation.field == "held"
    assert len(violation.description) < 300
    assert "(1000015 characters)" in violation.description
    assert quote("short") == "'short'"


def test_a_trailing_newline_is_not_part_of_an_id() -> None:
    assert OrganizationName.matches("organizations/meta")
    assert not OrganizationName.matches("organizations/meta\n")
    assert not OrganizationName.matches("organizations/Meta")
    assert not OrganizationName.matches("organizations/meta/vendorProfile")


def test_a_nul_byte_anywhere_in_a_request_is_refused_naming_the_field() -> None:
    from dpm.catalog.v1 import catalog_pb2
    from dpm.ownership.v1 import ownership_pb2
    from dpm.platform.request_checks import refuse_nul_bytes

    refuse_nul_bytes(catalog_pb2.CreateOrganizationRequest(organization_id="ok"))
    org = catalog_pb2.Organization(display_name="A\x00B", source_urls=["https://x", "y\x00"])
    with pytest.raises(InvalidArgument) as caught:
        refuse_nul_bytes(
            catalog_pb2.CreateOrganizationRequest(organization_id="a", organization=org)
        )
    assert [v.field for v in caught.value.violations] == [
        "organization.display_name",
        "organization.source_urls[1]",
    ]
    event = ownership_pb2.OwnershipEvent(event_id="e")
    event.leadership_move.person = "\x00"
    with pytest.raises(InvalidArgument) as caught:
        refuse_nul_bytes(catalog_pb2.RecordOwnershipEventRequest(event=event))
    assert caught.value.violations[0].field == "event.leadership_move.person"
