import datetime

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

class SourceType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SOURCE_TYPE_UNSPECIFIED: _ClassVar[SourceType]
    SOURCE_TYPE_SELF_DECLARATION: _ClassVar[SourceType]
    SOURCE_TYPE_OFFICIAL_REGISTER: _ClassVar[SourceType]
    SOURCE_TYPE_THIRD_PARTY: _ClassVar[SourceType]
    SOURCE_TYPE_PRIMARY_RESEARCH: _ClassVar[SourceType]
    SOURCE_TYPE_VERIFIED: _ClassVar[SourceType]

class TieKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TIE_KIND_UNSPECIFIED: _ClassVar[TieKind]
    TIE_KIND_LEADERSHIP_MOVE: _ClassVar[TieKind]
    TIE_KIND_BOARD_INTERLOCK: _ClassVar[TieKind]
    TIE_KIND_EXCLUSIVE_CONTRACT: _ClassVar[TieKind]
    TIE_KIND_REVENUE_DEPENDENCY: _ClassVar[TieKind]
    TIE_KIND_DATA_SHARING: _ClassVar[TieKind]
SOURCE_TYPE_UNSPECIFIED: SourceType
SOURCE_TYPE_SELF_DECLARATION: SourceType
SOURCE_TYPE_OFFICIAL_REGISTER: SourceType
SOURCE_TYPE_THIRD_PARTY: SourceType
SOURCE_TYPE_PRIMARY_RESEARCH: SourceType
SOURCE_TYPE_VERIFIED: SourceType
TIE_KIND_UNSPECIFIED: TieKind
TIE_KIND_LEADERSHIP_MOVE: TieKind
TIE_KIND_BOARD_INTERLOCK: TieKind
TIE_KIND_EXCLUSIVE_CONTRACT: TieKind
TIE_KIND_REVENUE_DEPENDENCY: TieKind
TIE_KIND_DATA_SHARING: TieKind

class OwnershipEvent(_message.Message):
    __slots__ = ("name", "event_id", "effective_date", "source_url", "summary", "provenance", "supersedes", "stake_acquired", "stake_changed", "stake_divested", "full_acquisition", "leadership_move", "board_seat_granted", "board_seat_removed", "contract_tie", "retraction", "graph_version", "record_time", "superseded_by")
    NAME_FIELD_NUMBER: _ClassVar[int]
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    EFFECTIVE_DATE_FIELD_NUMBER: _ClassVar[int]
    SOURCE_URL_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    PROVENANCE_FIELD_NUMBER: _ClassVar[int]
    SUPERSEDES_FIELD_NUMBER: _ClassVar[int]
    STAKE_ACQUIRED_FIELD_NUMBER: _ClassVar[int]
    STAKE_CHANGED_FIELD_NUMBER: _ClassVar[int]
    STAKE_DIVESTED_FIELD_NUMBER: _ClassVar[int]
    FULL_ACQUISITION_FIELD_NUMBER: _ClassVar[int]
    LEADERSHIP_MOVE_FIELD_NUMBER: _ClassVar[int]
    BOARD_SEAT_GRANTED_FIELD_NUMBER: _ClassVar[int]
    BOARD_SEAT_REMOVED_FIELD_NUMBER: _ClassVar[int]
    CONTRACT_TIE_FIELD_NUMBER: _ClassVar[int]
    RETRACTION_FIELD_NUMBER: _ClassVar[int]
    GRAPH_VERSION_FIELD_NUMBER: _ClassVar[int]
    RECORD_TIME_FIELD_NUMBER: _ClassVar[int]
    SUPERSEDED_BY_FIELD_NUMBER: _ClassVar[int]
    name: str
    event_id: str
    effective_date: str
    source_url: str
    summary: str
    provenance: Provenance
    supersedes: str
    stake_acquired: StakeChange
    stake_changed: StakeChange
    stake_divested: StakeDivested
    full_acquisition: FullAcquisition
    leadership_move: LeadershipMove
    board_seat_granted: BoardSeatChange
    board_seat_removed: BoardSeatChange
    contract_tie: ContractTie
    retraction: Retraction
    graph_version: int
    record_time: _timestamp_pb2.Timestamp
    superseded_by: str
    def __init__(self, name: _Optional[str] = ..., event_id: _Optional[str] = ..., effective_date: _Optional[str] = ..., source_url: _Optional[str] = ..., summary: _Optional[str] = ..., provenance: _Optional[_Union[Provenance, _Mapping]] = ..., supersedes: _Optional[str] = ..., stake_acquired: _Optional[_Union[StakeChange, _Mapping]] = ..., stake_changed: _Optional[_Union[StakeChange, _Mapping]] = ..., stake_divested: _Optional[_Union[StakeDivested, _Mapping]] = ..., full_acquisition: _Optional[_Union[FullAcquisition, _Mapping]] = ..., leadership_move: _Optional[_Union[LeadershipMove, _Mapping]] = ..., board_seat_granted: _Optional[_Union[BoardSeatChange, _Mapping]] = ..., board_seat_removed: _Optional[_Union[BoardSeatChange, _Mapping]] = ..., contract_tie: _Optional[_Union[ContractTie, _Mapping]] = ..., retraction: _Optional[_Union[Retraction, _Mapping]] = ..., graph_version: _Optional[int] = ..., record_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., superseded_by: _Optional[str] = ...) -> None: ...

class Provenance(_message.Message):
    __slots__ = ("source_type", "asserted_by", "statement_date", "statement_id")
    SOURCE_TYPE_FIELD_NUMBER: _ClassVar[int]
    ASSERTED_BY_FIELD_NUMBER: _ClassVar[int]
    STATEMENT_DATE_FIELD_NUMBER: _ClassVar[int]
    STATEMENT_ID_FIELD_NUMBER: _ClassVar[int]
    source_type: SourceType
    asserted_by: str
    statement_date: str
    statement_id: str
    def __init__(self, source_type: _Optional[_Union[SourceType, str]] = ..., asserted_by: _Optional[str] = ..., statement_date: _Optional[str] = ..., statement_id: _Optional[str] = ...) -> None: ...

class ShareRange(_message.Message):
    __slots__ = ("minimum", "maximum", "exclusive_minimum", "exclusive_maximum")
    MINIMUM_FIELD_NUMBER: _ClassVar[int]
    MAXIMUM_FIELD_NUMBER: _ClassVar[int]
    EXCLUSIVE_MINIMUM_FIELD_NUMBER: _ClassVar[int]
    EXCLUSIVE_MAXIMUM_FIELD_NUMBER: _ClassVar[int]
    minimum: float
    maximum: float
    exclusive_minimum: bool
    exclusive_maximum: bool
    def __init__(self, minimum: _Optional[float] = ..., maximum: _Optional[float] = ..., exclusive_minimum: _Optional[bool] = ..., exclusive_maximum: _Optional[bool] = ...) -> None: ...

class Retraction(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class StakeChange(_message.Message):
    __slots__ = ("holder", "held", "equity_fraction", "voting_fraction", "board_seats", "equity_range", "voting_range")
    HOLDER_FIELD_NUMBER: _ClassVar[int]
    HELD_FIELD_NUMBER: _ClassVar[int]
    EQUITY_FRACTION_FIELD_NUMBER: _ClassVar[int]
    VOTING_FRACTION_FIELD_NUMBER: _ClassVar[int]
    BOARD_SEATS_FIELD_NUMBER: _ClassVar[int]
    EQUITY_RANGE_FIELD_NUMBER: _ClassVar[int]
    VOTING_RANGE_FIELD_NUMBER: _ClassVar[int]
    holder: str
    held: str
    equity_fraction: float
    voting_fraction: float
    board_seats: int
    equity_range: ShareRange
    voting_range: ShareRange
    def __init__(self, holder: _Optional[str] = ..., held: _Optional[str] = ..., equity_fraction: _Optional[float] = ..., voting_fraction: _Optional[float] = ..., board_seats: _Optional[int] = ..., equity_range: _Optional[_Union[ShareRange, _Mapping]] = ..., voting_range: _Optional[_Union[ShareRange, _Mapping]] = ...) -> None: ...

class StakeDivested(_message.Message):
    __slots__ = ("holder", "held")
    HOLDER_FIELD_NUMBER: _ClassVar[int]
    HELD_FIELD_NUMBER: _ClassVar[int]
    holder: str
    held: str
    def __init__(self, holder: _Optional[str] = ..., held: _Optional[str] = ...) -> None: ...

class FullAcquisition(_message.Message):
    __slots__ = ("acquirer", "target")
    ACQUIRER_FIELD_NUMBER: _ClassVar[int]
    TARGET_FIELD_NUMBER: _ClassVar[int]
    acquirer: str
    target: str
    def __init__(self, acquirer: _Optional[str] = ..., target: _Optional[str] = ...) -> None: ...

class LeadershipMove(_message.Message):
    __slots__ = ("person", "from_organization", "to_organization", "role")
    PERSON_FIELD_NUMBER: _ClassVar[int]
    FROM_ORGANIZATION_FIELD_NUMBER: _ClassVar[int]
    TO_ORGANIZATION_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    person: str
    from_organization: str
    to_organization: str
    role: str
    def __init__(self, person: _Optional[str] = ..., from_organization: _Optional[str] = ..., to_organization: _Optional[str] = ..., role: _Optional[str] = ...) -> None: ...

class BoardSeatChange(_message.Message):
    __slots__ = ("holder", "held", "seats")
    HOLDER_FIELD_NUMBER: _ClassVar[int]
    HELD_FIELD_NUMBER: _ClassVar[int]
    SEATS_FIELD_NUMBER: _ClassVar[int]
    holder: str
    held: str
    seats: int
    def __init__(self, holder: _Optional[str] = ..., held: _Optional[str] = ..., seats: _Optional[int] = ...) -> None: ...

class ContractTie(_message.Message):
    __slots__ = ("kind", "organization", "counterparty")
    KIND_FIELD_NUMBER: _ClassVar[int]
    ORGANIZATION_FIELD_NUMBER: _ClassVar[int]
    COUNTERPARTY_FIELD_NUMBER: _ClassVar[int]
    kind: TieKind
    organization: str
    counterparty: str
    def __init__(self, kind: _Optional[_Union[TieKind, str]] = ..., organization: _Optional[str] = ..., counterparty: _Optional[str] = ...) -> None: ...

class Holding(_message.Message):
    __slots__ = ("holder", "held", "equity_fraction", "voting_fraction", "board_seats", "valid_from", "valid_to", "source_url", "event_id", "equity_range", "voting_range", "provenance")
    HOLDER_FIELD_NUMBER: _ClassVar[int]
    HELD_FIELD_NUMBER: _ClassVar[int]
    EQUITY_FRACTION_FIELD_NUMBER: _ClassVar[int]
    VOTING_FRACTION_FIELD_NUMBER: _ClassVar[int]
    BOARD_SEATS_FIELD_NUMBER: _ClassVar[int]
    VALID_FROM_FIELD_NUMBER: _ClassVar[int]
    VALID_TO_FIELD_NUMBER: _ClassVar[int]
    SOURCE_URL_FIELD_NUMBER: _ClassVar[int]
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    EQUITY_RANGE_FIELD_NUMBER: _ClassVar[int]
    VOTING_RANGE_FIELD_NUMBER: _ClassVar[int]
    PROVENANCE_FIELD_NUMBER: _ClassVar[int]
    holder: str
    held: str
    equity_fraction: float
    voting_fraction: float
    board_seats: int
    valid_from: str
    valid_to: str
    source_url: str
    event_id: str
    equity_range: ShareRange
    voting_range: ShareRange
    provenance: Provenance
    def __init__(self, holder: _Optional[str] = ..., held: _Optional[str] = ..., equity_fraction: _Optional[float] = ..., voting_fraction: _Optional[float] = ..., board_seats: _Optional[int] = ..., valid_from: _Optional[str] = ..., valid_to: _Optional[str] = ..., source_url: _Optional[str] = ..., event_id: _Optional[str] = ..., equity_range: _Optional[_Union[ShareRange, _Mapping]] = ..., voting_range: _Optional[_Union[ShareRange, _Mapping]] = ..., provenance: _Optional[_Union[Provenance, _Mapping]] = ...) -> None: ...

class Tie(_message.Message):
    __slots__ = ("kind", "organization", "counterparty", "person", "role", "effective_date", "source_url", "event_id", "provenance")
    KIND_FIELD_NUMBER: _ClassVar[int]
    ORGANIZATION_FIELD_NUMBER: _ClassVar[int]
    COUNTERPARTY_FIELD_NUMBER: _ClassVar[int]
    PERSON_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    EFFECTIVE_DATE_FIELD_NUMBER: _ClassVar[int]
    SOURCE_URL_FIELD_NUMBER: _ClassVar[int]
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    PROVENANCE_FIELD_NUMBER: _ClassVar[int]
    kind: TieKind
    organization: str
    counterparty: str
    person: str
    role: str
    effective_date: str
    source_url: str
    event_id: str
    provenance: Provenance
    def __init__(self, kind: _Optional[_Union[TieKind, str]] = ..., organization: _Optional[str] = ..., counterparty: _Optional[str] = ..., person: _Optional[str] = ..., role: _Optional[str] = ..., effective_date: _Optional[str] = ..., source_url: _Optional[str] = ..., event_id: _Optional[str] = ..., provenance: _Optional[_Union[Provenance, _Mapping]] = ...) -> None: ...

class OwnershipGraph(_message.Message):
    __slots__ = ("version", "as_of", "holdings", "ties", "organizations", "etag", "not_modified", "as_known_at", "delta_from", "changed_organizations")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    AS_OF_FIELD_NUMBER: _ClassVar[int]
    HOLDINGS_FIELD_NUMBER: _ClassVar[int]
    TIES_FIELD_NUMBER: _ClassVar[int]
    ORGANIZATIONS_FIELD_NUMBER: _ClassVar[int]
    ETAG_FIELD_NUMBER: _ClassVar[int]
    NOT_MODIFIED_FIELD_NUMBER: _ClassVar[int]
    AS_KNOWN_AT_FIELD_NUMBER: _ClassVar[int]
    DELTA_FROM_FIELD_NUMBER: _ClassVar[int]
    CHANGED_ORGANIZATIONS_FIELD_NUMBER: _ClassVar[int]
    version: int
    as_of: str
    holdings: _containers.RepeatedCompositeFieldContainer[Holding]
    ties: _containers.RepeatedCompositeFieldContainer[Tie]
    organizations: _containers.RepeatedScalarFieldContainer[str]
    etag: str
    not_modified: bool
    as_known_at: _timestamp_pb2.Timestamp
    delta_from: str
    changed_organizations: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, version: _Optional[int] = ..., as_of: _Optional[str] = ..., holdings: _Optional[_Iterable[_Union[Holding, _Mapping]]] = ..., ties: _Optional[_Iterable[_Union[Tie, _Mapping]]] = ..., organizations: _Optional[_Iterable[str]] = ..., etag: _Optional[str] = ..., not_modified: _Optional[bool] = ..., as_known_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., delta_from: _Optional[str] = ..., changed_organizations: _Optional[_Iterable[str]] = ...) -> None: ...
