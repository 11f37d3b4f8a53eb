"""Catalog search: ListVendorProfiles with a filter, page by page, against the real
server, each answer compared with a plain reading of the same profiles."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from test_catalog_support import Catalog, field_violations, org, running_catalog

from dpm.catalog import vendor_profiles
from dpm.catalog.v1 import catalog_pb2
from dpm.common.v1 import common_pb2
from dpm.platform.regions import EU_MEMBERS

MODALITIES = [v for v in common_pb2.Modality.values() if v]
CERTIFICATIONS = [v for v in common_pb2.Certification.values() if v]
MODELS = [v for v in catalog_pb2.ServiceModel.values() if v]
REGIONS = ["US", "PH", "DE", "FR", "IN", "KE", "BR"]


@pytest.fixture
def catalog(
    database_url: str, token_secret: str, admin_token: str, tmp_path: Path
) -> Iterator[Catalog]:
    with running_catalog(database_url, token_secret, admin_token, tmp_path) as running:
        yield running


def random_profile(rng: random.Random, slug: str) -> catalog_pb2.VendorProfile:
    return catalog_pb2.VendorProfile(
        name=f"{org(slug)}/vendorProfile",
        service_model=rng.choice(MODELS),  # type: ignore[arg-type]
        capabilities=[
            catalog_pb2.Capability(
                modality=m, monthly_capacity=rng.choice([0, 1000]), quality=0.8, unit_price_usd=2
            )
            for m in rng.sample(MODALITIES, rng.randint(1, 3))
        ],
        certifications=rng.sample(CERTIFICATIONS, rng.randint(0, 3)),  # type: ignore[arg-type]
        workforce_regions=rng.sample(REGIONS, rng.randint(0, 2)),
        data_residency_regions=rng.sample(REGIONS, rng.randint(0, 2)),
        security_clearance=rng.random() < 0.3,
    )


def satisfies(p: catalog_pb2.VendorProfile, f: catalog_pb2.VendorProfileFilter) -> bool:
    """The filter's documented meaning, written out plainly."""

    def region_in(codes: list[str], wanted: list[str]) -> bool:
        return any(c in wanted or ("EU" in wanted and c in EU_MEMBERS) for c in codes)

    held = set(p.certifications)
    if common_pb2.CERTIFICATION_SOC2_TYPE_II in held:
        held.add(common_pb2.CERTIFICATION_SOC2)
    return all(
        [
            not f.service_models or p.service_model in f.service_models,
            not f.security_clearance or p.security_clearance,
            not f.modalities
            or any(c.modality in f.modalities and c.monthly_capacity for c in p.capabilities),
            set(f.certifications) <= held,
            not f.workforce_regions
            or region_in(list(p.workforce_regions), list(f.workforce_regions)),
            not f.data_residency_regions
            or region_in(list(p.data_residency_regions), list(f.data_residency_regions)),
        ]
    )


def random_filter(rng: random.Random) -> catalog_pb2.VendorProfileFilter:
    f = catalog_pb2.VendorProfileFilter()
    if rng.random() < 0.5:
        f.modalities.extend(rng.sample(MODALITIES, rng.randint(1, 2)))  # type: ignore[arg-type]
    if rng.random() < 0.4:
        f.certifications.extend(rng.sample(CERTIFICATIONS, 1))  # type: ignore[arg-type]
    if rng.random() < 0.4:
        f.workforce_regions.extend(rng.sample([*REGIONS, "EU"], 2))
    if rng.random() < 0.3:
        f.data_residency_regions.extend(rng.sample([*REGIONS, "EU"], 1))
    if rng.random() < 0.3:
        f.service_models.extend(rng.sample(MODELS, 2))  # type: ignore[arg-type]
    f.security_clearance = rng.random() < 0.2
    return f


def listed(c: Catalog, f: catalog_pb2.VendorProfileFilter, page_size: int) -> list[str]:
    names: list[str] = []
    token = ""
    while True:
        page = c.stub.ListVendorProfiles(
            catalog_pb2.ListVendorProfilesRequest(page_size=page_size, page_token=token, filter=f)
        )
        assert len(page.vendor_profiles) <= page_size
        names += [p.name for p in page.vendor_profiles]
        token = page.next_page_token
        if not token:
            return names


def test_every_page_holds_exactly_what_the_filter_admits(
    catalog: Catalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Few profiles per read, so a page is filled across several reads.
    monkeypatch.setattr(vendor_profiles, "SCAN_BATCH", 4)
    rng = random.Random(7)
    profiles = []
    for i in range(30):
        slug = f"vendor-{i:02d}"
        catalog.org(slug)
        profiles.append(
            catalog.stub.UpdateVendorProfile(
                catalog_pb2.UpdateVendorProfileRequest(
                    vendor_profile=random_profile(rng, slug), allow_missing=True
                )
            )
        )
    admitted_any = 0
    for _ in range(40):
        f = random_filter(rng)
        expected = [p.name for p in profiles if satisfies(p, f)]
        assert listed(catalog, f, rng.choice([1, 3, 7, 100])) == expected, f
        admitted_any += bool(expected) and len(expected) < len(profiles)
    assert admitted_any >= 10  # the filters drawn do select, not all-or-nothing
    everything = catalog_pb2.VendorProfileFilter()
    assert listed(catalog, everything, 8) == [p.name for p in profiles]


def test_a_page_token_belongs_to_its_filter(catalog: Catalog) -> None:
    for slug in ("a-vendor", "b-vendor", "c-vendor"):
        catalog.org(slug)
        catalog.stub.UpdateVendorProfile(
            catalog_pb2.UpdateVendorProfileRequest(
                vendor_profile=catalog_pb2.VendorProfile(
                    name=f"{org(slug)}/vendorProfile",
                    service_model=catalog_pb2.SERVICE_MODEL_PLATFORM,
                    workforce_regions=["DE"],
                ),
                allow_missing=True,
            )
        )
    eu = catalog_pb2.VendorProfileFilter(workforce_regions=["EU"])
    first = catalog.stub.ListVendorProfiles(
        catalog_pb2.ListVendorProfilesRequest(page_size=1, filter=eu)
    )
    assert [p.name for p in first.vendor_profiles] == [f"{org('a-vendor')}/vendorProfile"]
    with pytest.raises(grpc.RpcError) as info:
        catalog.stub.ListVendorProfiles(
            catalog_pb2.ListVendorProfilesRequest(
                page_token=first.next_page_token,
                filter=catalog_pb2.VendorProfileFilter(workforce_regions=["US"]),
            )
        )
    assert info.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert field_violations(info.value) == ["page_token"]


def test_bad_filter_values_are_named(catalog: Catalog) -> None:
    bad = catalog_pb2.VendorProfileFilter(
        modalities=[common_pb2.MODALITY_UNSPECIFIED, 999],  # type: ignore[list-item]
        certifications=[common_pb2.CERTIFICATION_SOC2],
        workforce_regions=["US", "usa"],
        data_residency_regions=["D"],
        service_models=[catalog_pb2.SERVICE_MODEL_UNSPECIFIED],
    )
    with pytest.raises(grpc.RpcError) as info:
        catalog.stub.ListVendorProfiles(catalog_pb2.ListVendorProfilesRequest(filter=bad))
    assert info.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert sorted(field_violations(info.value)) == [
        "filter.data_residency_regions[0]",
        "filter.modalities[0]",
        "filter.modalities[1]",
        "filter.service_models[0]",
        "filter.workforce_regions[1]",
    ]


def test_soc2_type_ii_satisfies_a_soc2_filter_and_not_the_reverse(catalog: Catalog) -> None:
    held = {
        "type-two": [common_pb2.CERTIFICATION_SOC2_TYPE_II],
        "plain-soc": [common_pb2.CERTIFICATION_SOC2],
    }
    for slug, certifications in held.items():
        catalog.org(slug)
        catalog.stub.UpdateVendorProfile(
            catalog_pb2.UpdateVendorProfileRequest(
                vendor_profile=catalog_pb2.VendorProfile(
                    name=f"{org(slug)}/vendorProfile",
                    service_model=catalog_pb2.SERVICE_MODEL_PLATFORM,
                    certifications=certifications,
                ),
                allow_missing=True,
            )
        )

    def certified(certification: int) -> list[str]:
        f = catalog_pb2.VendorProfileFilter(certifications=[certification])  # type: ignore[list-item]
        return [name.split("/")[1] for name in listed(catalog, f, 10)]

    assert certified(common_pb2.CERTIFICATION_SOC2) == ["plain-soc", "type-two"]
    assert certified(common_pb2.CERTIFICATION_SOC2_TYPE_II) == ["type-two"]
