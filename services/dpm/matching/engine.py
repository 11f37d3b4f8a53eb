"""Ranking vendors for one client: hard filters, a weighted score, a deterministic order.

Pure: no I/O, no gRPC and no wire types; the dataclasses of
``dpm.matching.model`` in and out (``dpm.matching.convert`` maps the protos),
so the same function serves the cache-miss path, the workers and what-if runs.

Hard filters (each failing one becomes an ``ExclusionReason``):

- CAPABILITY: the vendor covers none of the needs. A capability *covers* a
  need when it has the need's modality, quality >= ``min_quality`` and
  (``max_unit_price_usd`` == 0 or unit price <= it).
- CERTIFICATION: a required certification is missing (a SOC 2 Type II report
  also satisfies a plain SOC 2 requirement).
- REGION: regions are restricted and neither the workforce nor the data
  residency of the vendor is in one of them ("EU" also admits EU members).
- CLEARANCE: clearance is required and the vendor has none.
- NEUTRALITY: the verdict is CONFLICTED, or the vendor was not scored.

Score of the rest, each part in [0, 1], weights normalized to sum 1:

- fit: covered volume / needed volume; a covered need contributes
  min(capacity, volume) (capacity 0 means unknown: the full volume).
- quality: volume-weighted mean quality of the covering capabilities.
- price: volume-weighted mean, over covered needs, of the cheapest unit price
  any candidate offers for that need divided by this vendor's price (1 when
  this vendor's price is 0, i.e. unknown).
- neutrality: neutrality score / 100.

Order: score (rounded to 6 decimals) descending, then neutrality score
descending, then vendor name ascending.

A recommendation set keeps a bounded part of that (``truncate``): the best
``limit`` ranked and ``limit`` excluded, the NEUTRALITY exclusions first.
``dpm.matching.ranking_arrays`` computes the same set for many clients at
once, from the pieces below (``evaluate``, ``numbered``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

from dpm.matching.model import (
    Candidate,
    Capability,
    Certification,
    ExcludedVendor,
    ExclusionKind,
    ExclusionReason,
    Modality,
    Need,
    RankedVendor,
    Requirements,
    ScoreBreakdown,
    VendorNeutrality,
    VendorProfile,
    Verdict,
    Weights,
)
from dpm.platform.names import OrganizationName
from dpm.platform.regions import in_any

SCORE_DIGITS = 6

T = TypeVar("T")

DEFAULT_WEIGHTS = Weights(fit=0.4, quality=0.3, price=0.1, neutrality=0.2)

# A certification held satisfies these requirements besides itself.
CERTIFICATION_ALSO_SATISFIES: Mapping[Certification, frozenset[Certification]] = {
    Certification.SOC2_TYPE_II: frozenset({Certification.SOC2}),
}


def normalized_weights(weights: Weights) -> Weights:
    """The client's weights scaled to sum 1; negative or non-finite ones count as 0;
    all zero means ``DEFAULT_WEIGHTS``."""
    raw = [weights.fit, weights.quality, weights.price, weights.neutrality]
    clean = [w if math.isfinite(w) and w > 0 else 0.0 for w in raw]
    total = sum(clean)
    if total <= 0:
        return DEFAULT_WEIGHTS
    fit, quality, price, neutrality = (w / total for w in clean)
    return Weights(fit=fit, quality=quality, price=price, neutrality=neutrality)


def covers(capability: Capability, need: Need) -> bool:
    return (
        capability.modality == need.modality
        and capability.quality >= need.min_quality
        and (need.max_unit_price_usd == 0 or capability.unit_price_usd <= need.max_unit_price_usd)
    )


def _covered_fraction(capability: Capability, need: Need) -> float:
    """Share of the need's volume the capability can take (capacity 0 = unknown = all)."""
    if capability.monthly_capacity <= 0 or need.monthly_volume <= 0:
        return 1.0
    return min(1.0, capability.monthly_capacity / need.monthly_volume)


def _units(capability: Capability, need: Need) -> int:
    if capability.monthly_capacity <= 0:
        return max(0, need.monthly_volume)
    return max(0, min(capability.monthly_capacity, need.monthly_volume))


def best_capability(profile: VendorProfile, need: Need) -> Capability | None:
    """The vendor's capability used for a need: of those covering it, the one taking
    the most volume, then the best quality, then the cheapest."""
    covering = [c for c in profile.capabilities if covers(c, need)]
    if not covering:
        return None
    return max(
        covering,
        key=lambda c: (_covered_fraction(c, need), c.quality, -c.unit_price_usd),
    )


def _need_weights(needs: Sequence[Need]) -> list[float]:
    """Each need weighs its monthly volume; when no volume is given at all, needs weigh alike."""
    volumes = [float(max(0, n.monthly_volume)) for n in needs]
    if sum(volumes) > 0:
        return volumes
    return [1.0] * len(needs)


def _unique(items: Sequence[T]) -> list[T]:
    seen: set[T] = set()
    out: list[T] = []
    for item in items:
        if item not in seen:
            seen.add(item)
            out.append(item)
    return out


def _satisfied_certifications(held: Sequence[Certification]) -> set[Certification]:
    out = set(held)
    for cert in held:
        out |= CERTIFICATION_ALSO_SATISFIES.get(cert, frozenset())
    return out


def _region_ok(profile: VendorProfile, allowed: Sequence[str]) -> bool:
    allowed_set = {r.strip().upper() for r in allowed if r.strip()}
    if not allowed_set:
        return True
    codes = [
        r.strip().upper() for r in [*profile.workforce_regions, *profile.data_residency_regions]
    ]
    return in_any(codes, allowed_set)


def exclusion_reasons(
    requirements: Requirements,
    candidate: Candidate,
    coverage: Sequence[Capability | None],
    neutrality: VendorNeutrality | None,
) -> list[ExclusionReason]:
    """Every hard filter the candidate fails, in a fixed order; empty when it passes."""
    profile = candidate.profile
    reasons: list[ExclusionReason] = []

    needs = requirements.needs
    if needs and all(c is None for c in coverage):
        wanted = ", ".join(m.value for m in _unique([n.modality for n in needs]))
        reasons.append(
            ExclusionReason(
                ExclusionKind.CAPABILITY,
                f"offers none of {wanted} at the required quality and price",
            )
        )

    satisfied = _satisfied_certifications(profile.certifications)
    missing = [c for c in _unique(requirements.required_certifications) if c not in satisfied]
    if missing:
        labels = ", ".join(c.value for c in missing)
        reasons.append(ExclusionReason(ExclusionKind.CERTIFICATION, f"lacks {labels}"))

    if not _region_ok(profile, requirements.allowed_regions):
        allowed = ", ".join(requirements.allowed_regions)
        reasons.append(
            ExclusionReason(
                ExclusionKind.REGION,
                f"has neither workforce nor data residency in {allowed}",
            )
        )

    if requirements.requires_security_clearance and not profile.security_clearance:
        reasons.append(ExclusionReason(ExclusionKind.CLEARANCE, "has no security clearance"))

    if neutrality is None:
        reasons.append(
            ExclusionReason(ExclusionKind.NEUTRALITY, "neutrality not scored for this client")
        )
    elif neutrality.verdict is Verdict.CONFLICTED:
        message = "; ".join(neutrality.reasons) or "conflicted: a competitor owns or controls it"
        reasons.append(ExclusionReason(ExclusionKind.NEUTRALITY, message))
    return reasons


def _cheapest_prices(needs: Sequence[Need], vendors: Sequence[Candidate]) -> list[float]:
    """Per need, the lowest known (> 0) unit price any candidate covering it asks; 0 if none."""
    out: list[float] = []
    for need in needs:
        prices = [
            c.unit_price_usd
            for v in vendors
            for c in v.profile.capabilities
            if c.unit_price_usd > 0 and covers(c, need)
        ]
        out.append(min(prices) if prices else 0.0)
    return out


@dataclass(frozen=True)
class _Scored:
    candidate: Candidate
    score: float
    breakdown: ScoreBreakdown
    neutrality: VendorNeutrality
    covered_modalities: tuple[Modality, ...]
    notes: tuple[str, ...]


def _score(
    candidate: Candidate,
    requirements: Requirements,
    coverage: Sequence[Capability | None],
    cheapest: Sequence[float],
    neutrality: VendorNeutrality,
    weights: Weights,
) -> _Scored:
    needs = requirements.needs
    need_weights = _need_weights(needs)
    covered = [
        (need, cap, w, low)
        for need, cap, w, low in zip(needs, coverage, need_weights, cheapest, strict=True)
        if cap is not None
    ]
    if needs:
        fit = sum(w * _covered_fraction(cap, need) for need, cap, w, _ in covered) / sum(
            need_weights
        )
        # Means over the covered needs, by volume; equal weights when the
        # covered needs all have volume 0 (fit is then 0 anyway).
        mean_weights = [w for _, _, w, _ in covered]
        if sum(mean_weights) <= 0:
            mean_weights = [1.0] * len(covered)
        covered_weight = sum(mean_weights)
        quality = (
            sum(w * cap.quality for (_, cap, _, _), w in zip(covered, mean_weights, strict=True))
            / covered_weight
        )
        price = (
            sum(
                w * (1.0 if cap.unit_price_usd <= 0 else min(1.0, low / cap.unit_price_usd))
                for (_, cap, _, low), w in zip(covered, mean_weights, strict=True)
            )
            / covered_weight
        )
    else:
        # Nothing is needed: everything fits; quality is the vendor's mean.
        qualities = [c.quality for c in candidate.profile.capabilities]
        fit, price = 1.0, 1.0
        quality = sum(qualities) / len(qualities) if qualities else 0.0
    parts = [min(1.0, max(0.0, x)) for x in (fit, quality, price, neutrality.score / 100.0)]
    fit, quality, price, neutral = parts
    score = round(
        weights.fit * fit
        + weights.quality * quality
        + weights.price * price
        + weights.neutrality * neutral,
        SCORE_DIGITS,
    )
    breakdown = ScoreBreakdown(
        fit=round(fit, SCORE_DIGITS),
        quality=round(quality, SCORE_DIGITS),
        price=round(price, SCORE_DIGITS),
        neutrality=round(neutral, SCORE_DIGITS),
    )

    notes: list[str] = []
    if neutrality.verdict is Verdict.CAUTION:
        notes.extend(neutrality.reasons)
    budget = requirements.monthly_budget_usd
    if budget > 0:
        cost = sum(_units(cap, need) * cap.unit_price_usd for need, cap, _, _ in covered)
        if cost > budget:
            notes.append(
                f"costs about ${cost:,.0f} a month for the volume it covers, "
                f"over the ${budget:,.0f} monthly budget"
            )
    return _Scored(
        candidate=candidate,
        score=score,
        breakdown=breakdown,
        neutrality=neutrality,
        covered_modalities=tuple(_unique([need.modality for need, _, _, _ in covered])),
        notes=tuple(notes),
    )


def check_unique(vendors: Sequence[Candidate]) -> None:
    """Raise ValueError naming the vendors that appear more than once."""
    names = [v.name for v in vendors]
    if len(set(names)) != len(names):
        dupes = sorted({n for n in names if names.count(n) > 1})
        raise ValueError(f"duplicate vendors: {', '.join(str(n) for n in dupes)}")


def coverage_of(profile: VendorProfile, needs: Sequence[Need]) -> list[Capability | None]:
    """Per need, the capability the vendor would use for it (None: not covered)."""
    return [best_capability(profile, need) for need in needs]


def evaluate(
    requirements: Requirements,
    candidate: Candidate,
    coverage: Sequence[Capability | None],
    cheapest: Sequence[float],
    verdict: VendorNeutrality | None,
    weights: Weights,
) -> _Scored | ExcludedVendor:
    """One vendor for one client: excluded with its reasons, or scored."""
    reasons = exclusion_reasons(requirements, candidate, coverage, verdict)
    if reasons:
        return ExcludedVendor(candidate.name, candidate.display_name, tuple(reasons))
    assert verdict is not None  # a missing verdict is an exclusion
    return _score(candidate, requirements, coverage, cheapest, verdict, weights)


def _order(scored: _Scored) -> tuple[float, int, OrganizationName]:
    return (-scored.score, -scored.neutrality.score, scored.candidate.name)


def numbered(scored: Sequence[_Scored]) -> list[RankedVendor]:
    """The scored vendors best first, ranked from 1."""
    ordered = sorted(scored, key=_order)
    return [
        RankedVendor(
            rank=i,
            vendor=s.candidate.name,
            display_name=s.candidate.display_name,
            score=s.score,
            breakdown=s.breakdown,
            verdict=s.neutrality.verdict,
            neutrality_score=s.neutrality.score,
            covered_modalities=s.covered_modalities,
            notes=s.notes,
        )
        for i, s in enumerate(ordered, start=1)
    ]


def rank(
    requirements: Requirements,
    vendors: Sequence[Candidate],
    neutrality: Mapping[OrganizationName, VendorNeutrality],
) -> tuple[list[RankedVendor], list[ExcludedVendor]]:
    """Rank the vendors for a client's requirements: (ranked best first, excluded by name).

    ``neutrality`` is keyed by vendor name; a vendor missing from it is
    excluded as not scored. The result does not depend on the order of
    ``vendors``. Raises ValueError on duplicate vendor names.
    """
    check_unique(vendors)
    needs = requirements.needs
    weights = normalized_weights(requirements.weights)
    cheapest = _cheapest_prices(needs, vendors)

    scored: list[_Scored] = []
    excluded: list[ExcludedVendor] = []
    for candidate in vendors:
        coverage = coverage_of(candidate.profile, needs)
        verdict = neutrality.get(candidate.name)
        outcome = evaluate(requirements, candidate, coverage, cheapest, verdict, weights)
        if isinstance(outcome, ExcludedVendor):
            excluded.append(outcome)
        else:
            scored.append(outcome)
    excluded.sort(key=lambda e: e.vendor)
    return numbered(scored), excluded


# Bounded sets ------------------------------------------------------------------


@dataclass(frozen=True)
class RankedSet:
    """What a recommendation set keeps of a ranking at register scale."""

    # Best first, at most ``limit``, ranks as ``rank`` gave them.
    ranked: list[RankedVendor]
    # At most ``limit``: those with a NEUTRALITY reason first, then the rest, each by name.
    excluded: list[ExcludedVendor]
    # How many passed every filter / failed one, before truncation.
    ranked_total: int
    excluded_total: int


def is_neutrality_excluded(excluded: ExcludedVendor) -> bool:
    return any(r.kind is ExclusionKind.NEUTRALITY for r in excluded.reasons)


def truncate(
    ranked: Sequence[RankedVendor], excluded: Sequence[ExcludedVendor], limit: int
) -> RankedSet:
    """The best ``limit`` ranked and ``limit`` excluded vendors (``limit`` <= 0: all).

    The neutrality exclusions come first among the excluded: a lab most needs
    to see which vendors a competitor owns.
    """
    ordered = sorted(excluded, key=lambda e: (not is_neutrality_excluded(e), e.vendor))
    keep = limit if limit > 0 else None
    return RankedSet(
        ranked=list(ranked[:keep]),
        excluded=ordered[:keep],
        ranked_total=len(ranked),
        excluded_total=len(excluded),
    )
