from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from typing import ClassVar as _ClassVar

DESCRIPTOR: _descriptor.FileDescriptor

class Modality(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    MODALITY_UNSPECIFIED: _ClassVar[Modality]
    MODALITY_TEXT: _ClassVar[Modality]
    MODALITY_RLHF: _ClassVar[Modality]
    MODALITY_CODE: _ClassVar[Modality]
    MODALITY_IMAGE: _ClassVar[Modality]
    MODALITY_VIDEO: _ClassVar[Modality]
    MODALITY_LIDAR: _ClassVar[Modality]
    MODALITY_AUDIO: _ClassVar[Modality]
    MODALITY_MEDICAL: _ClassVar[Modality]
    MODALITY_MULTILINGUAL: _ClassVar[Modality]
    MODALITY_EXPERT: _ClassVar[Modality]

class Certification(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CERTIFICATION_UNSPECIFIED: _ClassVar[Certification]
    CERTIFICATION_SOC2: _ClassVar[Certification]
    CERTIFICATION_SOC2_TYPE_II: _ClassVar[Certification]
    CERTIFICATION_ISO_27001: _ClassVar[Certification]
    CERTIFICATION_HIPAA: _ClassVar[Certification]
    CERTIFICATION_GDPR: _ClassVar[Certification]
    CERTIFICATION_FEDRAMP: _ClassVar[Certification]
    CERTIFICATION_CCPA: _ClassVar[Certification]
MODALITY_UNSPECIFIED: Modality
MODALITY_TEXT: Modality
MODALITY_RLHF: Modality
MODALITY_CODE: Modality
MODALITY_IMAGE: Modality
MODALITY_VIDEO: Modality
MODALITY_LIDAR: Modality
MODALITY_AUDIO: Modality
MODALITY_MEDICAL: Modality
MODALITY_MULTILINGUAL: Modality
MODALITY_EXPERT: Modality
CERTIFICATION_UNSPECIFIED: Certification
CERTIFICATION_SOC2: Certification
CERTIFICATION_SOC2_TYPE_II: Certification
CERTIFICATION_ISO_27001: Certification
CERTIFICATION_HIPAA: Certification
CERTIFICATION_GDPR: Certification
CERTIFICATION_FEDRAMP: Certification
CERTIFICATION_CCPA: Certification
