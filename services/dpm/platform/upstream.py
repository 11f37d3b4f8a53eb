"""Calling another dpmatch service: its failures become our domain errors.

A caller never sees a raw upstream traceback or INTERNAL: NOT_FOUND stays
NOT_FOUND, an unreachable or slow upstream becomes UNAVAILABLE naming it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import grpc
from google.protobuf import any_pb2
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from dpm.platform.errors import (
    AlreadyExists,
    DomainError,
    FailedPrecondition,
    FieldViolation,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    Unavailable,
)


@contextmanager
def calling(service: str) -> Iterator[None]:
    try:
        yield
    except grpc.RpcError as exc:
        raise translate(service, exc) from None


def translate(service: str, exc: grpc.RpcError) -> DomainError:
    code = exc.code() if isinstance(exc, grpc.Call) else grpc.StatusCode.UNKNOWN
    details = (exc.details() if isinstance(exc, grpc.Call) else "") or ""
    if code is grpc.StatusCode.NOT_FOUND:
        return NotFound(details)
    if code is grpc.StatusCode.PERMISSION_DENIED:
        return PermissionDenied(details)
    if code is grpc.StatusCode.FAILED_PRECONDITION:
        return FailedPrecondition(details)
    if code is grpc.StatusCode.INVALID_ARGUMENT:
        return InvalidArgument.one(service, details)
    return Unavailable(f"{service} did not answer ({code.name}): {details}", reason="UPSTREAM")


@contextmanager
def relaying(service: str, ours: str, theirs: str) -> Iterator[None]:
    """Call ``service`` with input of our caller's, which it knows as ``theirs`` and our
    caller as ``ours``: its refusals of that input are our caller's refusals, the fields
    renamed ("event.effective_date" -> "what_if.effective_date"); the rest as ``calling``."""
    try:
        yield
    except grpc.RpcError as exc:
        raise relayed(service, exc, ours, theirs) from None


def relayed(service: str, exc: grpc.RpcError, ours: str, theirs: str) -> DomainError:
    code = exc.code() if isinstance(exc, grpc.Call) else grpc.StatusCode.UNKNOWN
    details = (exc.details() if isinstance(exc, grpc.Call) else "") or ""
    if code is grpc.StatusCode.ALREADY_EXISTS:
        return AlreadyExists(details)
    if code is not grpc.StatusCode.INVALID_ARGUMENT:
        return translate(service, exc)
    status = rpc_status.from_call(exc) if isinstance(exc, grpc.Call) else None
    violations: list[FieldViolation] = []
    details_of: list[any_pb2.Any] = list(status.details) if status is not None else []
    for detail in details_of:
        bad = error_details_pb2.BadRequest()
        if detail.Unpack(bad):
            violations += [
                FieldViolation(_renamed(v.field, ours, theirs), v.description)
                for v in bad.field_violations
            ]
    return InvalidArgument(violations) if violations else InvalidArgument.one(ours, details)


def _renamed(field: str, ours: str, theirs: str) -> str:
    if field == theirs or field.startswith((f"{theirs}.", f"{theirs}[")):
        return ours + field[len(theirs) :]
    return field
