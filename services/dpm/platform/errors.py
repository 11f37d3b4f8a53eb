"""Domain errors and their mapping to rich gRPC statuses.

Domain code raises these; the server interceptor (``dpm.platform.interceptors``)
turns them into a ``google.rpc.Status`` with ``ErrorInfo`` and, for bad input,
``BadRequest`` field violations. Nothing else ever reaches a caller.
"""

from __future__ import annotations

from dataclasses import dataclass

import grpc
from google.protobuf import any_pb2
from google.rpc import error_details_pb2, status_pb2

ERROR_DOMAIN = "dpmatch.dev"
# Longest error message a caller gets (violations are bounded separately, below).
MAX_MESSAGE_CHARS = 2000


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass(frozen=True)
class FieldViolation:
    field: str
    description: str


class DomainError(Exception):
    """Base of every error a caller is meant to see."""

    code: grpc.StatusCode = grpc.StatusCode.FAILED_PRECONDITION
    reason: str = "FAILED_PRECONDITION"

    def __init__(self, message: str, *, reason: str | None = None) -> None:
        message = _clip(message, MAX_MESSAGE_CHARS)
        super().__init__(message)
        self.message = message
        if reason:
            self.reason = reason

    def details(self) -> list[any_pb2.Any]:
        info = any_pb2.Any()
        info.Pack(error_details_pb2.ErrorInfo(reason=self.reason, domain=ERROR_DOMAIN))
        return [info]

    def to_status(self) -> status_pb2.Status:
        return status_pb2.Status(
            code=self.code.value[0], message=self.message, details=self.details()
        )


# An error names at most this many fields, each in at most these many
# characters: a hostile request cannot make an error larger than a default
# client accepts (its trailer would otherwise echo the whole input).
MAX_VIOLATIONS = 20
MAX_FIELD_CHARS = 200
MAX_DESCRIPTION_CHARS = 400


def bounded(violations: list[FieldViolation], uncounted: int = 0) -> list[FieldViolation]:
    """The first MAX_VIOLATIONS violations, clipped, plus one line counting the rest
    (``uncounted`` more were dropped before they got here)."""
    shown = [
        FieldViolation(_clip(v.field, MAX_FIELD_CHARS), _clip(v.description, MAX_DESCRIPTION_CHARS))
        for v in violations[:MAX_VIOLATIONS]
    ]
    more = max(len(violations) - MAX_VIOLATIONS, 0) + uncounted
    if more:
        shown.append(FieldViolation("", f"and {more} more violations not shown"))
    return shown


class InvalidArgument(DomainError):
    code = grpc.StatusCode.INVALID_ARGUMENT
    reason = "INVALID_ARGUMENT"

    def __init__(
        self, violations: list[FieldViolation], *, reason: str | None = None, uncounted: int = 0
    ) -> None:
        if not violations:
            raise ValueError("InvalidArgument needs at least one field violation")
        violations = bounded(violations, uncounted)
        message = "; ".join(f"{v.field}: {v.description}" for v in violations)
        super().__init__(message, reason=reason)
        self.violations = violations

    @classmethod
    def one(cls, field: str, description: str) -> InvalidArgument:
        return cls([FieldViolation(field, description)])

    def details(self) -> list[any_pb2.Any]:
        bad_request = any_pb2.Any()
        bad_request.Pack(
            error_details_pb2.BadRequest(
                field_violations=[
                    error_details_pb2.BadRequest.FieldViolation(
                        field=v.field, description=v.description
                    )
                    for v in self.violations
                ]
            )
        )
        return [*super().details(), bad_request]


class NotFound(DomainError):
    code = grpc.StatusCode.NOT_FOUND
    reason = "NOT_FOUND"


class AlreadyExists(DomainError):
    code = grpc.StatusCode.ALREADY_EXISTS
    reason = "ALREADY_EXISTS"


class FailedPrecondition(DomainError):
    code = grpc.StatusCode.FAILED_PRECONDITION
    reason = "FAILED_PRECONDITION"


class Aborted(DomainError):
    """A concurrent change won; the caller may retry."""

    code = grpc.StatusCode.ABORTED
    reason = "ABORTED"


class PermissionDenied(DomainError):
    code = grpc.StatusCode.PERMISSION_DENIED
    reason = "PERMISSION_DENIED"


class Unauthenticated(DomainError):
    code = grpc.StatusCode.UNAUTHENTICATED
    reason = "UNAUTHENTICATED"


class ResourceExhausted(DomainError):
    """A limit was reached (the message names it); the caller may retry later."""

    code = grpc.StatusCode.RESOURCE_EXHAUSTED
    reason = "RESOURCE_EXHAUSTED"


class Unavailable(DomainError):
    code = grpc.StatusCode.UNAVAILABLE
    reason = "UNAVAILABLE"


class DeadlineExceeded(DomainError):
    code = grpc.StatusCode.DEADLINE_EXCEEDED
    reason = "DEADLINE_EXCEEDED"


class Violations:
    """Collects field violations so one error can name every bad field.

    v = Violations()
    v.check(0 <= x <= 1, "event.stake_acquired.equity_fraction", "must be in [0, 1]")
    v.raise_if_any()
    """

    def __init__(self) -> None:
        self.items: list[FieldViolation] = []
        # Violations past MAX_VIOLATIONS are only counted (a hostile list can be long).
        self.dropped = 0

    def add(self, field: str, description: str) -> None:
        if len(self.items) < MAX_VIOLATIONS:
            self.items.append(FieldViolation(field, description))
        else:
            self.dropped += 1

    def check(self, ok: bool, field: str, description: str) -> bool:
        if not ok:
            self.add(field, description)
        return ok

    def raise_if_any(self) -> None:
        if self.items:
            raise InvalidArgument(self.items, uncounted=self.dropped)
