import datetime

from dpm.common.v1 import common_pb2 as _common_pb2
from dpm.neutrality.v1 import neutrality_pb2 as _neutrality_pb2
from dpm.ownership.v1 import ownership_pb2 as _ownership_pb2
from google.api import field_behavior_pb2 as _field_behavior_pb2
from google.api import resource_pb2 as _resource_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ChangeKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CHANGE_KIND_UNSPECIFIED: _ClassVar[ChangeKind]
    CHANGE_KIND_ENTERED: _ClassVar[ChangeKind]
    CHANGE_KIND_LEFT: _ClassVar[ChangeKind]
    CHANGE_KIND_MOVED: _ClassVar[ChangeKind]

class ExclusionKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    EXCLUSION_KIND_UNSPECIFIED: _ClassVar[ExclusionKind]
    EXCLUSION_KIND_NEUTRALITY: _ClassVar[ExclusionKind]
    EXCLUSION_KIND_CAPABILITY: _ClassVar[ExclusionKind]
    EXCLUSION_KIND_CERTIFICATION: _ClassVar[ExclusionKind]
    EXCLUSION_KIND_REGION: _ClassVar[ExclusionKind]
    EXCLUSION_KIND_CLEARANCE: _ClassVar[ExclusionKind]
CHANGE_KIND_UNSPECIFIED: ChangeKind
CHANGE_KIND_ENTERED: ChangeKind
CHANGE_KIND_LEFT: ChangeKind
CHANGE_KIND_MOVED: ChangeKind
EXCLUSION_KIND_UNSPECIFIED: ExclusionKind
EXCLUSION_KIND_NEUTRALITY: ExclusionKind
EXCLUSION_KIND_CAPABILITY: ExclusionKind
EXCLUSION_KIND_CERTIFICATION: ExclusionKind
EXCLUSION_KIND_REGION: ExclusionKind
EXCLUSION_KIND_CLEARANCE: ExclusionKind

class AnalyzeConcentrationRequest(_message.Message):
    __slots__ = ("client", "work", "as_of", "what_if")
    CLIENT_FIELD_NUMBER: _ClassVar[int]
    WORK_FIELD_NUMBER: _ClassVar[int]
    AS_OF_FIELD_NUMBER: _ClassVar[int]
    WHAT_IF_FIELD_NUMBER: _ClassVar[int]
    client: str
    work: _containers.RepeatedCompositeFieldContainer[VendorWork]
    as_of: str
    what_if: _ownership_pb2.OwnershipEvent
    def __init__(self, client: _Optional[str] = ..., work: _Optional[_Iterable[_Union[VendorWork, _Mapping]]] = ..., as_of: _Optional[str] = ..., what_if: _Optional[_Union[_ownership_pb2.OwnershipEvent, _Mapping]] = ...) -> None: ...

class VendorWork(_message.Message):
    __slots__ = ("vendor", "monthly_units")
    VENDOR_FIELD_NUMBER: _ClassVar[int]
    MONTHLY_UNITS_FIELD_NUMBER: _ClassVar[int]
    vendor: str
    monthly_units: int
    def __init__(self, vendor: _Optional[str] = ..., monthly_units: _Optional[int] = ...) -> None: ...

class ConcentrationReport(_message.Message):
    __slots__ = ("client", "as_of", "current", "after_event", "graph_version")
    CLIENT_FIELD_NUMBER: _ClassVar[int]
    AS_OF_FIELD_NUMBER: _ClassVar[int]
    CURRENT_FIELD_NUMBER: _ClassVar[int]
    AFTER_EVENT_FIELD_NUMBER: _ClassVar[int]
    GRAPH_VERSION_FIELD_NUMBER: _ClassVar[int]
    client: str
    as_of: str
    current: Concentration
    after_event: Concentration
    graph_version: int
    def __init__(self, client: _Optional[str] = ..., as_of: _Optional[str] = ..., current: _Optional[_Union[Concentration, _Mapping]] = ..., after_event: _Optional[_Union[Concentration, _Mapping]] = ..., graph_version: _Optional[int] = ...) -> None: ...

class Concentration(_message.Message):
    __slots__ = ("owners", "hhi", "competitors")
    OWNERS_FIELD_NUMBER: _ClassVar[int]
    HHI_FIELD_NUMBER: _ClassVar[int]
    COMPETITORS_FIELD_NUMBER: _ClassVar[int]
    owners: _containers.RepeatedCompositeFieldContainer[OwnerShare]
    hhi: float
    competitors: _containers.RepeatedCompositeFieldContainer[CompetitorReach]
    def __init__(self, owners: _Optional[_Iterable[_Union[OwnerShare, _Mapping]]] = ..., hhi: _Optional[float] = ..., competitors: _Optional[_Iterable[_Union[CompetitorReach, _Mapping]]] = ...) -> None: ...

class CompetitorReach(_message.Message):
    __slots__ = ("competitor", "controlled_share", "economic_share", "vendors")
    COMPETITOR_FIELD_NUMBER: _ClassVar[int]
    CONTROLLED_SHARE_FIELD_NUMBER: _ClassVar[int]
    ECONOMIC_SHARE_FIELD_NUMBER: _ClassVar[int]
    VENDORS_FIELD_NUMBER: _ClassVar[int]
    competitor: str
    controlled_share: float
    economic_share: float
    vendors: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, competitor: _Optional[str] = ..., controlled_share: _Optional[float] = ..., economic_share: _Optional[float] = ..., vendors: _Optional[_Iterable[str]] = ...) -> None: ...

class PlanPortfolioRequest(_message.Message):
    __slots__ = ("client", "max_vendors", "as_of", "exclude_vendors", "neutral_only")
    CLIENT_FIELD_NUMBER: _ClassVar[int]
    MAX_VENDORS_FIELD_NUMBER: _ClassVar[int]
    AS_OF_FIELD_NUMBER: _ClassVar[int]
    EXCLUDE_VENDORS_FIELD_NUMBER: _ClassVar[int]
    NEUTRAL_ONLY_FIELD_NUMBER: _ClassVar[int]
    client: str
    max_vendors: int
    as_of: str
    exclude_vendors: _containers.RepeatedScalarFieldContainer[str]
    neutral_only: bool
    def __init__(self, client: _Optional[str] = ..., max_vendors: _Optional[int] = ..., as_of: _Optional[str] = ..., exclude_vendors: _Optional[_Iterable[str]] = ..., neutral_only: _Optional[bool] = ...) -> None: ...

class PortfolioPlan(_message.Message):
    __slots__ = ("client", "as_of", "feasible", "vendors", "monthly_cost_usd", "monthly_budget_usd", "owner_shares", "shared_owners", "optimal", "min_vendors_bound", "method", "problems", "eligible_vendors", "versions", "preferences_proven")
    CLIENT_FIELD_NUMBER: _ClassVar[int]
    AS_OF_FIELD_NUMBER: _ClassVar[int]
    FEASIBLE_FIELD_NUMBER: _ClassVar[int]
    VENDORS_FIELD_NUMBER: _ClassVar[int]
    MONTHLY_COST_USD_FIELD_NUMBER: _ClassVar[int]
    MONTHLY_BUDGET_USD_FIELD_NUMBER: _ClassVar[int]
    OWNER_SHARES_FIELD_NUMBER: _ClassVar[int]
    SHARED_OWNERS_FIELD_NUMBER: _ClassVar[int]
    OPTIMAL_FIELD_NUMBER: _ClassVar[int]
    MIN_VENDORS_BOUND_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    PROBLEMS_FIELD_NUMBER: _ClassVar[int]
    ELIGIBLE_VENDORS_FIELD_NUMBER: _ClassVar[int]
    VERSIONS_FIELD_NUMBER: _ClassVar[int]
    PREFERENCES_PROVEN_FIELD_NUMBER: _ClassVar[int]
    client: str
    as_of: str
    feasible: bool
    vendors: _containers.RepeatedCompositeFieldContainer[PlannedVendor]
    monthly_cost_usd: float
    monthly_budget_usd: float
    owner_shares: _containers.RepeatedCompositeFieldContainer[OwnerShare]
    shared_owners: int
    optimal: bool
    min_vendors_bound: int
    method: str
    problems: _containers.RepeatedScalarFieldContainer[str]
    eligible_vendors: int
    versions: SourceVersions
    preferences_proven: bool
    def __init__(self, client: _Optional[str] = ..., as_of: _Optional[str] = ..., feasible: _Optional[bool] = ..., vendors: _Optional[_Iterable[_Union[PlannedVendor, _Mapping]]] = ..., monthly_cost_usd: _Optional[float] = ..., monthly_budget_usd: _Optional[float] = ..., owner_shares: _Optional[_Iterable[_Union[OwnerShare, _Mapping]]] = ..., shared_owners: _Optional[int] = ..., optimal: _Optional[bool] = ..., min_vendors_bound: _Optional[int] = ..., method: _Optional[str] = ..., problems: _Optional[_Iterable[str]] = ..., eligible_vendors: _Optional[int] = ..., versions: _Optional[_Union[SourceVersions, _Mapping]] = ..., preferences_proven: _Optional[bool] = ...) -> None: ...

class PlannedVendor(_message.Message):
    __slots__ = ("vendor", "display_name", "ultimate_owner", "allocations", "monthly_cost_usd", "verdict", "neutrality_score")
    VENDOR_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    ULTIMATE_OWNER_FIELD_NUMBER: _ClassVar[int]
    ALLOCATIONS_FIELD_NUMBER: _ClassVar[int]
    MONTHLY_COST_USD_FIELD_NUMBER: _ClassVar[int]
    VERDICT_FIELD_NUMBER: _ClassVar[int]
    NEUTRALITY_SCORE_FIELD_NUMBER: _ClassVar[int]
    vendor: str
    display_name: str
    ultimate_owner: str
    allocations: _containers.RepeatedCompositeFieldContainer[Allocation]
    monthly_cost_usd: float
    verdict: _neutrality_pb2.Verdict
    neutrality_score: int
    def __init__(self, vendor: _Optional[str] = ..., display_name: _Optional[str] = ..., ultimate_owner: _Optional[str] = ..., allocations: _Optional[_Iterable[_Union[Allocation, _Mapping]]] = ..., monthly_cost_usd: _Optional[float] = ..., verdict: _Optional[_Union[_neutrality_pb2.Verdict, str]] = ..., neutrality_score: _Optional[int] = ...) -> None: ...

class Allocation(_message.Message):
    __slots__ = ("need", "modality", "monthly_units", "unit_price_usd")
    NEED_FIELD_NUMBER: _ClassVar[int]
    MODALITY_FIELD_NUMBER: _ClassVar[int]
    MONTHLY_UNITS_FIELD_NUMBER: _ClassVar[int]
    UNIT_PRICE_USD_FIELD_NUMBER: _ClassVar[int]
    need: int
    modality: _common_pb2.Modality
    monthly_units: int
    unit_price_usd: float
    def __init__(self, need: _Optional[int] = ..., modality: _Optional[_Union[_common_pb2.Modality, str]] = ..., monthly_units: _Optional[int] = ..., unit_price_usd: _Optional[float] = ...) -> None: ...

class OwnerShare(_message.Message):
    __slots__ = ("owner", "share", "vendors")
    OWNER_FIELD_NUMBER: _ClassVar[int]
    SHARE_FIELD_NUMBER: _ClassVar[int]
    VENDORS_FIELD_NUMBER: _ClassVar[int]
    owner: str
    share: float
    vendors: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, owner: _Optional[str] = ..., share: _Optional[float] = ..., vendors: _Optional[_Iterable[str]] = ...) -> None: ...

class SimulateEventRequest(_message.Message):
    __slots__ = ("event", "clients", "as_of")
    EVENT_FIELD_NUMBER: _ClassVar[int]
    CLIENTS_FIELD_NUMBER: _ClassVar[int]
    AS_OF_FIELD_NUMBER: _ClassVar[int]
    event: _ownership_pb2.OwnershipEvent
    clients: _containers.RepeatedScalarFieldContainer[str]
    as_of: str
    def __init__(self, event: _Optional[_Union[_ownership_pb2.OwnershipEvent, _Mapping]] = ..., clients: _Optional[_Iterable[str]] = ..., as_of: _Optional[str] = ...) -> None: ...

class SimulateEventResponse(_message.Message):
    __slots__ = ("graph_version", "as_of", "impacts", "clients_considered")
    GRAPH_VERSION_FIELD_NUMBER: _ClassVar[int]
    AS_OF_FIELD_NUMBER: _ClassVar[int]
    IMPACTS_FIELD_NUMBER: _ClassVar[int]
    CLIENTS_CONSIDERED_FIELD_NUMBER: _ClassVar[int]
    graph_version: int
    as_of: str
    impacts: _containers.RepeatedCompositeFieldContainer[ClientImpact]
    clients_considered: int
    def __init__(self, graph_version: _Optional[int] = ..., as_of: _Optional[str] = ..., impacts: _Optional[_Iterable[_Union[ClientImpact, _Mapping]]] = ..., clients_considered: _Optional[int] = ...) -> None: ...

class ClientImpact(_message.Message):
    __slots__ = ("client", "changes")
    CLIENT_FIELD_NUMBER: _ClassVar[int]
    CHANGES_FIELD_NUMBER: _ClassVar[int]
    client: str
    changes: _containers.RepeatedCompositeFieldContainer[VendorChange]
    def __init__(self, client: _Optional[str] = ..., changes: _Optional[_Iterable[_Union[VendorChange, _Mapping]]] = ...) -> None: ...

class VendorChange(_message.Message):
    __slots__ = ("vendor", "display_name", "kind", "rank_before", "rank_after", "neutrality_score_before", "neutrality_score_after", "reasons")
    VENDOR_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    RANK_BEFORE_FIELD_NUMBER: _ClassVar[int]
    RANK_AFTER_FIELD_NUMBER: _ClassVar[int]
    NEUTRALITY_SCORE_BEFORE_FIELD_NUMBER: _ClassVar[int]
    NEUTRALITY_SCORE_AFTER_FIELD_NUMBER: _ClassVar[int]
    REASONS_FIELD_NUMBER: _ClassVar[int]
    vendor: str
    display_name: str
    kind: ChangeKind
    rank_before: int
    rank_after: int
    neutrality_score_before: int
    neutrality_score_after: int
    reasons: _containers.RepeatedCompositeFieldContainer[ExclusionReason]
    def __init__(self, vendor: _Optional[str] = ..., display_name: _Optional[str] = ..., kind: _Optional[_Union[ChangeKind, str]] = ..., rank_before: _Optional[int] = ..., rank_after: _Optional[int] = ..., neutrality_score_before: _Optional[int] = ..., neutrality_score_after: _Optional[int] = ..., reasons: _Optional[_Iterable[_Union[ExclusionReason, _Mapping]]] = ...) -> None: ...

class GetRecommendationsRequest(_message.Message):
    __slots__ = ("name", "min_graph_version")
    NAME_FIELD_NUMBER: _ClassVar[int]
    MIN_GRAPH_VERSION_FIELD_NUMBER: _ClassVar[int]
    name: str
    min_graph_version: int
    def __init__(self, name: _Optional[str] = ..., min_graph_version: _Optional[int] = ...) -> None: ...

class WatchRecommendationsRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class SourceVersions(_message.Message):
    __slots__ = ("graph_version", "catalog_version", "requirements_revision")
    GRAPH_VERSION_FIELD_NUMBER: _ClassVar[int]
    CATALOG_VERSION_FIELD_NUMBER: _ClassVar[int]
    REQUIREMENTS_REVISION_FIELD_NUMBER: _ClassVar[int]
    graph_version: int
    catalog_version: int
    requirements_revision: int
    def __init__(self, graph_version: _Optional[int] = ..., catalog_version: _Optional[int] = ..., requirements_revision: _Optional[int] = ...) -> None: ...

class RecommendationSet(_message.Message):
    __slots__ = ("name", "ranked", "excluded", "versions", "compute_time", "as_of", "freshness", "unresolved_parties", "ranked_total", "excluded_total")
    NAME_FIELD_NUMBER: _ClassVar[int]
    RANKED_FIELD_NUMBER: _ClassVar[int]
    EXCLUDED_FIELD_NUMBER: _ClassVar[int]
    VERSIONS_FIELD_NUMBER: _ClassVar[int]
    COMPUTE_TIME_FIELD_NUMBER: _ClassVar[int]
    AS_OF_FIELD_NUMBER: _ClassVar[int]
    FRESHNESS_FIELD_NUMBER: _ClassVar[int]
    UNRESOLVED_PARTIES_FIELD_NUMBER: _ClassVar[int]
    RANKED_TOTAL_FIELD_NUMBER: _ClassVar[int]
    EXCLUDED_TOTAL_FIELD_NUMBER: _ClassVar[int]
    name: str
    ranked: _containers.RepeatedCompositeFieldContainer[RankedVendor]
    excluded: _containers.RepeatedCompositeFieldContainer[ExcludedVendor]
    versions: SourceVersions
    compute_time: _timestamp_pb2.Timestamp
    as_of: str
    freshness: Freshness
    unresolved_parties: _containers.RepeatedScalarFieldContainer[str]
    ranked_total: int
    excluded_total: int
    def __init__(self, name: _Optional[str] = ..., ranked: _Optional[_Iterable[_Union[RankedVendor, _Mapping]]] = ..., excluded: _Optional[_Iterable[_Union[ExcludedVendor, _Mapping]]] = ..., versions: _Optional[_Union[SourceVersions, _Mapping]] = ..., compute_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., as_of: _Optional[str] = ..., freshness: _Optional[_Union[Freshness, _Mapping]] = ..., unresolved_parties: _Optional[_Iterable[str]] = ..., ranked_total: _Optional[int] = ..., excluded_total: _Optional[int] = ...) -> None: ...

class Freshness(_message.Message):
    __slots__ = ("stale", "latest_graph_version", "reason")
    STALE_FIELD_NUMBER: _ClassVar[int]
    LATEST_GRAPH_VERSION_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    stale: bool
    latest_graph_version: int
    reason: str
    def __init__(self, stale: _Optional[bool] = ..., latest_graph_version: _Optional[int] = ..., reason: _Optional[str] = ...) -> None: ...

class ScoreBreakdown(_message.Message):
    __slots__ = ("fit", "quality", "price", "neutrality")
    FIT_FIELD_NUMBER: _ClassVar[int]
    QUALITY_FIELD_NUMBER: _ClassVar[int]
    PRICE_FIELD_NUMBER: _ClassVar[int]
    NEUTRALITY_FIELD_NUMBER: _ClassVar[int]
    fit: float
    quality: float
    price: float
    neutrality: float
    def __init__(self, fit: _Optional[float] = ..., quality: _Optional[float] = ..., price: _Optional[float] = ..., neutrality: _Optional[float] = ...) -> None: ...

class RankedVendor(_message.Message):
    __slots__ = ("rank", "vendor", "display_name", "score", "breakdown", "verdict", "neutrality_score", "covered_modalities", "notes")
    RANK_FIELD_NUMBER: _ClassVar[int]
    VENDOR_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    BREAKDOWN_FIELD_NUMBER: _ClassVar[int]
    VERDICT_FIELD_NUMBER: _ClassVar[int]
    NEUTRALITY_SCORE_FIELD_NUMBER: _ClassVar[int]
    COVERED_MODALITIES_FIELD_NUMBER: _ClassVar[int]
    NOTES_FIELD_NUMBER: _ClassVar[int]
    rank: int
    vendor: str
    display_name: str
    score: float
    breakdown: ScoreBreakdown
    verdict: _neutrality_pb2.Verdict
    neutrality_score: int
    covered_modalities: _containers.RepeatedScalarFieldContainer[_common_pb2.Modality]
    notes: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, rank: _Optional[int] = ..., vendor: _Optional[str] = ..., display_name: _Optional[str] = ..., score: _Optional[float] = ..., breakdown: _Optional[_Union[ScoreBreakdown, _Mapping]] = ..., verdict: _Optional[_Union[_neutrality_pb2.Verdict, str]] = ..., neutrality_score: _Optional[int] = ..., covered_modalities: _Optional[_Iterable[_Union[_common_pb2.Modality, str]]] = ..., notes: _Optional[_Iterable[str]] = ...) -> None: ...

class ExclusionReason(_message.Message):
    __slots__ = ("kind", "message")
    KIND_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    kind: ExclusionKind
    message: str
    def __init__(self, kind: _Optional[_Union[ExclusionKind, str]] = ..., message: _Optional[str] = ...) -> None: ...

class ExcludedVendor(_message.Message):
    __slots__ = ("vendor", "display_name", "reasons")
    VENDOR_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    REASONS_FIELD_NUMBER: _ClassVar[int]
    vendor: str
    display_name: str
    reasons: _containers.RepeatedCompositeFieldContainer[ExclusionReason]
    def __init__(self, vendor: _Optional[str] = ..., display_name: _Optional[str] = ..., reasons: _Optional[_Iterable[_Union[ExclusionReason, _Mapping]]] = ...) -> None: ...
