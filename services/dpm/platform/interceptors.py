"""Server interceptors: authentication and the mapping of errors to statuses.

The wrapping happens inside the method handler, so it runs on the thread that
serves the call: the principal set there is what the servicer reads. Every
call but health and reflection needs a bearer token the ``auth.Verifier``
accepts (signature, expiry, revocation list).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Any

import grpc
from grpc_status import rpc_status
from opentelemetry import trace

from dpm.platform import auth
from dpm.platform.errors import DomainError

log = logging.getLogger(__name__)

# Methods anyone may call without a token.
PUBLIC_PREFIXES = ("/grpc.health.v1.Health/", "/grpc.reflection.")


def _aborted(context: grpc.ServicerContext) -> bool:
    return context.code() is not None  # type: ignore[attr-defined]


def _abort_internal(context: grpc.ServicerContext, method: str) -> None:
    ctx = trace.get_current_span().get_span_context()
    trace_id = format(ctx.trace_id, "032x") if ctx.is_valid else "none"
    log.exception("unhandled error in %s", method)
    context.abort(grpc.StatusCode.INTERNAL, f"internal error (trace_id {trace_id})")


def _abort_domain(context: grpc.ServicerContext, exc: DomainError) -> None:
    context.abort_with_status(rpc_status.to_status(exc.to_status()))


class ServiceInterceptor(grpc.ServerInterceptor):
    def __init__(self, verifier: auth.Verifier) -> None:
        self._verifier = verifier

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
                self._wrap_unary(handler.unary_unary, method),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        if handler.unary_stream:
            return grpc.unary_stream_rpc_method_handler(
                self._wrap_stream(handler.unary_stream, method),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        if handler.stream_unary:
            return grpc.stream_unary_rpc_method_handler(
                self._wrap_unary(handler.stream_unary, method),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        return handler  # bidi-streaming: none in our APIs

    def _authenticate(self, context: grpc.ServicerContext) -> auth.Principal:
        return auth.principal_from_metadata(self._verifier, context.invocation_metadata())

    def _wrap_unary(self, behavior: Callable[..., Any], method: str) -> Callable[..., Any]:
        """Unary and client-streaming calls (``request`` is then the request iterator)."""

        def wrapped(request: Any, context: grpc.ServicerContext) -> Any:
            try:
                token = auth.set_current_principal(self._authenticate(context))
                try:
                    return behavior(request, context)
                finally:
                    auth.reset_current_principal(token)
            except DomainError as exc:
                _abort_domain(context, exc)
            except Exception:
                if _aborted(context):  # the servicer aborted on purpose
                    raise
                _abort_internal(context, method)

        return wrapped

    def _wrap_stream(self, behavior: Callable[..., Any], method: str) -> Callable[..., Any]:
        def wrapped(request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
            try:
                token = auth.set_current_principal(self._authenticate(context))
                try:
                    yield from behavior(request, context)
                finally:
                    auth.reset_current_principal(token)
            except DomainError as exc:
                _abort_domain(context, exc)
            except Exception:
                if _aborted(context):
                    raise
                _abort_internal(context, method)

        return wrapped
