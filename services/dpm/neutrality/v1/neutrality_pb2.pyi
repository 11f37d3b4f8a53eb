from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Verdict(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    VERDICT_UNSPECIFIED: _ClassVar[Verdict]
    VERDICT_NEUTRAL: _ClassVar[Verdict]
    VERDICT_CAUTION: _ClassVar[Verdict]
    VERDICT_CONFLICTED: _ClassVar[Verdict]
VERDICT_UNSPECIFIED: Verdict
VERDICT_NEUTRAL: Verdict
VERDICT_CAUTION: Verdict
VERDICT_CONFLICTED: Verdict

class ScoreVendorsRequest(_message.Message):
    __slots__ = ("client", "vendors", "as_of", "min_graph_version")
    CLIENT_FIELD_NUMBER: _ClassVar[int]
    VENDORS_FIELD_NUMBER: _ClassVar[int]
    AS_OF_FIELD_NUMBER: _ClassVar[int]
    MIN_GRAPH_VERSION_FIELD_NUMBER: _ClassVar[int]
    client: str
    vendors: _containers.RepeatedScalarFieldContainer[str]
    as_of: str
    min_graph_version: int
    def __init__(self, client: _Optional[str] = ..., vendors: _Optional[_Iterable[str]] = ..., as_of: _Optional[str] = ..., min_graph_version: _Optional[int] = ...) -> None: ...

class ScoreVendorsResponse(_message.Message):
    __slots__ = ("vendors", "graph_version", "requirements_revision", "as_of")
    VENDORS_FIELD_NUMBER: _ClassVar[int]
    GRAPH_VERSION_FIELD_NUMBER: _ClassVar[int]
    REQUIREMENTS_REVISION_FIELD_NUMBER: _ClassVar[int]
    AS_OF_FIELD_NUMBER: _ClassVar[int]
    vendors: _containers.RepeatedCompositeFieldContainer[VendorNeutrality]
    graph_version: int
    requirements_revision: int
    as_of: str
    def __init__(self, vendors: _Optional[_Iterable[_Union[VendorNeutrality, _Mapping]]] = ..., graph_version: _Optional[int] = ..., requirements_revision: _Optional[int] = ..., as_of: _Optional[str] = ...) -> None: ...

class VendorNeutrality(_message.Message):
    __slots__ = ("vendor", "score", "verdict", "exposures", "ties", "reasons")
    VENDOR_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    VERDICT_FIELD_NUMBER: _ClassVar[int]
    EXPOSURES_FIELD_NUMBER: _ClassVar[int]
    TIES_FIELD_NUMBER: _ClassVar[int]
    REASONS_FIELD_NUMBER: _ClassVar[int]
    vendor: str
    score: int
    verdict: Verdict
    exposures: _containers.RepeatedCompositeFieldContainer[CompetitorExposure]
    ties: _containers.RepeatedCompositeFieldContainer[TieFinding]
    reasons: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, vendor: _Optional[str] = ..., score: _Optional[int] = ..., verdict: _Optional[_Union[Verdict, str]] = ..., exposures: _Optional[_Iterable[_Union[CompetitorExposure, _Mapping]]] = ..., ties: _Optional[_Iterable[_Union[TieFinding, _Mapping]]] = ..., reasons: _Optional[_Iterable[str]] = ...) -> None: ...

class CompetitorExposure(_message.Message):
    __slots__ = ("competitor", "integrated_equity", "integrated_voting", "controls", "undisclosed_stake", "board_seats", "top_chains")
    COMPETITOR_FIELD_NUMBER: _ClassVar[int]
    INTEGRATED_EQUITY_FIELD_NUMBER: _ClassVar[int]
    INTEGRATED_VOTING_FIELD_NUMBER: _ClassVar[int]
    CONTROLS_FIELD_NUMBER: _ClassVar[int]
    UNDISCLOSED_STAKE_FIELD_NUMBER: _ClassVar[int]
    BOARD_SEATS_FIELD_NUMBER: _ClassVar[int]
    TOP_CHAINS_FIELD_NUMBER: _ClassVar[int]
    competitor: str
    integrated_equity: float
    integrated_voting: float
    controls: bool
    undisclosed_stake: bool
    board_seats: int
    top_chains: _containers.RepeatedCompositeFieldContainer[OwnershipChain]
    def __init__(self, competitor: _Optional[str] = ..., integrated_equity: _Optional[float] = ..., integrated_voting: _Optional[float] = ..., controls: _Optional[bool] = ..., undisclosed_stake: _Optional[bool] = ..., board_seats: _Optional[int] = ..., top_chains: _Optional[_Iterable[_Union[OwnershipChain, _Mapping]]] = ...) -> None: ...

class OwnershipChain(_message.Message):
    __slots__ = ("organizations", "equity")
    ORGANIZATIONS_FIELD_NUMBER: _ClassVar[int]
    EQUITY_FIELD_NUMBER: _ClassVar[int]
    organizations: _containers.RepeatedScalarFieldContainer[str]
    equity: float
    def __init__(self, organizations: _Optional[_Iterable[str]] = ..., equity: _Optional[float] = ...) -> None: ...

class TieFinding(_message.Message):
    __slots__ = ("kind", "competitor", "description", "effective_date", "weight", "disqualifying")
    KIND_FIELD_NUMBER: _ClassVar[int]
    COMPETITOR_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    EFFECTIVE_DATE_FIELD_NUMBER: _ClassVar[int]
    WEIGHT_FIELD_NUMBER: _ClassVar[int]
    DISQUALIFYING_FIELD_NUMBER: _ClassVar[int]
    kind: str
    competitor: str
    description: str
    effective_date: str
    weight: float
    disqualifying: bool
    def __init__(self, kind: _Optional[str] = ..., competitor: _Optional[str] = ..., description: _Optional[str] = ..., effective_date: _Optional[str] = ..., weight: _Optional[float] = ..., disqualifying: _Optional[bool] = ...) -> None: ...
