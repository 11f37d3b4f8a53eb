"""The wire <-> the engine's model: the one module of matching that reads both.

Inputs come from catalog (``VendorProfile``), requirements (``Requirements``)
and neutrality (``VendorNeutrality``); outputs go out as matching's
``RankedVendor`` and ``ExcludedVendor``. A renamed proto field breaks this
module, not the ranking rules in ``dpm.matching.engine``.

Enum values the producers validate away (UNSPECIFIED, or numbers newer than
this code) are handled so that ranking stays well defined: a vendor's unknown
capability or certification is skipped (it can satisfy no requirement this
code knows), an unscored verdict means "not scored", and a client's unknown
modality or certification is refused with ValueError.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TypeVar

from dpm.catalog.v1 import catalog_pb2
from dpm.common.v1 import common_pb2
from dpm.matching.model import (
    Capability,
    Certification,
    ExcludedVendor,
    ExclusionKind,
    Modality,
    Need,
    RankedVendor,
    Requirements,
    VendorNeutrality,
    VendorProfile,
    Verdict,
    Weights,
)
from dpm.matching.v1 import matching_pb2
from dpm.neutrality.v1 import neutrality_pb2
from dpm.platform.names import OrganizationName
from dpm.requirements.v1 import requirements_pb2

K = TypeVar("K")
V = TypeVar("V")

MODALITIES: Mapping[common_pb2.Modality, Modality] = {
    common_pb2.MODALITY_TEXT: Modality.TEXT,
    common_pb2.MODALITY_RLHF: Modality.RLHF,
    common_pb2.MODALITY_CODE: Modality.CODE,
    common_pb2.MODALITY_IMAGE: Modality.IMAGE,
    common_pb2.MODALITY_VIDEO: Modality.VIDEO,
    common_pb2.MODALITY_LIDAR: Modality.LIDAR,
    common_pb2.MODALITY_AUDIO: Modality.AUDIO,
    common_pb2.MODALITY_MEDICAL: Modality.MEDICAL,
    common_pb2.MODALITY_MULTILINGUAL: Modality.MULTILINGUAL,
    common_pb2.MODALITY_EXPERT: Modality.EXPERT,
}
CERTIFICATIONS: Mapping[common_pb2.Certification, Certification] = {
    common_pb2.CERTIFICATION_SOC2: Certification.SOC2,
    common_pb2.CERTIFICATION_SOC2_TYPE_II: Certification.SOC2_TYPE_II,
    common_pb2.CERTIFICATION_ISO_27001: Certification.ISO_27001,
    common_pb2.CERTIFICATION_HIPAA: Certification.HIPAA,
    common_pb2.CERTIFICATION_GDPR: Certification.GDPR,
    common_pb2.CERTIFICATION_FEDRAMP: Certification.FEDRAMP,
    common_pb2.CERTIFICATION_CCPA: Certification.CCPA,
}
VERDICTS: Mapping[neutrality_pb2.Verdict, Verdict] = {
    neutrality_pb2.VERDICT_NEUTRAL: Verdict.NEUTRAL,
    neutrality_pb2.VERDICT_CAUTION: Verdict.CAUTION,
    neutrality_pb2.VERDICT_CONFLICTED: Verdict.CONFLICTED,
}
EXCLUSION_KINDS: Mapping[ExclusionKind, matching_pb2.ExclusionKind] = {
    ExclusionKind.CAPABILITY: matching_pb2.EXCLUSION_KIND_CAPABILITY,
    ExclusionKind.CERTIFICATION: matching_pb2.EXCLUSION_KIND_CERTIFICATION,
    ExclusionKind.REGION: matching_pb2.EXCLUSION_KIND_REGION,
    ExclusionKind.CLEARANCE: matching_pb2.EXCLUSION_KIND_CLEARANCE,
    ExclusionKind.NEUTRALITY: matching_pb2.EXCLUSION_KIND_NEUTRALITY,
}


def _inverse(table: Mapping[K, V]) -> dict[V, K]:
    return {v: k for k, v in table.items()}


_MODALITY_PROTOS = _inverse(MODALITIES)
_VERDICT_PROTOS = _inverse(VERDICTS)


def _known(values: Iterable[K], table: Mapping[K, V]) -> tuple[V, ...]:
    return tuple(table[v] for v in values if v in table)


def _required(value: K, table: Mapping[K, V], field: str) -> V:
    try:
        return table[value]
    except KeyError:
        raise ValueError(f"{field}: unknown value {value}") from None


# Inputs ----------------------------------------------------------------------


def profile_from_proto(msg: catalog_pb2.VendorProfile) -> VendorProfile:
    return VendorProfile(
        capabilities=tuple(
            Capability(
                modality=MODALITIES[c.modality],
                monthly_capacity=c.monthly_capacity,
                quality=c.quality,
                unit_price_usd=c.unit_price_usd,
            )
            for c in msg.capabilities
            if c.modality in MODALITIES
        ),
        certifications=_known(msg.certifications, CERTIFICATIONS),
        workforce_regions=tuple(msg.workforce_regions),
        data_residency_regions=tuple(msg.data_residency_regions),
        security_clearance=msg.security_clearance,
    )


def requirements_from_proto(msg: requirements_pb2.Requirements) -> Requirements:
    w = msg.weights
    return Requirements(
        needs=tuple(
            Need(
                modality=_required(n.modality, MODALITIES, f"needs[{i}].modality"),
                monthly_volume=n.monthly_volume,
                min_quality=n.min_quality,
                max_unit_price_usd=n.max_unit_price_usd,
            )
            for i, n in enumerate(msg.needs)
        ),
        # UNSPECIFIED asks for nothing.
        required_certifications=tuple(
            _required(c, CERTIFICATIONS, f"required_certifications[{i}]")
            for i, c in enumerate(msg.required_certifications)
            if c != common_pb2.CERTIFICATION_UNSPECIFIED
        ),
        allowed_regions=tuple(msg.allowed_regions),
        requires_security_clearance=msg.requires_security_clearance,
        monthly_budget_usd=msg.monthly_budget_usd,
        weights=Weights(fit=w.fit, quality=w.quality, price=w.price, neutrality=w.neutrality),
    )


def neutrality_from_proto(
    vendors: Iterable[neutrality_pb2.VendorNeutrality],
) -> dict[OrganizationName, VendorNeutrality]:
    """Verdicts by vendor; a vendor without a verdict (UNSPECIFIED) is left out: not scored."""
    return {
        OrganizationName.trusted(v.vendor): VendorNeutrality(
            verdict=VERDICTS[v.verdict], score=v.score, reasons=tuple(v.reasons)
        )
        for v in vendors
        if v.verdict in VERDICTS
    }


# Outputs ---------------------------------------------------------------------


def ranked_to_proto(r: RankedVendor) -> matching_pb2.RankedVendor:
    return matching_pb2.RankedVendor(
        rank=r.rank,
        vendor=str(r.vendor),
        display_name=r.display_name,
        score=r.score,
        breakdown=matching_pb2.ScoreBreakdown(
            fit=r.breakdown.fit,
            quality=r.breakdown.quality,
            price=r.breakdown.price,
            neutrality=r.breakdown.neutrality,
        ),
        verdict=_VERDICT_PROTOS[r.verdict],
        neutrality_score=r.neutrality_score,
        covered_modalities=[_MODALITY_PROTOS[m] for m in r.covered_modalities],
        notes=r.notes,
    )


def excluded_to_proto(e: ExcludedVendor) -> matching_pb2.ExcludedVendor:
    return matching_pb2.ExcludedVendor(
        vendor=str(e.vendor),
        display_name=e.display_name,
        reasons=[
            matching_pb2.ExclusionReason(kind=EXCLUSION_KINDS[r.kind], message=r.message)
            for r in e.reasons
        ],
    )


def modality_to_proto(m: Modality) -> common_pb2.Modality:
    return _MODALITY_PROTOS[m]


def verdict_to_proto(v: Verdict) -> neutrality_pb2.Verdict:
    return _VERDICT_PROTOS[v]
