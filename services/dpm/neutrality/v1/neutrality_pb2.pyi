from dpm.ownership.v1 import ownership_pb2 as _ownership_pb2
from dpm.requirements.v1 import requirements_pb2 as _requirements_pb2
from google.api import field_behavior_pb2 as _field_behavior_pb2
from google.api import resource_pb2 as _resource_pb2
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

class ScorePolicyRequest(_message.Message):
    __slots__ = ("policy", "vendors", "as_of", "min_graph_version", "verdicts_only", "if_none_match", "what_if")
    POLICY_FIELD_NUMBER: _ClassVar[int]
    VENDORS_FIELD_NUMBER: _ClassVar[int]
    AS_OF_FIELD_NUMBER: _ClassVar[int]
    MIN_GRAPH_VERSION_FIELD_NUMBER: _ClassVar[int]
    VERDICTS_ONLY_FIELD_NUMBER: _ClassVar[int]
    IF_NONE_MATCH_FIELD_NUMBER: _ClassVar[int]
    WHAT_IF_FIELD_NUMBER: _ClassVar[int]
    policy: _requirements_pb2.NeutralityPolicy
    vendors: _containers.RepeatedScalarFieldContainer[str]
    as_of: str
    min_graph_version: int
    verdicts_only: bool
    if_none_match: str
    what_if: _ownership_pb2.OwnershipEvent
    def __init__(self, policy: _Optional[_Union[_requirements_pb2.NeutralityPolicy, _Mapping]] = ..., vendors: _Optional[_Iterable[str]] = ..., as_of: _Optional[str] = ..., min_graph_version: _Optional[int] = ..., verdicts_only: _Optional[bool] = ..., if_none_match: _Optional[str] = ..., what_if: _Optional[_Union[_ownership_pb2.OwnershipEvent, _Mapping]] = ...) -> None: ...

class ScoreVendorsResponse(_message.Message):
    __slots__ = ("vendors", "graph_version", "requirements_revision", "as_of", "unresolved_parties", "etag", "not_modified")
    VENDORS_FIELD_NUMBER: _ClassVar[int]
    GRAPH_VERSION_FIELD_NUMBER: _ClassVar[int]
    REQUIREMENTS_REVISION_FIELD_NUMBER: _ClassVar[int]
    AS_OF_FIELD_NUMBER: _ClassVar[int]
    UNRESOLVED_PARTIES_FIELD_NUMBER: _ClassVar[int]
    ETAG_FIELD_NUMBER: _ClassVar[int]
    NOT_MODIFIED_FIELD_NUMBER: _ClassVar[int]
    vendors: _containers.RepeatedCompositeFieldContainer[VendorNeutrality]
    graph_version: int
    requirements_revision: int
    as_of: str
    unresolved_parties: _containers.RepeatedScalarFieldContainer[str]
    etag: str
    not_modified: bool
    def __init__(self, vendors: _Optional[_Iterable[_Union[VendorNeutrality, _Mapping]]] = ..., graph_version: _Optional[int] = ..., requirements_revision: _Optional[int] = ..., as_of: _Optional[str] = ..., unresolved_parties: _Optional[_Iterable[str]] = ..., etag: _Optional[str] = ..., not_modified: _Optional[bool] = ...) -> None: ...

class VendorNeutrality(_message.Message):
    __slots__ = ("vendor", "score", "verdict", "exposures", "ties", "reasons", "unknown_ownership", "restricted_parties", "graph_problems", "ultimate_owner")
    VENDOR_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    VERDICT_FIELD_NUMBER: _ClassVar[int]
    EXPOSURES_FIELD_NUMBER: _ClassVar[int]
    TIES_FIELD_NUMBER: _ClassVar[int]
    REASONS_FIELD_NUMBER: _ClassVar[int]
    UNKNOWN_OWNERSHIP_FIELD_NUMBER: _ClassVar[int]
    RESTRICTED_PARTIES_FIELD_NUMBER: _ClassVar[int]
    GRAPH_PROBLEMS_FIELD_NUMBER: _ClassVar[int]
    ULTIMATE_OWNER_FIELD_NUMBER: _ClassVar[int]
    vendor: str
    score: int
    verdict: Verdict
    exposures: _containers.RepeatedCompositeFieldContainer[CompetitorExposure]
    ties: _containers.RepeatedCompositeFieldContainer[TieFinding]
    reasons: _containers.RepeatedScalarFieldContainer[str]
    unknown_ownership: Figure
    restricted_parties: RestrictedPartyFinding
    graph_problems: _containers.RepeatedCompositeFieldContainer[GraphProblem]
    ultimate_owner: str
    def __init__(self, vendor: _Optional[str] = ..., score: _Optional[int] = ..., verdict: _Optional[_Union[Verdict, str]] = ..., exposures: _Optional[_Iterable[_Union[CompetitorExposure, _Mapping]]] = ..., ties: _Optional[_Iterable[_Union[TieFinding, _Mapping]]] = ..., reasons: _Optional[_Iterable[str]] = ..., unknown_ownership: _Optional[_Union[Figure, _Mapping]] = ..., restricted_parties: _Optional[_Union[RestrictedPartyFinding, _Mapping]] = ..., graph_problems: _Optional[_Iterable[_Union[GraphProblem, _Mapping]]] = ..., ultimate_owner: _Optional[str] = ...) -> None: ...

class Figure(_message.Message):
    __slots__ = ("value", "lower", "upper")
    VALUE_FIELD_NUMBER: _ClassVar[int]
    LOWER_FIELD_NUMBER: _ClassVar[int]
    UPPER_FIELD_NUMBER: _ClassVar[int]
    value: float
    lower: float
    upper: float
    def __init__(self, value: _Optional[float] = ..., lower: _Optional[float] = ..., upper: _Optional[float] = ...) -> None: ...

class CompetitorExposure(_message.Message):
    __slots__ = ("competitor", "controls", "undisclosed_stake", "board_seats", "top_chains", "look_through_equity", "look_through_votes", "directed_votes", "control_path", "weakest_link", "wedge", "voting_power", "is_competitor", "could_control")
    COMPETITOR_FIELD_NUMBER: _ClassVar[int]
    CONTROLS_FIELD_NUMBER: _ClassVar[int]
    UNDISCLOSED_STAKE_FIELD_NUMBER: _ClassVar[int]
    BOARD_SEATS_FIELD_NUMBER: _ClassVar[int]
    TOP_CHAINS_FIELD_NUMBER: _ClassVar[int]
    LOOK_THROUGH_EQUITY_FIELD_NUMBER: _ClassVar[int]
    LOOK_THROUGH_VOTES_FIELD_NUMBER: _ClassVar[int]
    DIRECTED_VOTES_FIELD_NUMBER: _ClassVar[int]
    CONTROL_PATH_FIELD_NUMBER: _ClassVar[int]
    WEAKEST_LINK_FIELD_NUMBER: _ClassVar[int]
    WEDGE_FIELD_NUMBER: _ClassVar[int]
    VOTING_POWER_FIELD_NUMBER: _ClassVar[int]
    IS_COMPETITOR_FIELD_NUMBER: _ClassVar[int]
    COULD_CONTROL_FIELD_NUMBER: _ClassVar[int]
    competitor: str
    controls: bool
    undisclosed_stake: bool
    board_seats: int
    top_chains: _containers.RepeatedCompositeFieldContainer[OwnershipChain]
    look_through_equity: Figure
    look_through_votes: Figure
    directed_votes: Figure
    control_path: _containers.RepeatedScalarFieldContainer[str]
    weakest_link: Figure
    wedge: float
    voting_power: VotingPower
    is_competitor: bool
    could_control: bool
    def __init__(self, competitor: _Optional[str] = ..., controls: _Optional[bool] = ..., undisclosed_stake: _Optional[bool] = ..., board_seats: _Optional[int] = ..., top_chains: _Optional[_Iterable[_Union[OwnershipChain, _Mapping]]] = ..., look_through_equity: _Optional[_Union[Figure, _Mapping]] = ..., look_through_votes: _Optional[_Union[Figure, _Mapping]] = ..., directed_votes: _Optional[_Union[Figure, _Mapping]] = ..., control_path: _Optional[_Iterable[str]] = ..., weakest_link: _Optional[_Union[Figure, _Mapping]] = ..., wedge: _Optional[float] = ..., voting_power: _Optional[_Union[VotingPower, _Mapping]] = ..., is_competitor: _Optional[bool] = ..., could_control: _Optional[bool] = ...) -> None: ...

class VotingPower(_message.Message):
    __slots__ = ("banzhaf_index", "other_holders")
    BANZHAF_INDEX_FIELD_NUMBER: _ClassVar[int]
    OTHER_HOLDERS_FIELD_NUMBER: _ClassVar[int]
    banzhaf_index: Figure
    other_holders: int
    def __init__(self, banzhaf_index: _Optional[_Union[Figure, _Mapping]] = ..., other_holders: _Optional[int] = ...) -> None: ...

class OwnershipChain(_message.Message):
    __slots__ = ("organizations", "equity", "weakest_link", "links")
    ORGANIZATIONS_FIELD_NUMBER: _ClassVar[int]
    EQUITY_FIELD_NUMBER: _ClassVar[int]
    WEAKEST_LINK_FIELD_NUMBER: _ClassVar[int]
    LINKS_FIELD_NUMBER: _ClassVar[int]
    organizations: _containers.RepeatedScalarFieldContainer[str]
    equity: float
    weakest_link: float
    links: _containers.RepeatedCompositeFieldContainer[ChainLink]
    def __init__(self, organizations: _Optional[_Iterable[str]] = ..., equity: _Optional[float] = ..., weakest_link: _Optional[float] = ..., links: _Optional[_Iterable[_Union[ChainLink, _Mapping]]] = ...) -> None: ...

class ChainLink(_message.Message):
    __slots__ = ("holder", "held", "equity", "votes", "undisclosed", "source_url", "provenance")
    HOLDER_FIELD_NUMBER: _ClassVar[int]
    HELD_FIELD_NUMBER: _ClassVar[int]
    EQUITY_FIELD_NUMBER: _ClassVar[int]
    VOTES_FIELD_NUMBER: _ClassVar[int]
    UNDISCLOSED_FIELD_NUMBER: _ClassVar[int]
    SOURCE_URL_FIELD_NUMBER: _ClassVar[int]
    PROVENANCE_FIELD_NUMBER: _ClassVar[int]
    holder: str
    held: str
    equity: Figure
    votes: Figure
    undisclosed: bool
    source_url: str
    provenance: _ownership_pb2.Provenance
    def __init__(self, holder: _Optional[str] = ..., held: _Optional[str] = ..., equity: _Optional[_Union[Figure, _Mapping]] = ..., votes: _Optional[_Union[Figure, _Mapping]] = ..., undisclosed: _Optional[bool] = ..., source_url: _Optional[str] = ..., provenance: _Optional[_Union[_ownership_pb2.Provenance, _Mapping]] = ...) -> None: ...

class RestrictedPartyFinding(_message.Message):
    __slots__ = ("blocked", "named", "aggregate_blocked_share", "blocked_holders", "could_be_blocked")
    BLOCKED_FIELD_NUMBER: _ClassVar[int]
    NAMED_FIELD_NUMBER: _ClassVar[int]
    AGGREGATE_BLOCKED_SHARE_FIELD_NUMBER: _ClassVar[int]
    BLOCKED_HOLDERS_FIELD_NUMBER: _ClassVar[int]
    COULD_BE_BLOCKED_FIELD_NUMBER: _ClassVar[int]
    blocked: bool
    named: bool
    aggregate_blocked_share: Figure
    blocked_holders: _containers.RepeatedScalarFieldContainer[str]
    could_be_blocked: bool
    def __init__(self, blocked: _Optional[bool] = ..., named: _Optional[bool] = ..., aggregate_blocked_share: _Optional[_Union[Figure, _Mapping]] = ..., blocked_holders: _Optional[_Iterable[str]] = ..., could_be_blocked: _Optional[bool] = ...) -> None: ...

class GraphProblem(_message.Message):
    __slots__ = ("organizations", "description")
    ORGANIZATIONS_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    organizations: _containers.RepeatedScalarFieldContainer[str]
    description: str
    def __init__(self, organizations: _Optional[_Iterable[str]] = ..., description: _Optional[str] = ...) -> None: ...

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
