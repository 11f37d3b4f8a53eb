"""The rules of a neutrality policy sent inline (ScorePolicy).

They are the rules RequirementsService enforces on a client's policy
(``dpm.requirements.validation``; a layer rule keeps this service from importing
it), less the one that needs a client (a competitor may not be the client's own
organization). ``tests/unit/test_policy_rules.py`` holds the two to the same
answers. Every violation is collected, named under ``field``.
"""

from __future__ import annotations

import math

from dpm.platform.dates import BadDate, to_date
from dpm.platform.errors import Violations
from dpm.platform.names import OrganizationName, quote
from dpm.requirements.v1 import requirements_pb2 as pb

COMPETITORS_MAX = 1000
RESTRICTED_PARTIES_MAX = 1000
_UNKNOWN_OWNERSHIP = frozenset(pb.UnknownOwnership.values())
_RANGE_BOUNDS = frozenset(pb.RangeBound.values())


def _fraction(value: float) -> bool:
    return math.isfinite(value) and 0.0 <= value <= 1.0


def _date(value: str) -> bool:
    try:
        to_date(value)
    except BadDate:
        return False
    return True


def _check_parties(v: Violations, parties: list[str], limit: int, what: str, field: str) -> None:
    if len(parties) > limit:
        v.add(field, f"lists {len(parties)} {what}; at most {limit} are allowed")
        return
    seen: set[str] = set()
    for i, party in enumerate(parties):
        at = f"{field}[{i}]"
        if not OrganizationName.matches(party):
            v.add(at, f"{quote(party)} must look like {OrganizationName.template()!r}")
        elif party in seen:
            v.add(at, f"{party!r} is listed twice")
        seen.add(party)


def check_policy(v: Violations, policy: pb.NeutralityPolicy, field: str) -> None:
    """Add to ``v`` every rule ``policy`` breaks."""
    if len(policy.competitors) > COMPETITORS_MAX:
        # As the requirements service: a list this long is the only complaint.
        v.add(
            f"{field}.competitors",
            f"lists {len(policy.competitors)} organizations; at most {COMPETITORS_MAX} are allowed",
        )
        return
    _check_parties(
        v, list(policy.competitors), COMPETITORS_MAX, "organizations", f"{field}.competitors"
    )
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
    _check_parties(
        v,
        list(policy.restricted_parties),
        RESTRICTED_PARTIES_MAX,
        "parties",
        f"{field}.restricted_parties",
    )
    v.check(
        not policy.as_of or _date(policy.as_of),
        f"{field}.as_of",
        f"{quote(policy.as_of)} must be empty (the date of each computation) or a date YYYY-MM-DD",
    )
