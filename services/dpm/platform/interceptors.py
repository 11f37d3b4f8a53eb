"""Server interceptors: authentication, the mapping of errors to statuses, the audit log.

The wrapping happens inside the method handler, so it runs on the thread that
serves the call: the principal set there is what the servicer reads. Every
call but health and reflection needs a bearer token the ``auth.Verifier``
accepts (signature, expiry, revocation list); a plaintext server reachable
from other hosts refuses tokens those hosts send (``dpm.platform.tls``). Every
call of an audited method, accepted or refused, is recorded in the audit log
(``dpm.platform.audit``): with the change it commits, or once it has ended.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, nullcontext
from typing import Any

import grpc
from grpc_status import rpc_status
from opentelemetry import trace

from dpm.platform import auth
from dpm.platform.audit import Auditor, AuditRecord, JoinedAudit
from dpm.platform.db import joining_writes, unavailable
from dpm.platform.errors import DomainError, Unauthenticated
from dpm.platform.limits import CallLimiter
from dpm.platform.request_checks import (
    decoding,
    refuse_nul_bytes,
    refuse_undecodable,
    refusing_undecodable,
)
from dpm.platform.tls import TLS_REQUIRED, plaintext_token_refused

log = logging.getLogger(__name__)

# Methods anyone may call without a token.
PUBLIC_PREFIXES = ("/grpc.health.v1.Health/", "/grpc.reflection.")


def _aborted(context: grpc.ServicerContext) -> bool:
    return context.code() is not None  # type: ignore[attr-defined]


def _trace_id() -> str:
    ctx = trace.get_current_span().get_span_context()
    return format(ctx.trace_id, "032x") if ctx.is_valid else ""


def internal_error(method: str) -> str:
    """Log the exception being handled; the details an INTERNAL answer gives instead."""
    log.exception("unhandled error in %s", method)
    return f"internal error (trace_id {_trace_id() or 'none'})"


def _abort_internal(context: grpc.ServicerContext, method: str) -> None:
    context.abort(grpc.StatusCode.INTERNAL, internal_error(method))


def authenticate(
    verifier: auth.Verifier,
    tokens_need_tls: bool,
    context: grpc.ServicerContext | grpc.aio.ServicerContext,
    metadata: tuple[tuple[str, str | bytes], ...] | None = None,
) -> auth.Principal:
    """The caller of this call, from its bearer token (UNAUTHENTICATED when there is none).

    ``metadata``: the call's, when the caller has already read it.
    """
    if tokens_need_tls and plaintext_token_refused(tokens_need_tls, context.peer()):
        raise Unauthenticated(TLS_REQUIRED)
    if metadata is None:
        metadata = tuple(context.invocation_metadata() or ())
    return auth.principal_from_metadata(verifier, metadata)


def _abort_domain(context: grpc.ServicerContext, exc: DomainError) -> None:
    context.abort_with_status(rpc_status.to_status(exc.to_status()))


class ServiceInterceptor(grpc.ServerInterceptor):
    def __init__(
        self,
        verifier: auth.Verifier,
        tokens_need_tls: bool = False,
        auditor: Auditor | None = None,
        limiter: CallLimiter | None = None,
    ) -> None:
        self._verifier = verifier
        self._tokens_need_tls = tokens_need_tls
        self._auditor = auditor
        self._limiter = limiter

    def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], grpc.RpcMethodHandler | None],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler | None:
        handler = continuation(handler_call_details)
        method = handler_call_details.method
        if handler is None or method.startswith(PUBLIC_PREFIXES):
            return handler
        if handler.unary_unary:
            return grpc.unary_unary_rpc_method_handler(
                self._wrap_unary(handler.unary_unary, method, streaming_request=False),
                request_deserializer=decoding(handler.request_deserializer),
                response_serializer=handler.response_serializer,
            )
        if handler.unary_stream:
            return grpc.unary_stream_rpc_method_handler(
                self._wrap_stream(handler.unary_stream, method),
                request_deserializer=decoding(handler.request_deserializer),
                response_serializer=handler.response_serializer,
            )
        if handler.stream_unary:
            return grpc.stream_unary_rpc_method_handler(
                self._wrap_unary(handler.stream_unary, method, streaming_request=True),
                request_deserializer=decoding(handler.request_deserializer),
                response_serializer=handler.response_serializer,
            )
        return handler  # bidi-streaming: none in our APIs

    def _hold(self, principal: auth.Principal, *, stream: bool) -> AbstractContextManager[None]:
        """Count the call against the caller's limits (RESOURCE_EXHAUSTED past them)."""
        if self._limiter is None:
            return nullcontext()
        return self._limiter.hold(principal, stream=stream)

    def _authenticate(self, context: grpc.ServicerContext) -> auth.Principal:
        return authenticate(self._verifier, self._tokens_need_tls, context)

    def _joined(
        self,
        method: str,
        started: dt.datetime,
        context: grpc.ServicerContext,
        principal: auth.Principal,
        request: Any,
    ) -> JoinedAudit | None:
        """The call's audit row, to commit with its change (see ``JoinedAudit``)."""
        if self._auditor is None or not self._auditor.audits(method):
            return None
        return self._auditor.joining(
            AuditRecord(
                time=started,
                method=method,
                resource=self._auditor.resource(method, request, None),
                code=grpc.StatusCode.OK,
                principal=principal,
                peer=context.peer(),
                trace_id=_trace_id(),
            )
        )

    def _audit(
        self,
        method: str,
        started: dt.datetime,
        context: grpc.ServicerContext,
        principal: auth.Principal | None,
        request: Any,
        response: Any,
        ended: bool,
        joined: JoinedAudit | None = None,
    ) -> None:
        """Record an audited call once it has ended (a no-op for other methods)."""
        if self._auditor is None or not self._auditor.audits(method):
            return
        code = context.code()  # type: ignore[attr-defined]
        if code is None:
            code = grpc.StatusCode.OK if ended else grpc.StatusCode.CANCELLED
        if joined is not None and joined.written and code is grpc.StatusCode.OK:
            return  # committed with the call's change
        self._auditor.record(
            AuditRecord(
                time=started,
                method=method,
                resource=self._auditor.resource(method, request, response),
                code=code,
                principal=principal,
                peer=context.peer(),
                trace_id=_trace_id(),
            )
        )

    def _wrap_unary(
        self, behavior: Callable[..., Any], method: str, streaming_request: bool
    ) -> Callable[..., Any]:
        """Unary and client-streaming calls (``request`` is then the request iterator)."""

        def wrapped(request: Any, context: grpc.ServicerContext) -> Any:
            started = dt.datetime.now(dt.UTC)
            principal: auth.Principal | None = None
            response: Any = None
            ended = False
            joined: JoinedAudit | None = None
            try:
                try:
                    principal = self._authenticate(context)
                    if streaming_request:
                        request = refusing_undecodable(request)
                    else:
                        refuse_undecodable(request)
                        refuse_nul_bytes(request)
                        joined = self._joined(method, started, context, principal, request)
                    token = auth.set_current_principal(principal)
                    try:
                        with self._hold(principal, stream=False), joining_writes(joined):
                            response = behavior(request, context)
                        ended = True
                        return response
                    finally:
                        auth.reset_current_principal(token)
                except DomainError as exc:
                    _abort_domain(context, exc)
                except Exception as exc:
                    if (down := unavailable(exc)) is not None:
                        _abort_domain(context, down)
                    if _aborted(context):  # the servicer aborted on purpose
                        raise
                    _abort_internal(context, method)
            finally:
                self._audit(
                    method,
                    started,
                    context,
                    principal,
                    None if streaming_request else request,
                    response,
                    ended,
                    joined,
                )

        return wrapped

    def _wrap_stream(self, behavior: Callable[..., Any], method: str) -> Callable[..., Any]:
        def wrapped(request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
            started = dt.datetime.now(dt.UTC)
            principal: auth.Principal | None = None
            ended = False
            try:
                try:
                    principal = self._authenticate(context)
                    refuse_undecodable(request)
                    refuse_nul_bytes(request)
                    token = auth.set_current_principal(principal)
                    try:
                        with self._hold(principal, stream=True):
                            yield from behavior(request, context)
                        ended = True
                    finally:
                        auth.reset_current_principal(token)
                except DomainError as exc:
                    _abort_domain(context, exc)
                except Exception as exc:
                    if (down := unavailable(exc)) is not None:
                        _abort_domain(context, down)
                    if _aborted(context):
                        raise
                    _abort_internal(context, method)
            finally:
                self._audit(method, started, context, principal, request, None, ended)

        return wrapped
