"""CatalogService over real gRPC, on SQLite and PostgreSQL."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from google.protobuf import field_mask_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from test_catalog_support import Catalog, field_violations, org, running_catalog, stake

from dpm.catalog import graph as graph_module
from dpm.catalog.v1 import catalog_pb2, catalog_pb2_grpc
from dpm.common.v1 import common_pb2
from dpm.ownership.v1 import ownership_pb2
from dpm.platform import auth
from dpm.platform.events import CatalogChanged, OwnershipChanged, Queue
from dpm.platform.grpc_client import open_channel

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def catalog(
    database_url: str, token_secret: str, admin_token: str, tmp_path: Path
) -> Iterator[Catalog]:
    with running_catalog(database_url, token_secret, admin_token, tmp_path) as running:
        yield running


def meta_scale(c: Catalog) -> None:
    """The d_meta_scale scenario, with an investor above Meta so ancestors show."""
    c.org("meta", "lab", "Meta Platforms")
    c.org("google", "lab", "Google")
    c.org("scale-ai", "vendor", "Scale AI")
    c.org("scale-sub", "vendor", "Scale Sub (hypothetical)")
    c.org("meta-fund", "investor", "Fund holding Meta")
    c.org("fund-parent", "parent", "Parent of the fund")
    c.record(stake("ev-fund-meta", "meta-fund", "meta", "2019-01-01", 0.3))
    c.record(stake("ev-parent-fund", "fund-parent", "meta-fund", "2019-01-01", 0.6))
    sub = ownership_pb2.OwnershipEvent(event_id="ev-scale-sub", effective_date="2020-01-01")
    sub.full_acquisition.acquirer, sub.full_acquisition.target = org("scale-ai"), org("scale-sub")
    c.record(sub)


def expect_error(
    code: grpc.StatusCode, call: object, *args: object, **kwargs: object
) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as info:
        call(*args, **kwargs)  # type: ignore[operator]
    err = info.value
    assert err.code() == code, err.details()
    return err


def expect_invalid(field: str, call: object, *args: object, **kwargs: object) -> str:
    err = expect_error(grpc.StatusCode.INVALID_ARGUMENT, call, *args, **kwargs)
    assert field in field_violations(err), (field, field_violations(err), err.details())
    return str(err.details())


# ---------------------------------------------------------------------------- server basics


def test_health_serving_after_start(catalog: Catalog) -> None:
    with grpc.insecure_channel(catalog.address) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        deadline = time.monotonic() + 5
        while True:
            status = stub.Check(
                health_pb2.HealthCheckRequest(service="dpm.catalog.v1.CatalogService"), timeout=2
            ).status
            if status == health_pb2.HealthCheckResponse.SERVING or time.monotonic() > deadline:
                break
            time.sleep(0.05)
    assert status == health_pb2.HealthCheckResponse.SERVING


def test_authentication_and_roles(catalog: Catalog, token_secret: str) -> None:
    catalog.org("meta", "lab")
    get = catalog_pb2.GetOrganizationRequest(name=org("meta"))
    with grpc.insecure_channel(catalog.address) as bare:
        stub = catalog_pb2_grpc.CatalogServiceStub(bare)
        expect_error(grpc.StatusCode.UNAUTHENTICATED, stub.GetOrganization, get)
    with open_channel(catalog.address, "not-a-jwt", 5) as garbage:
        stub = catalog_pb2_grpc.CatalogServiceStub(garbage)
        expect_error(grpc.StatusCode.UNAUTHENTICATED, stub.GetOrganization, get)
    client = auth.client_token(token_secret, "clients/google")
    with open_channel(catalog.address, client, 5) as lab:
        stub = catalog_pb2_grpc.CatalogServiceStub(lab)
        assert stub.GetOrganization(get).name == org("meta")  # reads: any principal
        create = catalog_pb2.CreateOrganizationRequest(
            organization_id="x",
            organization=catalog_pb2.Organization(
                display_name="X", kind=catalog_pb2.ORGANIZATION_KIND_VENDOR
            ),
        )
        expect_error(grpc.StatusCode.PERMISSION_DENIED, stub.CreateOrganization, create)
        event = stake("ev-client", "meta", "meta", "2025-01-01", 0.1)
        expect_error(
            grpc.StatusCode.PERMISSION_DENIED,
            stub.RecordOwnershipEvent,
            catalog_pb2.RecordOwnershipEventRequest(event=event),
        )


# ---------------------------------------------------------------------------- organizations


def test_organization_crud(catalog: Catalog) -> None:
    created = catalog.org("scale-ai", "vendor", "Scale AI")
    assert created.name == "organizations/scale-ai"
    assert created.create_time.seconds > 0
    got = catalog.stub.GetOrganization(catalog_pb2.GetOrganizationRequest(name=org("scale-ai")))
    assert got == created

    err = expect_error(grpc.StatusCode.ALREADY_EXISTS, catalog.org, "scale-ai")
    assert "organizations/scale-ai" in str(err.details())
    expect_error(
        grpc.StatusCode.NOT_FOUND,
        catalog.stub.GetOrganization,
        catalog_pb2.GetOrganizationRequest(name=org("nobody")),
    )
    expect_invalid(
        "name",
        catalog.stub.GetOrganization,
        catalog_pb2.GetOrganizationRequest(name="companies/x"),
    )

    updated = catalog.stub.UpdateOrganization(
        catalog_pb2.UpdateOrganizationRequest(
            organization=catalog_pb2.Organization(
                name=org("scale-ai"), display_name="Scale AI, Inc.", country="GB"
            ),
            update_mask=field_mask_pb2.FieldMask(paths=["display_name"]),
        )
    )
    assert updated.display_name == "Scale AI, Inc."
    assert updated.country == "US"  # not in the mask
    assert updated.kind == catalog_pb2.ORGANIZATION_KIND_VENDOR

    expect_invalid(
        "update_mask.paths",
        catalog.stub.UpdateOrganization,
        catalog_pb2.UpdateOrganizationRequest(
            organization=catalog_pb2.Organization(name=org("scale-ai")),
            update_mask=field_mask_pb2.FieldMask(paths=["create_time"]),
        ),
    )
    expect_error(
        grpc.StatusCode.NOT_FOUND,
        catalog.stub.UpdateOrganization,
        catalog_pb2.UpdateOrganizationRequest(
            organization=catalog_pb2.Organization(name=org("nobody"), display_name="N"),
            update_mask=field_mask_pb2.FieldMask(paths=["display_name"]),
        ),
    )


def test_organization_bad_input(catalog: Catalog) -> None:
    def create(slug: str, **fields: object) -> object:
        base: dict[str, object] = {"display_name": "X", "kind": 1}
        base.update(fields)
        return catalog.stub.CreateOrganization(
            catalog_pb2.CreateOrganizationRequest(
                organization_id=slug,
                organization=catalog_pb2.Organization(**base),  # type: ignore[arg-type]
            )
        )

    expect_invalid("organization_id", create, "Bad_Slug")
    expect_invalid("organization_id", create, "")
    expect_invalid("organization.kind", create, "x", kind=0)
    expect_invalid("organization.display_name", create, "x", display_name=" ")
    expect_invalid("organization.country", create, "x", country="usa")
    expect_invalid("organization.source_urls[0]", create, "x", source_urls=["ftp://x"])
    expect_invalid("organization.name", create, "x", name=org("y"))
    listing = catalog.stub.ListOrganizations(catalog_pb2.ListOrganizationsRequest())
    assert list(listing.organizations) == []


def test_list_organizations_paginates_and_filters(catalog: Catalog) -> None:
    for i in range(5):
        catalog.org(f"vendor-{i}", "vendor")
    catalog.org("lab-a", "lab")
    catalog.org("lab-b", "lab")

    names: list[str] = []
    token = ""
    pages = 0
    while True:
        page = catalog.stub.ListOrganizations(
            catalog_pb2.ListOrganizationsRequest(page_size=2, page_token=token)
        )
        names += [o.name for o in page.organizations]
        pages += 1
        token = page.next_page_token
        if not token:
            break
    assert names == sorted(names) and len(names) == 7 and pages == 4

    labs = catalog.stub.ListOrganizations(
        catalog_pb2.ListOrganizationsRequest(kind=catalog_pb2.ORGANIZATION_KIND_LAB, page_size=1)
    )
    assert [o.name for o in labs.organizations] == [org("lab-a")]
    rest = catalog.stub.ListOrganizations(
        catalog_pb2.ListOrganizationsRequest(
            kind=catalog_pb2.ORGANIZATION_KIND_LAB, page_token=labs.next_page_token
        )
    )
    assert [o.name for o in rest.organizations] == [org("lab-b")]
    assert rest.next_page_token == ""

    list_ = catalog.stub.ListOrganizations
    forged = catalog_pb2.ListOrganizationsRequest(page_token="eyJrIjoieCJ9.forged")
    expect_invalid("page_token", list_, forged)
    other_query = catalog_pb2.ListOrganizationsRequest(page_token=labs.next_page_token)
    expect_invalid("page_token", list_, other_query)
    expect_invalid("page_size", list_, catalog_pb2.ListOrganizationsRequest(page_size=-1))


# ---------------------------------------------------------------------------- vendor profiles


def profile(slug: str, **fields: object) -> catalog_pb2.VendorProfile:
    base: dict[str, object] = {
        "name": f"{org(slug)}/vendorProfile",
        "service_model": catalog_pb2.SERVICE_MODEL_HYBRID,
        "capabilities": [
            catalog_pb2.Capability(
                modality=common_pb2.MODALITY_RLHF,
                monthly_capacity=100_000,
                quality=0.92,
                unit_price_usd=4.5,
            )
        ],
        "certifications": [common_pb2.CERTIFICATION_SOC2_TYPE_II],
        "workforce_regions": ["US", "PH"],
        "data_residency_regions": ["EU"],
    }
    base.update(fields)
    return catalog_pb2.VendorProfile(**base)  # type: ignore[arg-type]


def test_vendor_profiles(catalog: Catalog) -> None:
    catalog.org("scale-ai", "vendor")
    catalog.org("surge-ai", "vendor")
    update = catalog.stub.UpdateVendorProfile
    expect_error(
        grpc.StatusCode.NOT_FOUND,
        update,
        catalog_pb2.UpdateVendorProfileRequest(vendor_profile=profile("scale-ai")),
    )
    expect_error(
        grpc.StatusCode.NOT_FOUND,
        update,
        catalog_pb2.UpdateVendorProfileRequest(
            vendor_profile=profile("nobody"), allow_missing=True
        ),
    )
    first = update(
        catalog_pb2.UpdateVendorProfileRequest(
            vendor_profile=profile("scale-ai"), allow_missing=True
        )
    )
    assert first.capabilities[0].quality == pytest.approx(0.92)
    assert list(first.data_residency_regions) == ["EU"]
    changed = update(
        catalog_pb2.UpdateVendorProfileRequest(
            vendor_profile=profile("scale-ai", security_clearance=True, workforce_regions=["DE"]),
            update_mask=field_mask_pb2.FieldMask(paths=["security_clearance"]),
        )
    )
    assert changed.security_clearance and list(changed.workforce_regions) == ["US", "PH"]
    assert changed.catalog_version > first.catalog_version
    got = catalog.stub.GetVendorProfile(
        catalog_pb2.GetVendorProfileRequest(name=f"{org('scale-ai')}/vendorProfile")
    )
    assert got == changed
    expect_error(
        grpc.StatusCode.NOT_FOUND,
        catalog.stub.GetVendorProfile,
        catalog_pb2.GetVendorProfileRequest(name=f"{org('surge-ai')}/vendorProfile"),
    )
    update(
        catalog_pb2.UpdateVendorProfileRequest(
            vendor_profile=profile("surge-ai"), allow_missing=True
        )
    )
    page = catalog.stub.ListVendorProfiles(catalog_pb2.ListVendorProfilesRequest(page_size=1))
    assert [p.name for p in page.vendor_profiles] == [f"{org('scale-ai')}/vendorProfile"]
    page2 = catalog.stub.ListVendorProfiles(
        catalog_pb2.ListVendorProfilesRequest(page_token=page.next_page_token)
    )
    assert [p.name for p in page2.vendor_profiles] == [f"{org('surge-ai')}/vendorProfile"]
    assert page2.catalog_version >= page2.vendor_profiles[0].catalog_version > 0
    # A caller holding the catalog at its current version gets no profiles; any other
    # version (older, or none) gets them.
    unchanged = catalog.stub.ListVendorProfiles(
        catalog_pb2.ListVendorProfilesRequest(known_catalog_version=page2.catalog_version)
    )
    assert unchanged == catalog_pb2.ListVendorProfilesResponse(
        catalog_version=page2.catalog_version, not_modified=True
    )
    older = catalog.stub.ListVendorProfiles(
        catalog_pb2.ListVendorProfilesRequest(known_catalog_version=page2.catalog_version - 1)
    )
    assert not older.not_modified and len(older.vendor_profiles) == 2
    kwargs = catalog.published.wait_for(
        CatalogChanged.TASK, "catalog_version", page2.vendor_profiles[0].catalog_version
    )
    assert kwargs["organization"] == org("surge-ai")


@pytest.mark.parametrize(
    ("fields", "violation"),
    [
        ({"service_model": 0}, "vendor_profile.service_model"),
        (
            {"capabilities": [catalog_pb2.Capability(modality=0)]},
            "vendor_profile.capabilities[0].modality",
        ),
        (
            {
                "capabilities": [
                    catalog_pb2.Capability(modality=common_pb2.MODALITY_TEXT),
                    catalog_pb2.Capability(modality=common_pb2.MODALITY_TEXT),
                ]
            },
            "vendor_profile.capabilities[1].modality",
        ),
        (
            {"capabilities": [catalog_pb2.Capability(modality=1, quality=1.5)]},
            "vendor_profile.capabilities[0].quality",
        ),
        (
            {"capabilities": [catalog_pb2.Capability(modality=1, unit_price_usd=-1)]},
            "vendor_profile.capabilities[0].unit_price_usd",
        ),
        (
            {"capabilities": [catalog_pb2.Capability(modality=1, monthly_capacity=-5)]},
            "vendor_profile.capabilities[0].monthly_capacity",
        ),
        ({"certifications": [0]}, "vendor_profile.certifications[0]"),
        ({"workforce_regions": ["US", "usa"]}, "vendor_profile.workforce_regions[1]"),
        ({"data_residency_regions": ["Europe"]}, "vendor_profile.data_residency_regions[0]"),
    ],
)
def test_vendor_profile_bad_input(
    fields: dict[str, object], violation: str, token_secret: str, admin_token: str, tmp_path: Path
) -> None:
    # SQLite only: validation happens before storage is touched.
    url = f"sqlite:///{tmp_path / 'catalog.db'}"
    with running_catalog(url, token_secret, admin_token, tmp_path) as catalog:
        catalog.org("scale-ai", "vendor")
        expect_invalid(
            violation,
            catalog.stub.UpdateVendorProfile,
            catalog_pb2.UpdateVendorProfileRequest(
                vendor_profile=profile("scale-ai", **fields), allow_missing=True
            ),
        )
        expect_error(
            grpc.StatusCode.NOT_FOUND,
            catalog.stub.GetVendorProfile,
            catalog_pb2.GetVendorProfileRequest(name=f"{org('scale-ai')}/vendorProfile"),
        )


# ---------------------------------------------------------------------------- the ledger


def test_meta_scale_event_upstream_and_export(catalog: Catalog) -> None:
    meta_scale(catalog)
    recorded = catalog.record(stake("meta-scale-2025", "meta", "scale-ai", "2025-06-12", 0.49, 0.0))
    assert recorded.name == "ownershipEvents/meta-scale-2025"
    assert recorded.graph_version == 4
    assert recorded.record_time.seconds > 0

    kwargs = catalog.published.wait_for(
        OwnershipChanged.TASK, "event", "ownershipEvents/meta-scale-2025"
    )
    assert kwargs["graph_version"] == 4
    # The holder, the held company and everything above them.
    assert kwargs["upstream"] == [
        org("fund-parent"),
        org("meta"),
        org("meta-fund"),
        org("scale-ai"),
    ]
    queues = {q for t, q, _ in catalog.published.calls if t == OwnershipChanged.TASK}
    assert queues == {Queue.REMATCH}

    before = catalog.graph("2025-06-11")
    after = catalog.graph("2025-06-12")
    assert before.version == after.version == 4
    assert after.as_of == "2025-06-12"

    def edges(graph: ownership_pb2.OwnershipGraph) -> dict[tuple[str, str], tuple[float, float]]:
        return {(h.holder, h.held): (h.equity_fraction, h.voting_fraction) for h in graph.holdings}

    assert (org("meta"), org("scale-ai")) not in edges(before)
    assert edges(after)[(org("meta"), org("scale-ai"))] == (0.49, 0.0)
    assert edges(after)[(org("scale-ai"), org("scale-sub"))] == (1.0, 1.0)
    assert org("google") in after.organizations and len(after.organizations) == 6
    assert catalog.graph("2019-12-31").holdings.__len__() == 2  # before Scale's subsidiary
    # Every read that depends on a date takes it explicitly.
    expect_invalid(
        "as_of",
        catalog.stub.ExportOwnershipGraph,
        catalog_pb2.ExportOwnershipGraphRequest(as_of=""),
    )

    got = catalog.stub.GetOwnershipEvent(
        catalog_pb2.GetOwnershipEventRequest(name="ownershipEvents/meta-scale-2025")
    )
    assert got == recorded
    assert got.stake_acquired.voting_fraction == 0.0
    expect_error(
        grpc.StatusCode.NOT_FOUND,
        catalog.stub.GetOwnershipEvent,
        catalog_pb2.GetOwnershipEventRequest(name="ownershipEvents/none"),
    )
    expect_invalid(
        "as_of",
        catalog.stub.ExportOwnershipGraph,
        catalog_pb2.ExportOwnershipGraphRequest(as_of="June 2025"),
    )


def test_stake_lifecycle_keeps_periods(catalog: Catalog) -> None:
    meta_scale(catalog)
    catalog.record(stake("a", "meta", "scale-ai", "2025-06-12", 0.49, 0.0))
    catalog.record(stake("b", "meta", "scale-ai", "2025-09-01", 0.6, kind="stake_changed"))
    divest = ownership_pb2.OwnershipEvent(event_id="c", effective_date="2026-01-01")
    divest.stake_divested.holder, divest.stake_divested.held = org("meta"), org("scale-ai")
    catalog.record(divest)

    def meta_in_scale(as_of: str) -> list[ownership_pb2.Holding]:
        return [
            h
            for h in catalog.graph(as_of).holdings
            if (h.holder, h.held) == (org("meta"), org("scale-ai"))
        ]

    [first] = meta_in_scale("2025-08-31")
    assert (first.equity_fraction, first.voting_fraction) == (0.49, 0.0)
    assert (first.valid_from, first.valid_to, first.event_id) == ("2025-06-12", "2025-09-01", "a")
    [second] = meta_in_scale("2025-09-01")
    # votes absent = same as equity
    assert (second.equity_fraction, second.voting_fraction) == (0.6, 0.6)
    assert meta_in_scale("2026-01-01") == []


def test_full_acquisition_board_seats_and_ties(catalog: Catalog) -> None:
    meta_scale(catalog)
    catalog.org("vc", "investor")
    catalog.record(stake("vc-scale", "vc", "scale-ai", "2021-01-01", 0.2))
    catalog.record(stake("meta-scale", "meta", "scale-ai", "2022-01-01", 0.3))
    seat = ownership_pb2.OwnershipEvent(event_id="seat", effective_date="2022-02-01")
    seat.board_seat_granted.holder, seat.board_seat_granted.held = org("google"), org("scale-ai")
    catalog.record(seat)
    move = ownership_pb2.OwnershipEvent(event_id="move", effective_date="2025-06-13")
    move.leadership_move.person = "Alexandr Wang"
    move.leadership_move.role = "CEO"
    move.leadership_move.from_organization = org("scale-ai")
    move.leadership_move.to_organization = org("meta")
    catalog.record(move)
    kwargs = catalog.published.wait_for(OwnershipChanged.TASK, "event", "ownershipEvents/move")
    assert kwargs["upstream"] == [org("fund-parent"), org("meta"), org("meta-fund")]

    graph = catalog.graph("2025-06-13")
    seats = {(h.holder, h.held): h for h in graph.holdings}
    google = seats[(org("google"), org("scale-ai"))]
    assert (google.board_seats, google.equity_fraction) == (1, 0.0)
    [tie] = graph.ties
    assert (tie.kind, tie.organization, tie.counterparty, tie.person, tie.role) == (
        ownership_pb2.TIE_KIND_LEADERSHIP_MOVE,
        org("scale-ai"),
        org("meta"),
        "Alexandr Wang",
        "CEO",
    )
    assert catalog.graph("2025-06-12").ties == []

    take = ownership_pb2.OwnershipEvent(event_id="take", effective_date="2026-03-01")
    take.full_acquisition.acquirer, take.full_acquisition.target = org("meta"), org("scale-ai")
    catalog.record(take)
    kwargs = catalog.published.wait_for(OwnershipChanged.TASK, "event", "ownershipEvents/take")
    assert kwargs["upstream"] == [
        org("fund-parent"),
        org("google"),
        org("meta"),
        org("meta-fund"),
        org("scale-ai"),
        org("vc"),
    ]
    holders = {
        h.holder: (h.equity_fraction, h.voting_fraction)
        for h in catalog.graph("2026-03-01").holdings
        if h.held == org("scale-ai")
    }
    assert holders == {org("meta"): (1.0, 1.0)}

    contract = ownership_pb2.OwnershipEvent(event_id="contract", effective_date="2026-03-02")
    contract.contract_tie.kind = ownership_pb2.TIE_KIND_EXCLUSIVE_CONTRACT
    contract.contract_tie.organization = org("scale-sub")
    contract.contract_tie.counterparty = org("google")
    catalog.record(contract)
    kwargs = catalog.published.wait_for(OwnershipChanged.TASK, "event", "ownershipEvents/contract")
    assert kwargs["upstream"] == [org("google")]

    touching = catalog.stub.ListOwnershipEvents(
        catalog_pb2.ListOwnershipEventsRequest(organization=org("google"))
    )
    assert [e.event_id for e in touching.events] == ["seat", "take", "contract"]


def test_list_ownership_events_paginates_in_ledger_order(catalog: Catalog) -> None:
    meta_scale(catalog)
    ids: list[str] = []
    token = ""
    while True:
        page = catalog.stub.ListOwnershipEvents(
            catalog_pb2.ListOwnershipEventsRequest(page_size=2, page_token=token)
        )
        ids += [e.event_id for e in page.events]
        token = page.next_page_token
        if not token:
            break
    assert ids == ["ev-fund-meta", "ev-parent-fund", "ev-scale-sub"]
    first = catalog.stub.ListOwnershipEvents(catalog_pb2.ListOwnershipEventsRequest(page_size=1))
    expect_invalid(
        "page_token",
        catalog.stub.ListOwnershipEvents,
        catalog_pb2.ListOwnershipEventsRequest(
            organization=org("meta"), page_token=first.next_page_token
        ),
    )
    expect_invalid(
        "page_token",
        catalog.stub.ListOwnershipEvents,
        catalog_pb2.ListOwnershipEventsRequest(page_token="garbage"),
    )


def test_idempotent_replay_and_conflicting_content(catalog: Catalog) -> None:
    meta_scale(catalog)
    event = stake("meta-scale", "meta", "scale-ai", "2025-06-12", 0.49, 0.0)
    first = catalog.record(event)
    catalog.published.wait_for(OwnershipChanged.TASK, "event", "ownershipEvents/meta-scale")
    outbox_before = len(catalog.published.calls)
    again = catalog.record(event)
    assert again == first
    assert catalog.graph("2025-06-12").version == first.graph_version

    changed = stake("meta-scale", "meta", "scale-ai", "2025-06-12", 0.5, 0.0)
    err = expect_error(grpc.StatusCode.ALREADY_EXISTS, catalog.record, changed)
    assert "meta-scale" in str(err.details()) and "different content" in str(err.details())
    time.sleep(0.2)
    assert len(catalog.published.calls) == outbox_before  # the replay queued nothing


def bad_events() -> list[tuple[ownership_pb2.OwnershipEvent, str]]:
    cases: list[tuple[ownership_pb2.OwnershipEvent, str]] = []
    ok = stake("x", "meta", "scale-ai", "2025-06-12", 0.1)

    def variant(**fields: object) -> ownership_pb2.OwnershipEvent:
        event = ownership_pb2.OwnershipEvent()
        event.CopyFrom(ok)
        for key, value in fields.items():
            setattr(event, key, value)
        return event

    cases.append((variant(event_id="bad id!"), "event.event_id"))
    cases.append((variant(event_id=""), "event.event_id"))
    cases.append((variant(effective_date="2025-13-01"), "event.effective_date"))
    cases.append((variant(effective_date=""), "event.effective_date"))
    cases.append((variant(source_url="javascript:alert(1)"), "event.source_url"))
    cases.append(
        (ownership_pb2.OwnershipEvent(event_id="x", effective_date="2025-01-01"), "event.change")
    )
    cases.append(
        (stake("x", "nobody", "scale-ai", "2025-06-12", 0.1), "event.stake_acquired.holder")
    )
    cases.append((stake("x", "meta", "nobody", "2025-06-12", 0.1), "event.stake_acquired.held"))
    malformed = stake("x", "meta", "scale-ai", "2025-06-12", 0.1)
    malformed.stake_acquired.holder = "meta"
    cases.append((malformed, "event.stake_acquired.holder"))
    cases.append((stake("x", "meta", "meta", "2025-06-12", 0.1), "event.stake_acquired.held"))
    cases.append(
        (stake("x", "meta", "scale-ai", "2025-06-12", 1.2), "event.stake_acquired.equity_fraction")
    )
    cases.append(
        (
            stake("x", "meta", "scale-ai", "2025-06-12", float("nan")),
            "event.stake_acquired.equity_fraction",
        )
    )
    cases.append(
        (
            stake("x", "meta", "scale-ai", "2025-06-12", 0.1, -0.1),
            "event.stake_acquired.voting_fraction",
        )
    )
    cases.append(
        (
            stake("x", "meta", "scale-ai", "2025-06-12", 0.1, seats=-1),
            "event.stake_acquired.board_seats",
        )
    )
    # Scale AI's subsidiary is already 100% held: another 10% would make 110%.
    cases.append(
        (stake("x", "meta", "scale-sub", "2025-06-12", 0.1), "event.stake_acquired.equity_fraction")
    )
    # Closing the loop scale-sub -> scale-ai with 100%: wholly owned among themselves.
    cases.append(
        (
            stake("x", "scale-sub", "scale-ai", "2025-06-12", 1.0),
            "event.stake_acquired.equity_fraction",
        )
    )
    loop = ownership_pb2.OwnershipEvent(event_id="x", effective_date="2025-06-12")
    loop.full_acquisition.acquirer, loop.full_acquisition.target = org("scale-sub"), org("scale-ai")
    cases.append((loop, "event.full_acquisition.target"))
    tie = ownership_pb2.OwnershipEvent(event_id="x", effective_date="2025-06-12")
    tie.contract_tie.organization, tie.contract_tie.counterparty = org("scale-ai"), org("meta")
    cases.append((tie, "event.contract_tie.kind"))
    seat = ownership_pb2.OwnershipEvent(event_id="x", effective_date="2025-06-12")
    seat.board_seat_granted.holder, seat.board_seat_granted.held = org("meta"), org("scale-ai")
    seat.board_seat_granted.seats = -1
    cases.append((seat, "event.board_seat_granted.seats"))
    move = ownership_pb2.OwnershipEvent(event_id="x", effective_date="2025-06-12")
    move.leadership_move.person = "Someone"
    move.leadership_move.from_organization = org("scale-ai")
    move.leadership_move.to_organization = org("nobody")
    cases.append((move, "event.leadership_move.to_organization"))
    return cases


def test_refused_events_name_the_field_and_write_nothing(catalog: Catalog) -> None:
    meta_scale(catalog)
    before = catalog.graph("2030-01-01")
    events_before = catalog.stub.ListOwnershipEvents(catalog_pb2.ListOwnershipEventsRequest())
    for event, field in bad_events():
        message = expect_invalid(field, catalog.record, event)
        if field == "event.stake_acquired.holder" and "nobody" in event.stake_acquired.holder:
            assert "organizations/nobody does not exist" in message
    assert catalog.graph("2030-01-01") == before
    events_after = catalog.stub.ListOwnershipEvents(catalog_pb2.ListOwnershipEventsRequest())
    assert events_after == events_before
    # The refused id is still free.
    assert catalog.record(stake("x", "meta", "scale-ai", "2025-06-12", 0.1)).graph_version == 4


def test_closed_cycle_vector_is_refused_but_leaky_cycle_accepted(catalog: Catalog) -> None:
    # j_closed_cycle_error: A holds 100% of B, B holds 100% of A.
    catalog.org("a", "parent")
    catalog.org("b", "parent")
    catalog.record(stake("a-b", "a", "b", "2024-01-01", 1.0))
    err = expect_invalid(
        "event.stake_acquired.equity_fraction",
        catalog.record,
        stake("b-a", "b", "a", "2024-01-02", 1.0),
    )
    assert "organizations/a, organizations/b" in err
    # A cross-holding that leaks (some of A held outside) is a legal cycle.
    assert catalog.record(stake("b-a-part", "b", "a", "2024-01-02", 0.4)).graph_version == 2
    expect_invalid(
        "event.stake_changed.equity_fraction",
        catalog.record,
        stake("b-a-all", "b", "a", "2024-02-01", 1.0, kind="stake_changed"),
    )


def test_failed_preconditions(catalog: Catalog) -> None:
    meta_scale(catalog)
    expect_error(
        grpc.StatusCode.FAILED_PRECONDITION,
        catalog.record,
        stake("chg", "meta", "scale-ai", "2025-06-12", 0.2, kind="stake_changed"),
    )
    divest = ownership_pb2.OwnershipEvent(event_id="div", effective_date="2025-06-12")
    divest.stake_divested.holder, divest.stake_divested.held = org("meta"), org("scale-ai")
    expect_error(grpc.StatusCode.FAILED_PRECONDITION, catalog.record, divest)
    removed = ownership_pb2.OwnershipEvent(event_id="rm", effective_date="2025-06-12")
    removed.board_seat_removed.holder, removed.board_seat_removed.held = (
        org("meta"),
        org("scale-ai"),
    )
    expect_error(grpc.StatusCode.FAILED_PRECONDITION, catalog.record, removed)

    catalog.record(stake("meta-scale", "meta", "scale-ai", "2025-06-12", 0.49, 0.0))
    # Back-dated events are accepted, but on 2024-01-01 there was nothing to change.
    err = expect_error(
        grpc.StatusCode.FAILED_PRECONDITION,
        catalog.record,
        stake("backdated", "meta", "scale-ai", "2024-01-01", 0.2, kind="stake_changed"),
    )
    assert "holds no stake in organizations/scale-ai on 2024-01-01" in str(err.details())
    catalog.record(stake("meta-more", "meta", "scale-ai", "2025-09-01", 0.5, kind="stake_changed"))
    # A divestment dated in between would leave the later change nothing to change.
    divest.event_id, divest.effective_date = "div-late", "2025-07-01"
    err = expect_error(grpc.StatusCode.FAILED_PRECONDITION, catalog.record, divest)
    assert "ownershipEvents/meta-more (stake_changed on 2025-09-01) no longer applies" in str(
        err.details()
    )
    assert catalog.graph("2030-01-01").version == 5


def test_graph_export_is_conditional_on_its_etag(catalog: Catalog) -> None:
    meta_scale(catalog)
    first = catalog.graph("2025-07-01")
    assert first.etag and first.holdings and not first.not_modified

    def again(etag: str) -> ownership_pb2.OwnershipGraph:
        return catalog.stub.ExportOwnershipGraph(
            catalog_pb2.ExportOwnershipGraphRequest(as_of="2025-07-01", if_none_match=etag)
        )

    same = again(first.etag)
    assert same.not_modified and same.etag == first.etag and same.version == first.version
    assert not same.holdings and not same.organizations
    catalog.record(stake("ev-meta-scale", "meta", "scale-ai", "2025-06-12", 0.49, 0.0))
    after_event = again(first.etag)
    assert not after_event.not_modified and after_event.etag != first.etag
    assert after_event.version == first.version + 1
    catalog.org("labelbox", "vendor", "Labelbox")  # organizations are part of the export
    after_org = again(after_event.etag)
    assert not after_org.not_modified and "organizations/labelbox" in after_org.organizations
    assert not again("not-an-etag").not_modified


def test_a_copy_a_few_stake_events_old_gets_a_delta_that_makes_it_the_whole_graph(
    catalog: Catalog,
) -> None:
    meta_scale(catalog)
    catalog.org("vc", "investor")
    as_of = "2025-07-01"
    base = catalog.graph(as_of)

    def delta_from(etag: str, accept_delta: bool = True) -> ownership_pb2.OwnershipGraph:
        parts = _streamed(catalog, as_of=as_of, if_none_match=etag, accept_delta=accept_delta)
        merged = ownership_pb2.OwnershipGraph()
        for part in parts:
            merged.MergeFrom(part)
        return merged

    def holdings(graph: ownership_pb2.OwnershipGraph) -> list[bytes]:
        return sorted(h.SerializeToString(deterministic=True) for h in graph.holdings)

    # New, changed, back-dated and corrected stakes, and one dated after as_of.
    catalog.record(stake("s1", "meta", "scale-ai", "2025-06-12", 0.49, 0.0))
    catalog.record(stake("s2", "vc", "google", "2024-01-01", 0.1))
    catalog.record(stake("s3", "meta", "scale-ai", "2025-06-20", 0.4, kind="stake_changed"))
    catalog.record(stake("s4", "vc", "meta", "2025-08-01", 0.05))
    fix = stake("s5", "vc", "google", "2024-01-01", 0.15)
    fix.supersedes = "s2"
    catalog.record(fix)
    whole = catalog.graph(as_of)
    delta = delta_from(base.etag)
    assert delta.delta_from == base.etag and delta.etag == whole.etag
    assert delta.version == whole.version
    assert not delta.organizations and not delta.ties  # unchanged: left out
    assert set(delta.changed_organizations) >= {org("scale-ai"), org("google"), org("meta")}
    assert len(delta.holdings) < len(whole.holdings)
    # The caller drops the changed organizations' holdings and adds the delta's.
    merged = ownership_pb2.OwnershipGraph()
    merged.CopyFrom(base)
    del merged.holdings[:]
    changed = set(delta.changed_organizations)
    merged.holdings.extend(h for h in base.holdings if h.held not in changed)
    merged.holdings.extend(delta.holdings)
    assert holdings(merged) == holdings(whole)
    assert list(merged.organizations) == list(whole.organizations)
    assert list(merged.ties) == list(whole.ties)

    # Without accept_delta, or from a copy it cannot change, the answer is whole.
    unasked = delta_from(base.etag, accept_delta=False)
    assert not unasked.delta_from and holdings(unasked) == holdings(whole)
    assert not delta_from("g1-c999").delta_from
    # A tie or an organization since the copy: whole again.
    move = ownership_pb2.OwnershipEvent(event_id="move", effective_date="2025-06-13")
    move.leadership_move.person, move.leadership_move.role = "Alexandr Wang", "CEO"
    move.leadership_move.from_organization = org("scale-ai")
    move.leadership_move.to_organization = org("meta")
    catalog.record(move)
    after_tie = delta_from(whole.etag)
    assert not after_tie.delta_from and len(after_tie.ties) == 1
    catalog.org("labelbox", "vendor", "Labelbox")
    after_org = delta_from(after_tie.etag)
    assert not after_org.delta_from and org("labelbox") in after_org.organizations


def test_a_ledger_restored_from_a_backup_does_not_pass_for_a_copy_of_the_same_version(
    token_secret: str, admin_token: str, tmp_path: Path
) -> None:
    """Back to an older version, then on to a held version by other events: the held
    etag is neither current nor a base for a delta, while a copy from before the
    restore point still gets one."""
    path = tmp_path / "catalog.db"
    with running_catalog(f"sqlite:///{path}", token_secret, admin_token, tmp_path) as catalog:
        meta_scale(catalog)
        as_of = "2025-07-01"
        before = catalog.graph(as_of)
        backup = sqlite3.connect(tmp_path / "backup.db")
        with sqlite3.connect(path) as live:
            live.backup(backup)
        catalog.record(stake("x", "meta", "google", "2025-06-12", 0.3))
        lost = catalog.graph(as_of)

        with sqlite3.connect(path) as live:  # the restore, under the running server
            backup.backup(live)
        backup.close()
        catalog.record(stake("y", "meta-fund", "google", "2025-06-12", 0.1))
        whole = catalog.graph(as_of)
        assert whole.version == lost.version and whole.etag != lost.etag

        def read(etag: str) -> ownership_pb2.OwnershipGraph:
            merged = ownership_pb2.OwnershipGraph()
            for part in _streamed(catalog, as_of=as_of, if_none_match=etag, accept_delta=True):
                merged.MergeFrom(part)
            return merged

        after_lost = read(lost.etag)
        assert not after_lost.not_modified and not after_lost.delta_from
        assert after_lost.holdings == whole.holdings
        assert read(before.etag).delta_from == before.etag


def _streamed(catalog: Catalog, **request: object) -> list[ownership_pb2.OwnershipGraph]:
    return list(
        catalog.stub.StreamOwnershipGraph(catalog_pb2.ExportOwnershipGraphRequest(**request))
    )


def test_the_graph_streams_in_parts_that_merge_into_the_export(
    catalog: Catalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    meta_scale(catalog)
    catalog.record(stake("ev-meta-scale", "meta", "scale-ai", "2025-06-12", 0.49, 0.0))
    whole = catalog.graph("2025-07-01")
    monkeypatch.setattr(graph_module, "PART_BYTES", 60)  # parts of a few items each
    parts = _streamed(catalog, as_of="2025-07-01")
    assert len(parts) > 3
    header, rest = parts[0], parts[1:]
    assert header.etag == whole.etag and header.version == whole.version
    assert not header.holdings and not header.organizations
    assert all(not p.etag and not p.version and not p.as_of for p in rest)
    merged = ownership_pb2.OwnershipGraph()
    for part in parts:
        merged.MergeFrom(part)
    assert merged == whole
    # A current copy: the header alone, marked not modified.
    (same,) = _streamed(catalog, as_of="2025-07-01", if_none_match=whole.etag)
    assert same.not_modified and same.etag == whole.etag
    expect_error(grpc.StatusCode.INVALID_ARGUMENT, _streamed, catalog, as_of="June 2025")


def test_a_graph_too_large_for_one_message_is_refused_with_the_way_out(
    catalog: Catalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    meta_scale(catalog)
    size = catalog.graph("2025-07-01").ByteSize()
    monkeypatch.setattr(graph_module, "MESSAGE_BYTES", size - 1)
    err = expect_error(grpc.StatusCode.FAILED_PRECONDITION, catalog.graph, "2025-07-01")
    assert "StreamOwnershipGraph" in str(err.details())
    merged = ownership_pb2.OwnershipGraph()
    for part in _streamed(catalog, as_of="2025-07-01"):
        merged.MergeFrom(part)
    assert merged.ByteSize() == size
