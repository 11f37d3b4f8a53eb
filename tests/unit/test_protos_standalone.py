"""A client in any language builds from ``protos/`` alone.

Every proto under ``protos/`` compiles with nothing on the include path but
``protos/`` and the well-known types every protoc ships; the error details the
servers send (``google.rpc.Status`` in the ``grpc-status-details-bin``
trailer, with ``BadRequest`` and ``ErrorInfo``) are in ``protos/google/rpc``,
field for field what the servers encode with; the field behaviours and resource
annotations the protos use are in ``protos/google/api``, the same as the
googleapis-common-protos modules the generated Python code imports.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from google.api import field_behavior_pb2, resource_pb2
from google.protobuf import descriptor_pb2
from google.protobuf.descriptor import Descriptor
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_tools import protoc

PROTOS = Path(__file__).resolve().parents[2] / "protos"
WELL_KNOWN = Path(protoc.__file__).parent / "_proto"


def _compiled(tmp_path: Path) -> descriptor_pb2.FileDescriptorSet:
    files = sorted(str(p.relative_to(PROTOS)) for p in PROTOS.rglob("*.proto"))
    out = tmp_path / "protos.binpb"
    args = [
        "grpc_tools.protoc",
        f"-I{PROTOS}",
        f"-I{WELL_KNOWN}",
        f"--descriptor_set_out={out}",
        "--include_imports",
        *files,
    ]
    assert protoc.main(args) == 0, "protos/ does not compile on its own"
    return descriptor_pb2.FileDescriptorSet.FromString(out.read_bytes())


def _fields(message: descriptor_pb2.DescriptorProto) -> list[tuple[str, int, int, str]]:
    return [(f.name, f.number, f.type, f.type_name) for f in message.field]


def _messages(
    descriptors: descriptor_pb2.FileDescriptorSet,
) -> dict[str, descriptor_pb2.DescriptorProto]:
    found: dict[str, descriptor_pb2.DescriptorProto] = {}

    def walk(prefix: str, messages: list[descriptor_pb2.DescriptorProto]) -> None:
        for message in messages:
            name = f"{prefix}.{message.name}"
            found[name] = message
            walk(name, list(message.nested_type))

    for file in descriptors.file:
        walk(file.package, list(file.message_type))
    return found


def test_every_proto_compiles_from_protos_alone(tmp_path: Path) -> None:
    names = {f.name for f in _compiled(tmp_path).file}
    assert {
        "google/rpc/status.proto",
        "google/rpc/error_details.proto",
        "google/api/field_behavior.proto",
        "google/api/resource.proto",
    } <= names
    assert any(name.startswith("dpm/catalog/") for name in names)
    # Nothing outside protos/ but protoc's own well-known types was needed.
    assert {n for n in names if not (PROTOS / n).exists()} <= {
        str(p.relative_to(WELL_KNOWN)) for p in WELL_KNOWN.rglob("*.proto")
    }


@pytest.mark.parametrize(
    "served",
    [
        status_pb2.Status.DESCRIPTOR,
        error_details_pb2.BadRequest.DESCRIPTOR,
        error_details_pb2.BadRequest.FieldViolation.DESCRIPTOR,
        error_details_pb2.ErrorInfo.DESCRIPTOR,
        error_details_pb2.RetryInfo.DESCRIPTOR,
        resource_pb2.ResourceDescriptor.DESCRIPTOR,
        resource_pb2.ResourceReference.DESCRIPTOR,
    ],
    ids=lambda d: d.full_name,
)
def test_shipped_error_details_match_what_the_servers_encode(
    tmp_path: Path, served: Descriptor
) -> None:
    shipped = _messages(_compiled(tmp_path))[served.full_name]
    encoded = descriptor_pb2.DescriptorProto()
    served.CopyToProto(encoded)
    assert _fields(shipped) == _fields(encoded)


def test_the_shipped_codes_are_the_grpc_codes(tmp_path: Path) -> None:
    files = {f.name: f for f in _compiled(tmp_path).file}
    (shipped,) = files["google/rpc/code.proto"].enum_type
    assert {v.name: v.number for v in shipped.value} == dict(code_pb2.Code.items())


def test_the_shipped_field_behaviors_are_those_the_generated_code_imports(
    tmp_path: Path,
) -> None:
    files = {f.name: f for f in _compiled(tmp_path).file}
    shipped = files["google/api/field_behavior.proto"]
    (behaviors,) = shipped.enum_type
    assert {v.name: v.number for v in behaviors.value} == dict(
        field_behavior_pb2.FieldBehavior.items()
    )
    (extension,) = shipped.extension
    imported = field_behavior_pb2.field_behavior
    assert (extension.name, extension.number) == (imported.name, imported.number)
