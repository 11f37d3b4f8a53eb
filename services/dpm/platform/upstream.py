"""Calling another dpmatch service: its failures become our domain errors.

A caller never sees a raw upstream traceback or INTERNAL: NOT_FOUND stays
NOT_FOUND, an unreachable or slow upstream becomes UNAVAILABLE naming it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import grpc

from dpm.platform.errors import (
    DomainError,
    FailedPrecondition,
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
