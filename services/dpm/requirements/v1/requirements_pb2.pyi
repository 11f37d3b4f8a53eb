import datetime

from dpm.common.v1 import common_pb2 as _common_pb2
from google.api import field_behavior_pb2 as _field_behavior_pb2
from google.api import resource_pb2 as _resource_pb2
from google.protobuf import field_mask_pb2 as _field_mask_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class UnknownOwnership(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    UNKNOWN_OWNERSHIP_UNSPECIFIED: _ClassVar[UnknownOwnership]
    UNKNOWN_OWNERSHIP_CAUTION: _ClassVar[UnknownOwnership]
    UNKNOWN_OWNERSHIP_CONFLICTED: _ClassVar[UnknownOwnership]
    UNKNOWN_OWNERSHIP_IGNORE: _ClassVar[UnknownOwnership]

class RangeBound(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    RANGE_BOUND_UNSPECIFIED: _ClassVar[RangeBound]
    RANGE_BOUND_UPPER: _ClassVar[RangeBound]
    RANGE_BOUND_LOWER: _ClassVar[RangeBound]
UNKNOWN_OWNERSHIP_UNSPECIFIED: UnknownOwnership
UNKNOWN_OWNERSHIP_CAUTION: UnknownOwnership
UNKNOWN_OWNERSHIP_CONFLICTED: UnknownOwnership
UNKNOWN_OWNERSHIP_IGNORE: UnknownOwnership
RANGE_BOUND_UNSPECIFIED: RangeBound
RANGE_BOUND_UPPER: RangeBound
RANGE_BOUND_LOWER: RangeBound

class Client(_message.Message):
    __slots__ = ("name", "display_name", "organization", "requirements", "neutrality_policy", "revision", "create_time", "update_time")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    ORGANIZATION_FIELD_NUMBER: _ClassVar[int]
    REQUIREMENTS_FIELD_NUMBER: _ClassVar[int]
    NEUTRALITY_POLICY_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    name: str
    display_name: str
    organization: str
    requirements: Requirements
    neutrality_policy: NeutralityPolicy
    revision: int
    create_time: _timestamp_pb2.Timestamp
    update_time: _timestamp_pb2.Timestamp
    def __init__(self, name: _Optional[str] = ..., display_name: _Optional[str] = ..., organization: _Optional[str] = ..., requirements: _Optional[_Union[Requirements, _Mapping]] = ..., neutrality_policy: _Optional[_Union[NeutralityPolicy, _Mapping]] = ..., revision: _Optional[int] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class Need(_message.Message):
    __slots__ = ("modality", "monthly_volume", "min_quality", "max_unit_price_usd")
    MODALITY_FIELD_NUMBER: _ClassVar[int]
    MONTHLY_VOLUME_FIELD_NUMBER: _ClassVar[int]
    MIN_QUALITY_FIELD_NUMBER: _ClassVar[int]
    MAX_UNIT_PRICE_USD_FIELD_NUMBER: _ClassVar[int]
    modality: _common_pb2.Modality
    monthly_volume: int
    min_quality: float
    max_unit_price_usd: float
    def __init__(self, modality: _Optional[_Union[_common_pb2.Modality, str]] = ..., monthly_volume: _Optional[int] = ..., min_quality: _Optional[float] = ..., max_unit_price_usd: _Optional[float] = ...) -> None: ...

class RankingWeights(_message.Message):
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

class Requirements(_message.Message):
    __slots__ = ("needs", "required_certifications", "allowed_regions", "requires_security_clearance", "monthly_budget_usd", "weights")
    NEEDS_FIELD_NUMBER: _ClassVar[int]
    REQUIRED_CERTIFICATIONS_FIELD_NUMBER: _ClassVar[int]
    ALLOWED_REGIONS_FIELD_NUMBER: _ClassVar[int]
    REQUIRES_SECURITY_CLEARANCE_FIELD_NUMBER: _ClassVar[int]
    MONTHLY_BUDGET_USD_FIELD_NUMBER: _ClassVar[int]
    WEIGHTS_FIELD_NUMBER: _ClassVar[int]
    needs: _containers.RepeatedCompositeFieldContainer[Need]
    required_certifications: _containers.RepeatedScalarFieldContainer[_common_pb2.Certification]
    allowed_regions: _containers.RepeatedScalarFieldContainer[str]
    requires_security_clearance: bool
    monthly_budget_usd: float
    weights: RankingWeights
    def __init__(self, needs: _Optional[_Iterable[_Union[Need, _Mapping]]] = ..., required_certifications: _Optional[_Iterable[_Union[_common_pb2.Certification, str]]] = ..., allowed_regions: _Optional[_Iterable[str]] = ..., requires_security_clearance: _Optional[bool] = ..., monthly_budget_usd: _Optional[float] = ..., weights: _Optional[_Union[RankingWeights, _Mapping]] = ...) -> None: ...

class NeutralityPolicy(_message.Message):
    __slots__ = ("competitors", "max_competitor_equity", "max_competitor_voting", "board_seat_disqualifies", "leadership_move_disqualifies", "leadership_move_window_days", "unknown_ownership", "max_competitor_voting_power", "decisive_bound", "restricted_parties", "as_of")
    COMPETITORS_FIELD_NUMBER: _ClassVar[int]
    MAX_COMPETITOR_EQUITY_FIELD_NUMBER: _ClassVar[int]
    MAX_COMPETITOR_VOTING_FIELD_NUMBER: _ClassVar[int]
    BOARD_SEAT_DISQUALIFIES_FIELD_NUMBER: _ClassVar[int]
    LEADERSHIP_MOVE_DISQUALIFIES_FIELD_NUMBER: _ClassVar[int]
    LEADERSHIP_MOVE_WINDOW_DAYS_FIELD_NUMBER: _ClassVar[int]
    UNKNOWN_OWNERSHIP_FIELD_NUMBER: _ClassVar[int]
    MAX_COMPETITOR_VOTING_POWER_FIELD_NUMBER: _ClassVar[int]
    DECISIVE_BOUND_FIELD_NUMBER: _ClassVar[int]
    RESTRICTED_PARTIES_FIELD_NUMBER: _ClassVar[int]
    AS_OF_FIELD_NUMBER: _ClassVar[int]
    competitors: _containers.RepeatedScalarFieldContainer[str]
    max_competitor_equity: float
    max_competitor_voting: float
    board_seat_disqualifies: bool
    leadership_move_disqualifies: bool
    leadership_move_window_days: int
    unknown_ownership: UnknownOwnership
    max_competitor_voting_power: float
    decisive_bound: RangeBound
    restricted_parties: _containers.RepeatedScalarFieldContainer[str]
    as_of: str
    def __init__(self, competitors: _Optional[_Iterable[str]] = ..., max_competitor_equity: _Optional[float] = ..., max_competitor_voting: _Optional[float] = ..., board_seat_disqualifies: _Optional[bool] = ..., leadership_move_disqualifies: _Optional[bool] = ..., leadership_move_window_days: _Optional[int] = ..., unknown_ownership: _Optional[_Union[UnknownOwnership, str]] = ..., max_competitor_voting_power: _Optional[float] = ..., decisive_bound: _Optional[_Union[RangeBound, str]] = ..., restricted_parties: _Optional[_Iterable[str]] = ..., as_of: _Optional[str] = ...) -> None: ...

class CreateClientRequest(_message.Message):
    __slots__ = ("client_id", "client")
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    CLIENT_FIELD_NUMBER: _ClassVar[int]
    client_id: str
    client: Client
    def __init__(self, client_id: _Optional[str] = ..., client: _Optional[_Union[Client, _Mapping]] = ...) -> None: ...

class CreateClientResponse(_message.Message):
    __slots__ = ("client", "access_token")
    CLIENT_FIELD_NUMBER: _ClassVar[int]
    ACCESS_TOKEN_FIELD_NUMBER: _ClassVar[int]
    client: Client
    access_token: str
    def __init__(self, client: _Optional[_Union[Client, _Mapping]] = ..., access_token: _Optional[str] = ...) -> None: ...

class GetClientRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class ListClientsRequest(_message.Message):
    __slots__ = ("page_size", "page_token", "competitors_any", "names_only")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    COMPETITORS_ANY_FIELD_NUMBER: _ClassVar[int]
    NAMES_ONLY_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    competitors_any: _containers.RepeatedScalarFieldContainer[str]
    names_only: bool
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., competitors_any: _Optional[_Iterable[str]] = ..., names_only: _Optional[bool] = ...) -> None: ...

class ListClientsResponse(_message.Message):
    __slots__ = ("clients", "next_page_token")
    CLIENTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    clients: _containers.RepeatedCompositeFieldContainer[Client]
    next_page_token: str
    def __init__(self, clients: _Optional[_Iterable[_Union[Client, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class BatchGetClientsRequest(_message.Message):
    __slots__ = ("names",)
    NAMES_FIELD_NUMBER: _ClassVar[int]
    names: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, names: _Optional[_Iterable[str]] = ...) -> None: ...

class BatchGetClientsResponse(_message.Message):
    __slots__ = ("clients", "missing")
    CLIENTS_FIELD_NUMBER: _ClassVar[int]
    MISSING_FIELD_NUMBER: _ClassVar[int]
    clients: _containers.RepeatedCompositeFieldContainer[Client]
    missing: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, clients: _Optional[_Iterable[_Union[Client, _Mapping]]] = ..., missing: _Optional[_Iterable[str]] = ...) -> None: ...

class UpdateClientRequest(_message.Message):
    __slots__ = ("client", "update_mask")
    CLIENT_FIELD_NUMBER: _ClassVar[int]
    UPDATE_MASK_FIELD_NUMBER: _ClassVar[int]
    client: Client
    update_mask: _field_mask_pb2.FieldMask
    def __init__(self, client: _Optional[_Union[Client, _Mapping]] = ..., update_mask: _Optional[_Union[_field_mask_pb2.FieldMask, _Mapping]] = ...) -> None: ...

class DeleteClientRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class DeleteClientResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...
