"""Catalog search: which vendor profiles a ``VendorProfileFilter`` lets through.

Checked once per request (bad values are named, as everywhere), then applied to
profiles as they are read in id order; the profiles are few (10^3), their lists
JSON, so the test runs in Python rather than SQL.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from google.protobuf import json_format

from dpm.catalog.v1 import catalog_pb2
from dpm.catalog.vendor_profiles import CERTIFICATIONS_MAX, REGION, REGIONS_MAX
from dpm.common.v1 import common_pb2
from dpm.platform.errors import Violations
from dpm.platform.regions import in_any

# A certification that satisfies a requirement for another (dpm.matching.engine keeps
# the same rule for ranking).
ALSO_SATISFIES = {common_pb2.CERTIFICATION_SOC2_TYPE_II: {common_pb2.CERTIFICATION_SOC2}}

Matcher = Callable[[catalog_pb2.VendorProfile], bool]


def check(wanted: catalog_pb2.VendorProfileFilter, field: str = "filter") -> Matcher:
    """The test ``wanted`` describes; INVALID_ARGUMENT naming each bad value."""
    problems = Violations()
    _known(problems, f"{field}.modalities", wanted.modalities, common_pb2.Modality.values())
    _known(
        problems,
        f"{field}.certifications",
        wanted.certifications,
        common_pb2.Certification.values(),
        CERTIFICATIONS_MAX,
    )
    _known(
        problems,
        f"{field}.service_models",
        wanted.service_models,
        catalog_pb2.ServiceModel.values(),
    )
    for name in ("workforce_regions", "data_residency_regions"):
        regions = getattr(wanted, name)
        if len(regions) > REGIONS_MAX:
            problems.add(f"{field}.{name}", f"at most {REGIONS_MAX} regions")
        for i, region in enumerate(regions):
            if not REGION.fullmatch(region):
                problems.add(f"{field}.{name}[{i}]", "must be an ISO 3166-1 alpha-2 code, e.g. US")
    problems.raise_if_any()
    return _matcher(wanted)


def fingerprint(wanted: catalog_pb2.VendorProfileFilter) -> dict[str, object]:
    """The filter as plain data, for a page token to be bound to."""
    return json_format.MessageToDict(wanted, preserving_proto_field_name=True)


def _known(
    problems: Violations,
    field: str,
    values: Sequence[int],
    known: list[int],
    most: int = 100,
) -> None:
    if len(values) > most:
        problems.add(field, f"at most {most} values")
    for i, value in enumerate(values):
        if value == 0 or value not in known:
            problems.add(f"{field}[{i}]", "must be a known value, not UNSPECIFIED")


def _matcher(wanted: catalog_pb2.VendorProfileFilter) -> Matcher:
    modalities = set(wanted.modalities)
    certifications = set(wanted.certifications)
    workforce = set(wanted.workforce_regions)
    residency = set(wanted.data_residency_regions)
    models = set(wanted.service_models)

    def matches(profile: catalog_pb2.VendorProfile) -> bool:
        if models and profile.service_model not in models:
            return False
        if wanted.security_clearance and not profile.security_clearance:
            return False
        if modalities and not any(
            c.modality in modalities and c.monthly_capacity > 0 for c in profile.capabilities
        ):
            return False
        if certifications:
            held = set(profile.certifications)
            for cert in list(held):
                held |= ALSO_SATISFIES.get(cert, set())
            if not certifications <= held:
                return False
        if workforce and not in_any(profile.workforce_regions, workforce):
            return False
        return not residency or in_any(profile.data_residency_regions, residency)

    return matches
