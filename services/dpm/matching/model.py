"""What the ranking engine reads and writes: plain frozen dataclasses, no wire types.

``dpm.matching.convert`` maps the protos of catalog, requirements, neutrality
and matching to and from these; the engine never sees a message. A vendor is
named by its ``OrganizationName``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from dpm.platform.names import OrganizationName


class Modality(enum.StrEnum):
    """Kinds of data work; the value is the label reasons print ("rlhf")."""

    TEXT = "text"
    RLHF = "rlhf"
    CODE = "code"
    IMAGE = "image"
    VIDEO = "video"
    LIDAR = "lidar"
    AUDIO = "audio"
    MEDICAL = "medical"
    MULTILINGUAL = "multilingual"
    EXPERT = "expert"


class Certification(enum.StrEnum):
    """Attestations a vendor claims; the value is the label reasons print ("SOC 2 Type II")."""

    SOC2 = "SOC 2"
    SOC2_TYPE_II = "SOC 2 Type II"
    ISO_27001 = "ISO 27001"
    HIPAA = "HIPAA"
    GDPR = "GDPR"
    FEDRAMP = "FedRAMP"
    CCPA = "CCPA"


class Verdict(enum.StrEnum):
    NEUTRAL = "NEUTRAL"
    CAUTION = "CAUTION"
    CONFLICTED = "CONFLICTED"


class ExclusionKind(enum.StrEnum):
    """The hard filter a vendor failed."""

    CAPABILITY = "CAPABILITY"
    CERTIFICATION = "CERTIFICATION"
    REGION = "REGION"
    CLEARANCE = "CLEARANCE"
    NEUTRALITY = "NEUTRALITY"


# Inputs ----------------------------------------------------------------------


@dataclass(frozen=True)
class Capability:
    modality: Modality
    # Units per month; 0 means unknown.
    monthly_capacity: int = 0
    # In [0, 1].
    quality: float = 0.0
    # US dollars per unit; 0 means unknown.
    unit_price_usd: float = 0.0


@dataclass(frozen=True)
class VendorProfile:
    capabilities: tuple[Capability, ...] = ()
    certifications: tuple[Certification, ...] = ()
    # ISO 3166-1 alpha-2 codes or "EU", as the catalog holds them.
    workforce_regions: tuple[str, ...] = ()
    data_residency_regions: tuple[str, ...] = ()
    security_clearance: bool = False


@dataclass(frozen=True)
class Candidate:
    """A vendor that may be recommended: its organization, display name and profile."""

    name: OrganizationName
    display_name: str
    profile: VendorProfile


@dataclass(frozen=True)
class Need:
    modality: Modality
    # Units per month.
    monthly_volume: int = 0
    min_quality: float = 0.0
    # 0 means no limit.
    max_unit_price_usd: float = 0.0


@dataclass(frozen=True)
class Weights:
    """Relative weights of the score's parts (the client's, or normalized to sum 1)."""

    fit: float
    quality: float
    price: float
    neutrality: float


@dataclass(frozen=True)
class Requirements:
    """What one client asks of a vendor."""

    needs: tuple[Need, ...] = ()
    required_certifications: tuple[Certification, ...] = ()
    # Empty means anywhere.
    allowed_regions: tuple[str, ...] = ()
    requires_security_clearance: bool = False
    # US dollars per month; 0 means no budget given.
    monthly_budget_usd: float = 0.0
    # All zero means the defaults.
    weights: Weights = Weights(0.0, 0.0, 0.0, 0.0)


@dataclass(frozen=True)
class VendorNeutrality:
    """The neutrality service's verdict on one vendor for the client."""

    verdict: Verdict
    # 0 (owned by a competitor) to 100 (no competitor link).
    score: int
    reasons: tuple[str, ...] = ()


# Outputs ---------------------------------------------------------------------


@dataclass(frozen=True)
class ScoreBreakdown:
    """Each part in [0, 1], rounded; the score is their weighted sum."""

    fit: float
    quality: float
    price: float
    neutrality: float


@dataclass(frozen=True)
class RankedVendor:
    rank: int
    vendor: OrganizationName
    display_name: str
    score: float
    breakdown: ScoreBreakdown
    verdict: Verdict
    neutrality_score: int
    covered_modalities: tuple[Modality, ...]
    # Cautions a person should read, e.g. undisclosed competitor stakes.
    notes: tuple[str, ...]


@dataclass(frozen=True)
class ExclusionReason:
    kind: ExclusionKind
    message: str


@dataclass(frozen=True)
class ExcludedVendor:
    vendor: OrganizationName
    display_name: str
    reasons: tuple[ExclusionReason, ...]
