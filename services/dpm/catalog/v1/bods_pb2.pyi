from dpm.catalog.v1 import catalog_pb2 as _catalog_pb2
from google.api import field_behavior_pb2 as _field_behavior_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ImportBodsStatementsRequest(_message.Message):
    __slots__ = ("statements", "source_name", "validate_only")
    STATEMENTS_FIELD_NUMBER: _ClassVar[int]
    SOURCE_NAME_FIELD_NUMBER: _ClassVar[int]
    VALIDATE_ONLY_FIELD_NUMBER: _ClassVar[int]
    statements: _containers.RepeatedScalarFieldContainer[str]
    source_name: str
    validate_only: bool
    def __init__(self, statements: _Optional[_Iterable[str]] = ..., source_name: _Optional[str] = ..., validate_only: _Optional[bool] = ...) -> None: ...

class ImportBodsStatementsResponse(_message.Message):
    __slots__ = ("statements_received", "statements_imported", "statements_unchanged", "statements_without_effect", "indirect_summaries_skipped", "organizations_created", "persons_created", "organizations_updated", "events_recorded", "errors", "graph_version", "created", "validate_only")
    STATEMENTS_RECEIVED_FIELD_NUMBER: _ClassVar[int]
    STATEMENTS_IMPORTED_FIELD_NUMBER: _ClassVar[int]
    STATEMENTS_UNCHANGED_FIELD_NUMBER: _ClassVar[int]
    STATEMENTS_WITHOUT_EFFECT_FIELD_NUMBER: _ClassVar[int]
    INDIRECT_SUMMARIES_SKIPPED_FIELD_NUMBER: _ClassVar[int]
    ORGANIZATIONS_CREATED_FIELD_NUMBER: _ClassVar[int]
    PERSONS_CREATED_FIELD_NUMBER: _ClassVar[int]
    ORGANIZATIONS_UPDATED_FIELD_NUMBER: _ClassVar[int]
    EVENTS_RECORDED_FIELD_NUMBER: _ClassVar[int]
    ERRORS_FIELD_NUMBER: _ClassVar[int]
    GRAPH_VERSION_FIELD_NUMBER: _ClassVar[int]
    CREATED_FIELD_NUMBER: _ClassVar[int]
    VALIDATE_ONLY_FIELD_NUMBER: _ClassVar[int]
    statements_received: int
    statements_imported: int
    statements_unchanged: int
    statements_without_effect: int
    indirect_summaries_skipped: int
    organizations_created: int
    persons_created: int
    organizations_updated: int
    events_recorded: int
    errors: _containers.RepeatedCompositeFieldContainer[StatementError]
    graph_version: int
    created: _containers.RepeatedCompositeFieldContainer[ImportedParty]
    validate_only: bool
    def __init__(self, statements_received: _Optional[int] = ..., statements_imported: _Optional[int] = ..., statements_unchanged: _Optional[int] = ..., statements_without_effect: _Optional[int] = ..., indirect_summaries_skipped: _Optional[int] = ..., organizations_created: _Optional[int] = ..., persons_created: _Optional[int] = ..., organizations_updated: _Optional[int] = ..., events_recorded: _Optional[int] = ..., errors: _Optional[_Iterable[_Union[StatementError, _Mapping]]] = ..., graph_version: _Optional[int] = ..., created: _Optional[_Iterable[_Union[ImportedParty, _Mapping]]] = ..., validate_only: _Optional[bool] = ...) -> None: ...

class StatementError(_message.Message):
    __slots__ = ("statement_id", "index", "field", "reason")
    STATEMENT_ID_FIELD_NUMBER: _ClassVar[int]
    INDEX_FIELD_NUMBER: _ClassVar[int]
    FIELD_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    statement_id: str
    index: int
    field: str
    reason: str
    def __init__(self, statement_id: _Optional[str] = ..., index: _Optional[int] = ..., field: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class ImportedParty(_message.Message):
    __slots__ = ("name", "display_name", "kind")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    name: str
    display_name: str
    kind: _catalog_pb2.OrganizationKind
    def __init__(self, name: _Optional[str] = ..., display_name: _Optional[str] = ..., kind: _Optional[_Union[_catalog_pb2.OrganizationKind, str]] = ...) -> None: ...

class ExportBodsStatementsRequest(_message.Message):
    __slots__ = ("as_of",)
    AS_OF_FIELD_NUMBER: _ClassVar[int]
    as_of: str
    def __init__(self, as_of: _Optional[str] = ...) -> None: ...

class ExportBodsStatementsResponse(_message.Message):
    __slots__ = ("statements", "graph_version", "as_of")
    STATEMENTS_FIELD_NUMBER: _ClassVar[int]
    GRAPH_VERSION_FIELD_NUMBER: _ClassVar[int]
    AS_OF_FIELD_NUMBER: _ClassVar[int]
    statements: _containers.RepeatedScalarFieldContainer[str]
    graph_version: int
    as_of: str
    def __init__(self, statements: _Optional[_Iterable[str]] = ..., graph_version: _Optional[int] = ..., as_of: _Optional[str] = ...) -> None: ...
