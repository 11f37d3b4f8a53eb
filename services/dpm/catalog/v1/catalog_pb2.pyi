import datetime

from dpm.common.v1 import common_pb2 as _common_pb2
from dpm.ownership.v1 import ownership_pb2 as _ownership_pb2
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

class OrganizationKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ORGANIZATION_KIND_UNSPECIFIED: _ClassVar[OrganizationKind]
    ORGANIZATION_KIND_VENDOR: _ClassVar[OrganizationKind]
    ORGANIZATION_KIND_LAB: _ClassVar[OrganizationKind]
    ORGANIZATION_KIND_INVESTOR: _ClassVar[OrganizationKind]
    ORGANIZATION_KIND_PARENT: _ClassVar[OrganizationKind]
    ORGANIZATION_KIND_PERSON: _ClassVar[OrganizationKind]

class ServiceModel(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SERVICE_MODEL_UNSPECIFIED: _ClassVar[ServiceModel]
    SERVICE_MODEL_PLATFORM: _ClassVar[ServiceModel]
    SERVICE_MODEL_MANAGED_WORKFORCE: _ClassVar[ServiceModel]
    SERVICE_MODEL_MARKETPLACE: _ClassVar[ServiceModel]
    SERVICE_MODEL_HYBRID: _ClassVar[ServiceModel]
ORGANIZATION_KIND_UNSPECIFIED: OrganizationKind
ORGANIZATION_KIND_VENDOR: OrganizationKind
ORGANIZATION_KIND_LAB: OrganizationKind
ORGANIZATION_KIND_INVESTOR: OrganizationKind
ORGANIZATION_KIND_PARENT: OrganizationKind
ORGANIZATION_KIND_PERSON: OrganizationKind
SERVICE_MODEL_UNSPECIFIED: ServiceModel
SERVICE_MODEL_PLATFORM: ServiceModel
SERVICE_MODEL_MANAGED_WORKFORCE: ServiceModel
SERVICE_MODEL_MARKETPLACE: ServiceModel
SERVICE_MODEL_HYBRID: ServiceModel

class Organization(_message.Message):
    __slots__ = ("name", "display_name", "kind", "country", "source_urls", "create_time", "update_time")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    COUNTRY_FIELD_NUMBER: _ClassVar[int]
    SOURCE_URLS_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    name: str
    display_name: str
    kind: OrganizationKind
    country: str
    source_urls: _containers.RepeatedScalarFieldContainer[str]
    create_time: _timestamp_pb2.Timestamp
    update_time: _timestamp_pb2.Timestamp
    def __init__(self, name: _Optional[str] = ..., display_name: _Optional[str] = ..., kind: _Optional[_Union[OrganizationKind, str]] = ..., country: _Optional[str] = ..., source_urls: _Optional[_Iterable[str]] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class CreateOrganizationRequest(_message.Message):
    __slots__ = ("organization_id", "organization")
    ORGANIZATION_ID_FIELD_NUMBER: _ClassVar[int]
    ORGANIZATION_FIELD_NUMBER: _ClassVar[int]
    organization_id: str
    organization: Organization
    def __init__(self, organization_id: _Optional[str] = ..., organization: _Optional[_Union[Organization, _Mapping]] = ...) -> None: ...

class GetOrganizationRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class ListOrganizationsRequest(_message.Message):
    __slots__ = ("page_size", "page_token", "kind")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    kind: OrganizationKind
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., kind: _Optional[_Union[OrganizationKind, str]] = ...) -> None: ...

class ListOrganizationsResponse(_message.Message):
    __slots__ = ("organizations", "next_page_token")
    ORGANIZATIONS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    organizations: _containers.RepeatedCompositeFieldContainer[Organization]
    next_page_token: str
    def __init__(self, organizations: _Optional[_Iterable[_Union[Organization, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class UpdateOrganizationRequest(_message.Message):
    __slots__ = ("organization", "update_mask")
    ORGANIZATION_FIELD_NUMBER: _ClassVar[int]
    UPDATE_MASK_FIELD_NUMBER: _ClassVar[int]
    organization: Organization
    update_mask: _field_mask_pb2.FieldMask
    def __init__(self, organization: _Optional[_Union[Organization, _Mapping]] = ..., update_mask: _Optional[_Union[_field_mask_pb2.FieldMask, _Mapping]] = ...) -> None: ...

class Capability(_message.Message):
    __slots__ = ("modality", "monthly_capacity", "quality", "unit_price_usd")
    MODALITY_FIELD_NUMBER: _ClassVar[int]
    MONTHLY_CAPACITY_FIELD_NUMBER: _ClassVar[int]
    QUALITY_FIELD_NUMBER: _ClassVar[int]
    UNIT_PRICE_USD_FIELD_NUMBER: _ClassVar[int]
    modality: _common_pb2.Modality
    monthly_capacity: int
    quality: float
    unit_price_usd: float
    def __init__(self, modality: _Optional[_Union[_common_pb2.Modality, str]] = ..., monthly_capacity: _Optional[int] = ..., quality: _Optional[float] = ..., unit_price_usd: _Optional[float] = ...) -> None: ...

class VendorProfile(_message.Message):
    __slots__ = ("name", "service_model", "capabilities", "certifications", "workforce_regions", "data_residency_regions", "security_clearance", "update_time", "catalog_version", "display_name")
    NAME_FIELD_NUMBER: _ClassVar[int]
    SERVICE_MODEL_FIELD_NUMBER: _ClassVar[int]
    CAPABILITIES_FIELD_NUMBER: _ClassVar[int]
    CERTIFICATIONS_FIELD_NUMBER: _ClassVar[int]
    WORKFORCE_REGIONS_FIELD_NUMBER: _ClassVar[int]
    DATA_RESIDENCY_REGIONS_FIELD_NUMBER: _ClassVar[int]
    SECURITY_CLEARANCE_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    CATALOG_VERSION_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    service_model: ServiceModel
    capabilities: _containers.RepeatedCompositeFieldContainer[Capability]
    certifications: _containers.RepeatedScalarFieldContainer[_common_pb2.Certification]
    workforce_regions: _containers.RepeatedScalarFieldContainer[str]
    data_residency_regions: _containers.RepeatedScalarFieldContainer[str]
    security_clearance: bool
    update_time: _timestamp_pb2.Timestamp
    catalog_version: int
    display_name: str
    def __init__(self, name: _Optional[str] = ..., service_model: _Optional[_Union[ServiceModel, str]] = ..., capabilities: _Optional[_Iterable[_Union[Capability, _Mapping]]] = ..., certifications: _Optional[_Iterable[_Union[_common_pb2.Certification, str]]] = ..., workforce_regions: _Optional[_Iterable[str]] = ..., data_residency_regions: _Optional[_Iterable[str]] = ..., security_clearance: _Optional[bool] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., catalog_version: _Optional[int] = ..., display_name: _Optional[str] = ...) -> None: ...

class GetVendorProfileRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class ListVendorProfilesRequest(_message.Message):
    __slots__ = ("page_size", "page_token", "known_catalog_version", "filter")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    KNOWN_CATALOG_VERSION_FIELD_NUMBER: _ClassVar[int]
    FILTER_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    known_catalog_version: int
    filter: VendorProfileFilter
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., known_catalog_version: _Optional[int] = ..., filter: _Optional[_Union[VendorProfileFilter, _Mapping]] = ...) -> None: ...

class VendorProfileFilter(_message.Message):
    __slots__ = ("modalities", "certifications", "workforce_regions", "data_residency_regions", "service_models", "security_clearance")
    MODALITIES_FIELD_NUMBER: _ClassVar[int]
    CERTIFICATIONS_FIELD_NUMBER: _ClassVar[int]
    WORKFORCE_REGIONS_FIELD_NUMBER: _ClassVar[int]
    DATA_RESIDENCY_REGIONS_FIELD_NUMBER: _ClassVar[int]
    SERVICE_MODELS_FIELD_NUMBER: _ClassVar[int]
    SECURITY_CLEARANCE_FIELD_NUMBER: _ClassVar[int]
    modalities: _containers.RepeatedScalarFieldContainer[_common_pb2.Modality]
    certifications: _containers.RepeatedScalarFieldContainer[_common_pb2.Certification]
    workforce_regions: _containers.RepeatedScalarFieldContainer[str]
    data_residency_regions: _containers.RepeatedScalarFieldContainer[str]
    service_models: _containers.RepeatedScalarFieldContainer[ServiceModel]
    security_clearance: bool
    def __init__(self, modalities: _Optional[_Iterable[_Union[_common_pb2.Modality, str]]] = ..., certifications: _Optional[_Iterable[_Union[_common_pb2.Certification, str]]] = ..., workforce_regions: _Optional[_Iterable[str]] = ..., data_residency_regions: _Optional[_Iterable[str]] = ..., service_models: _Optional[_Iterable[_Union[ServiceModel, str]]] = ..., security_clearance: _Optional[bool] = ...) -> None: ...

class ListVendorProfilesResponse(_message.Message):
    __slots__ = ("vendor_profiles", "next_page_token", "catalog_version", "not_modified")
    VENDOR_PROFILES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    CATALOG_VERSION_FIELD_NUMBER: _ClassVar[int]
    NOT_MODIFIED_FIELD_NUMBER: _ClassVar[int]
    vendor_profiles: _containers.RepeatedCompositeFieldContainer[VendorProfile]
    next_page_token: str
    catalog_version: int
    not_modified: bool
    def __init__(self, vendor_profiles: _Optional[_Iterable[_Union[VendorProfile, _Mapping]]] = ..., next_page_token: _Optional[str] = ..., catalog_version: _Optional[int] = ..., not_modified: _Optional[bool] = ...) -> None: ...

class UpdateVendorProfileRequest(_message.Message):
    __slots__ = ("vendor_profile", "update_mask", "allow_missing")
    VENDOR_PROFILE_FIELD_NUMBER: _ClassVar[int]
    UPDATE_MASK_FIELD_NUMBER: _ClassVar[int]
    ALLOW_MISSING_FIELD_NUMBER: _ClassVar[int]
    vendor_profile: VendorProfile
    update_mask: _field_mask_pb2.FieldMask
    allow_missing: bool
    def __init__(self, vendor_profile: _Optional[_Union[VendorProfile, _Mapping]] = ..., update_mask: _Optional[_Union[_field_mask_pb2.FieldMask, _Mapping]] = ..., allow_missing: _Optional[bool] = ...) -> None: ...

class RecordOwnershipEventRequest(_message.Message):
    __slots__ = ("event",)
    EVENT_FIELD_NUMBER: _ClassVar[int]
    event: _ownership_pb2.OwnershipEvent
    def __init__(self, event: _Optional[_Union[_ownership_pb2.OwnershipEvent, _Mapping]] = ...) -> None: ...

class SimulateOwnershipEventRequest(_message.Message):
    __slots__ = ("event", "as_of", "if_none_match", "accept_delta", "skip_graph")
    EVENT_FIELD_NUMBER: _ClassVar[int]
    AS_OF_FIELD_NUMBER: _ClassVar[int]
    IF_NONE_MATCH_FIELD_NUMBER: _ClassVar[int]
    ACCEPT_DELTA_FIELD_NUMBER: _ClassVar[int]
    SKIP_GRAPH_FIELD_NUMBER: _ClassVar[int]
    event: _ownership_pb2.OwnershipEvent
    as_of: str
    if_none_match: str
    accept_delta: bool
    skip_graph: bool
    def __init__(self, event: _Optional[_Union[_ownership_pb2.OwnershipEvent, _Mapping]] = ..., as_of: _Optional[str] = ..., if_none_match: _Optional[str] = ..., accept_delta: _Optional[bool] = ..., skip_graph: _Optional[bool] = ...) -> None: ...

class SimulateOwnershipEventResponse(_message.Message):
    __slots__ = ("event", "would_change", "graph", "upstream")
    EVENT_FIELD_NUMBER: _ClassVar[int]
    WOULD_CHANGE_FIELD_NUMBER: _ClassVar[int]
    GRAPH_FIELD_NUMBER: _ClassVar[int]
    UPSTREAM_FIELD_NUMBER: _ClassVar[int]
    event: _ownership_pb2.OwnershipEvent
    would_change: bool
    graph: _ownership_pb2.OwnershipGraph
    upstream: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, event: _Optional[_Union[_ownership_pb2.OwnershipEvent, _Mapping]] = ..., would_change: _Optional[bool] = ..., graph: _Optional[_Union[_ownership_pb2.OwnershipGraph, _Mapping]] = ..., upstream: _Optional[_Iterable[str]] = ...) -> None: ...

class GetOwnershipEventRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class ListOwnershipEventsRequest(_message.Message):
    __slots__ = ("page_size", "page_token", "organization")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    ORGANIZATION_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    organization: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., organization: _Optional[str] = ...) -> None: ...

class ListOwnershipEventsResponse(_message.Message):
    __slots__ = ("events", "next_page_token")
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    events: _containers.RepeatedCompositeFieldContainer[_ownership_pb2.OwnershipEvent]
    next_page_token: str
    def __init__(self, events: _Optional[_Iterable[_Union[_ownership_pb2.OwnershipEvent, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class ExportOwnershipGraphRequest(_message.Message):
    __slots__ = ("as_of", "if_none_match", "as_known_at", "accept_delta")
    AS_OF_FIELD_NUMBER: _ClassVar[int]
    IF_NONE_MATCH_FIELD_NUMBER: _ClassVar[int]
    AS_KNOWN_AT_FIELD_NUMBER: _ClassVar[int]
    ACCEPT_DELTA_FIELD_NUMBER: _ClassVar[int]
    as_of: str
    if_none_match: str
    as_known_at: _timestamp_pb2.Timestamp
    accept_delta: bool
    def __init__(self, as_of: _Optional[str] = ..., if_none_match: _Optional[str] = ..., as_known_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., accept_delta: _Optional[bool] = ...) -> None: ...
