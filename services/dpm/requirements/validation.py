"""Rules a client's requirements and neutrality policy must satisfy.

Every violation is collected, so one INVALID_ARGUMENT names every bad field
(e.g. ``client.requirements.needs[1].modality``). Pure domain code: no gRPC.
"""

from __future__ import annotations

import math
import re

from dpm.common.v1 import common_pb2
from dpm.platform.dates import BadDate, to_date
from dpm.platform.errors import Violations
from dpm.platform.names import OrganizationName, quote
from dpm.requirements.v1 import requirements_pb2 as pb

DISPLAY_NAME_MAX = 200
# ISO 3166-1 alpha-2 country codes, plus "EU" for the European Union as a whole.
REGION = re.compile(r"[A-Z]{2}")  # matched whole: "US\n" is not a region

_MODALITIES = frozenset(common_pb2.Modality.values()) - {common_pb2.MODALITY_UNSPECIFIED}
_CERTIFICATIONS = frozenset(common_pb2.Certification.values()) - {
    common_pb2.CERTIFICATION_UNSPECIFIED
}
_UNKNOWN_OWNERSHIP = frozenset(pb.UnknownOwnership.values())
_RANGE_BOUNDS = frozenset(pb.RangeBound.values())
RESTRICTED_PARTIES_MAX = 1000
COMPETITORS_MAX = 1000


def _fraction(value: float) -> bool:
    return math.isfinite(value) and 0.0 <= value <= 1.0


def _non_negative(value: float) -> bool:
    return math.isfinite(value) and value >= 0.0


def _date(value: str) -> bool:
    try:
        to_date(value)
    except BadDate:
        return False
    return True


def validate_client(client: pb.Client, field: str = "client") -> None:
    """Raise one InvalidArgument listing every rule ``client`` breaks."""
    v = Violations()
    name_len = len(client.display_name.strip())
    v.check(
        0 < name_len <= DISPLAY_NAME_MAX,
        f"{field}.display_name",
        f"is required and must be at most {DISPLAY_NAME_MAX} characters",
    )
    v.check(
        not client.organization or OrganizationName.matches(client.organization),
        f"{field}.organization",
        f"{quote(client.organization)} must be empty or look like {OrganizationName.template()!r}",
    )
    _check_requirements(v, client.requirements, f"{field}.requirements")
    _check_policy(v, client.neutrality_policy, client.organization, f"{field}.neutrality_policy")
    v.raise_if_any()


def _check_requirements(v: Violations, req: pb.Requirements, field: str) -> None:
    seen_modalities: set[int] = set()
    for i, need in enumerate(req.needs):
        at = f"{field}.needs[{i}]"
        if need.modality not in _MODALITIES:
            v.add(f"{at}.modality", "must name a modality (not MODALITY_UNSPECIFIED)")
        elif need.modality in seen_modalities:
            name = common_pb2.Modality.Name(need.modality)
            v.add(f"{at}.modality", f"{name} is listed twice; give one need per modality")
        seen_modalities.add(need.modality)
        v.check(need.monthly_volume > 0, f"{at}.monthly_volume", "must be greater than 0")
        v.check(_fraction(need.min_quality), f"{at}.min_quality", "must be in [0, 1]")
        v.check(
            _non_negative(need.max_unit_price_usd),
            f"{at}.max_unit_price_usd",
            "must be a finite number >= 0 (0 means no limit)",
        )
    seen_certs: set[int] = set()
    for i, cert in enumerate(req.required_certifications):
        at = f"{field}.required_certifications[{i}]"
        if cert not in _CERTIFICATIONS:
            v.add(at, "must name a certification (not CERTIFICATION_UNSPECIFIED)")
        elif cert in seen_certs:
            v.add(at, f"{common_pb2.Certification.Name(cert)} is listed twice")
        seen_certs.add(cert)
    seen_regions: set[str] = set()
    for i, region in enumerate(req.allowed_regions):
        at = f"{field}.allowed_regions[{i}]"
        if not REGION.fullmatch(region):
            v.add(at, f"{quote(region)} must be a 2-letter upper-case country code or 'EU'")
        elif region in seen_regions:
            v.add(at, f"{region!r} is listed twice")
        seen_regions.add(region)
    v.check(
        _non_negative(req.monthly_budget_usd),
        f"{field}.monthly_budget_usd",
        "must be a finite number >= 0 (0 means no budget given)",
    )
    for weight in ("fit", "quality", "price", "neutrality"):
        v.check(
            _non_negative(getattr(req.weights, weight)),
            f"{field}.weights.{weight}",
            "must be a finite number >= 0",
        )


def _check_policy(
    v: Violations, policy: pb.NeutralityPolicy, own_organization: str, field: str
) -> None:
    seen: set[str] = set()
    if len(policy.competitors) > COMPETITORS_MAX:
        v.add(
            f"{field}.competitors",
            f"lists {len(policy.competitors)} organizations; at most {COMPETITORS_MAX} are allowed",
        )
        return
    for i, competitor in enumerate(policy.competitors):
        at = f"{field}.competitors[{i}]"
        if not OrganizationName.matches(competitor):
            v.add(at, f"{quote(competitor)} must look like {OrganizationName.template()!r}")
        elif competitor in seen:
            v.add(at, f"{competitor!r} is listed twice")
        elif own_organization and competitor == own_organization:
            v.add(at, f"{competitor!r} is the client's own organization")
        seen.add(competitor)
    v.check(
        _fraction(policy.max_competitor_equity),
        f"{field}.max_competitor_equity",
        "must be in [0, 1]",
    )
    v.check(
        _fraction(policy.max_competitor_voting),
        f"{field}.max_competitor_voting",
        "must be in [0, 1]",
    )
    v.check(
        policy.leadership_move_window_days >= 0,
        f"{field}.leadership_move_window_days",
        "must be >= 0 (0 means 365 days)",
    )
    v.check(
        policy.unknown_ownership in _UNKNOWN_OWNERSHIP,
        f"{field}.unknown_ownership",
        "is not a known UnknownOwnership value",
    )
    v.check(
        not policy.HasField("max_competitor_voting_power")
        or _fraction(policy.max_competitor_voting_power),
        f"{field}.max_competitor_voting_power",
        "must be in [0, 1] (a Banzhaf index), or absent for no limit",
    )
    v.check(
        policy.decisive_bound in _RANGE_BOUNDS,
        f"{field}.decisive_bound",
        "is not a known RangeBound value",
    )
    if len(policy.restricted_parties) > RESTRICTED_PARTIES_MAX:
        v.add(
            f"{field}.restricted_parties",
            f"lists {len(policy.restricted_parties)} parties; at most "
            f"{RESTRICTED_PARTIES_MAX} are allowed",
        )
    else:
        parties: set[str] = set()
        for i, party in enumerate(policy.restricted_parties):
            at = f"{field}.restricted_parties[{i}]"
            if not OrganizationName.matches(party):
                v.add(at, f"{quote(party)} must look like {OrganizationName.template()!r}")
            elif party in parties:
                v.add(at, f"{party!r} is listed twice")
            parties.add(party)
    v.check(
        not policy.as_of or _date(policy.as_of),
        f"{field}.as_of",
        f"{quote(policy.as_of)} must be empty (the date of each computation) or a date YYYY-MM-DD",
    )
