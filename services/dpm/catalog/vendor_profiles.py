"""Vendor profiles: what an organization offers as a data vendor.

An update takes the next catalog version, stamps it on the profile and
announces it (``CatalogChanged``) in the same transaction.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy.orm import Session

from dpm.catalog import organizations
from dpm.catalog.store.counters import CountersRepository
from dpm.catalog.store.models import VendorProfileRow
from dpm.catalog.store.outbox import OutboxRepository
from dpm.catalog.store.vendor_profiles import VendorProfileRepository
from dpm.catalog.v1 import catalog_pb2
from dpm.common.v1 import common_pb2
from dpm.platform.errors import InvalidArgument, NotFound, Violations
from dpm.platform.events import CatalogChanged
from dpm.platform.names import VendorProfileName, quote

REGION = re.compile(r"[A-Z]{2}")  # matched whole: "US\n" is not a region
# Longest lists a profile may hold.
CERTIFICATIONS_MAX = 50
REGIONS_MAX = 300
UPDATABLE = (
    "service_model",
    "capabilities",
    "certifications",
    "workforce_regions",
    "data_residency_regions",
    "security_clearance",
)


def to_proto(row: VendorProfileRow, display_name: str) -> catalog_pb2.VendorProfile:
    profile = catalog_pb2.VendorProfile(
        name=str(VendorProfileName(row.organization_id)),
        service_model=row.service_model,  # type: ignore[arg-type]
        capabilities=[
            catalog_pb2.Capability(
                modality=c["modality"],
                monthly_capacity=int(c["monthly_capacity"]),
                quality=float(c["quality"]),
                unit_price_usd=float(c["unit_price_usd"]),
            )
            for c in row.capabilities or []
        ],
        certifications=list(row.certifications or []),  # type: ignore[arg-type]
        workforce_regions=list(row.workforce_regions or []),
        data_residency_regions=list(row.data_residency_regions or []),
        security_clearance=row.security_clearance,
        catalog_version=row.catalog_version,
        display_name=display_name,
    )
    updated = row.update_time if row.update_time.tzinfo else row.update_time.replace(tzinfo=dt.UTC)
    profile.update_time.FromDatetime(updated)
    return profile


def _validate(profile: catalog_pb2.VendorProfile, paths: Sequence[str]) -> None:
    prefix = "vendor_profile"
    v = Violations()
    if "service_model" in paths:
        v.check(
            profile.service_model != catalog_pb2.SERVICE_MODEL_UNSPECIFIED
            and profile.service_model in catalog_pb2.ServiceModel.values(),
            f"{prefix}.service_model",
            "must be PLATFORM, MANAGED_WORKFORCE, MARKETPLACE or HYBRID",
        )
    if "capabilities" in paths:
        seen: set[int] = set()
        for i, cap in enumerate(profile.capabilities):
            field = f"{prefix}.capabilities[{i}]"
            if not v.check(
                cap.modality != common_pb2.MODALITY_UNSPECIFIED
                and cap.modality in common_pb2.Modality.values(),
                f"{field}.modality",
                "must be a known modality, not MODALITY_UNSPECIFIED",
            ):
                continue
            v.check(
                cap.modality not in seen,
                f"{field}.modality",
                f"{common_pb2.Modality.Name(cap.modality)} is listed twice",
            )
            seen.add(cap.modality)
            v.check(cap.monthly_capacity >= 0, f"{field}.monthly_capacity", "must be >= 0")
            v.check(
                math.isfinite(cap.quality) and 0.0 <= cap.quality <= 1.0,
                f"{field}.quality",
                "must be in [0, 1]",
            )
            v.check(
                math.isfinite(cap.unit_price_usd) and cap.unit_price_usd >= 0.0,
                f"{field}.unit_price_usd",
                "must be >= 0",
            )
    if "certifications" in paths:
        v.check(
            len(profile.certifications) <= CERTIFICATIONS_MAX,
            f"{prefix}.certifications",
            f"lists {len(profile.certifications)}; at most {CERTIFICATIONS_MAX} are allowed",
        )
        for i, cert in enumerate(profile.certifications[:CERTIFICATIONS_MAX]):
            v.check(
                cert != common_pb2.CERTIFICATION_UNSPECIFIED
                and cert in common_pb2.Certification.values(),
                f"{prefix}.certifications[{i}]",
                "must be a known certification, not CERTIFICATION_UNSPECIFIED",
            )
    for regions in ("workforce_regions", "data_residency_regions"):
        if regions in paths:
            codes = getattr(profile, regions)
            v.check(
                len(codes) <= REGIONS_MAX,
                f"{prefix}.{regions}",
                f"lists {len(codes)}; at most {REGIONS_MAX} are allowed",
            )
            for i, code in enumerate(codes[:REGIONS_MAX]):
                v.check(
                    code == "EU" or bool(REGION.fullmatch(code)),
                    f"{prefix}.{regions}[{i}]",
                    f"{quote(code)} must be an ISO 3166-1 alpha-2 code like 'US', or 'EU'",
                )
    v.raise_if_any()


def get(session: Session, name: VendorProfileName) -> catalog_pb2.VendorProfile:
    profiles = VendorProfileRepository(session)
    row = profiles.get(name.id)
    if row is None:
        raise NotFound(f"{name} does not exist")
    return to_proto(row, profiles.display_name(name.id))


# Profiles read per query while looking for a filtered page.
SCAN_BATCH = 500


def list_page(
    session: Session,
    after: str | None,
    limit: int,
    matches: Callable[[catalog_pb2.VendorProfile], bool] = lambda _: True,
) -> list[catalog_pb2.VendorProfile]:
    """Up to ``limit`` profiles that ``matches`` lets through, in organization id order
    after the id ``after`` (read in batches until the page is full or none are left)."""
    profiles = VendorProfileRepository(session)
    page: list[catalog_pb2.VendorProfile] = []
    while len(page) < limit:
        rows = profiles.page(after, SCAN_BATCH)
        for row, display in rows:
            profile = to_proto(row, display)
            if matches(profile):
                page.append(profile)
                if len(page) == limit:
                    break
        if len(rows) < SCAN_BATCH:
            break
        after = rows[-1][0].organization_id
    return page


def catalog_version(session: Session) -> int:
    """The newest catalog version (no lock: for readers)."""
    return CountersRepository(session).read().catalog_version


def update(
    session: Session,
    name: VendorProfileName,
    profile: catalog_pb2.VendorProfile,
    paths: Sequence[str],
    allow_missing: bool,
) -> catalog_pb2.VendorProfile:
    paths = list(paths) or list(UPDATABLE)
    for path in paths:
        if path not in UPDATABLE:
            raise InvalidArgument.one(
                "update_mask.paths", f"{path!r} cannot be updated; use {', '.join(UPDATABLE)}"
            )
    counters = CountersRepository(session)
    counters.lock()
    profiles = VendorProfileRepository(session)
    row = profiles.get(name.id)
    if row is None:
        if not allow_missing:
            raise NotFound(f"{name} does not exist; set allow_missing to create it")
        organizations.require(session, name.organization)
        # A new profile needs a service model whatever the mask says.
        paths = sorted(set(paths) | {"service_model"})
        row = VendorProfileRow(
            organization_id=name.id,
            capabilities=[],
            certifications=[],
            workforce_regions=[],
            data_residency_regions=[],
            security_clearance=False,
        )
        profiles.add(row)
    _validate(profile, paths)
    if "service_model" in paths:
        row.service_model = int(profile.service_model)
    if "capabilities" in paths:
        caps: list[dict[str, Any]] = [
            {
                "modality": int(c.modality),
                "monthly_capacity": int(c.monthly_capacity),
                "quality": float(c.quality),
                "unit_price_usd": float(c.unit_price_usd),
            }
            for c in profile.capabilities
        ]
        row.capabilities = caps
    if "certifications" in paths:
        row.certifications = sorted(set(int(c) for c in profile.certifications))
    if "workforce_regions" in paths:
        row.workforce_regions = list(dict.fromkeys(profile.workforce_regions))
    if "data_residency_regions" in paths:
        row.data_residency_regions = list(dict.fromkeys(profile.data_residency_regions))
    if "security_clearance" in paths:
        row.security_clearance = profile.security_clearance
    row.catalog_version = counters.next_catalog_version()
    row.update_time = dt.datetime.now(dt.UTC)
    OutboxRepository(session).add(
        CatalogChanged(catalog_version=row.catalog_version, organization=name.organization)
    )
    profiles.save()
    return to_proto(row, profiles.display_name(row.organization_id))
