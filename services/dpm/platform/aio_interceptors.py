"""The asyncio twin of ``interceptors.ServiceInterceptor``: authentication, limits and
the mapping of errors to statuses for servers on ``grpc.aio``.

Each call runs as its own task, so the principal set here (a context
variable) is what the servicer's coroutine reads. A stream holds one of its
caller's stream slots until it ends or the caller goes away (cancellation
reaches the generator at once, so the slot is freed at once). Audited
methods are not supported here: the asyncio servers do not write.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc
from grpc_status import rpc_status

from dpm.platform import auth
from dpm.platform.errors import DomainError
from dpm.platform.interceptors import PUBLIC_PREFIXES, authenticate, internal_error
from dpm.platform.limits import CallLimiter
from dpm.platform.request_checks import refuse_nul_bytes

ContinuationResult = Awaitable[grpc.RpcMethodHandler | None]


async def _abort(context: grpc.aio.ServicerContext, exc: BaseException, method: str) -> None:
    """Answer the call with the status ``exc`` stands for (re-raised when already aborted)."""
    if isinstance(exc, grpc.aio.AbortError):
        raise exc
    if isinstance(exc, DomainError):
        await context.abort_with_status(  # type: ignore[attr-defined]
            rpc_status.to_status(exc.to_status())
        )
    await context.abort(grpc.StatusCode.INTERNAL, internal_error(method))


class AioServiceInterceptor(grpc.aio.ServerInterceptor):
    def __init__(
        self, verifier: auth.Verifier, tokens_need_tls: bool, limiter: CallLimiter
    ) -> None:
        self._verifier = verifier
        self._tokens_need_tls = tokens_need_tls
        self._limiter = limiter

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], ContinuationResult],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:  # None when there is no such method
        handler = await continuation(handler_call_details)
        method = handler_call_details.method
        if handler is None or method.startswith(PUBLIC_PREFIXES):
            return handler  # type: ignore[return-value]
        if handler.unary_unary:
            return grpc.unary_unary_rpc_method_handler(
                self._wrap_unary(handler.unary_unary, method),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        if handler.unary_stream:
            return grpc.unary_stream_rpc_method_handler(
                self._wrap_stream(handler.unary_stream, method),  # type: ignore[arg-type]
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        # Client streaming would bypass the checks above: refuse rather than serve it.
        raise TypeError(f"{method}: asyncio servers serve unary and server-streaming calls only")

    def _principal(self, request: Any, context: grpc.aio.ServicerContext) -> auth.Principal:
        principal = authenticate(self._verifier, self._tokens_need_tls, context)
        refuse_nul_bytes(request)
        auth.set_current_principal(principal)  # this call's task only
        return principal

    def _wrap_unary(
        self, behavior: Callable[..., Awaitable[Any]], method: str
    ) -> Callable[..., Awaitable[Any]]:
        async def wrapped(request: Any, context: grpc.aio.ServicerContext) -> Any:
            try:
                self._principal(request, context)
                return await behavior(request, context)
            except Exception as exc:
                await _abort(context, exc, method)

        return wrapped

    def _wrap_stream(
        self, behavior: Callable[..., AsyncIterator[Any]], method: str
    ) -> Callable[..., AsyncIterator[Any]]:
        async def wrapped(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
            try:
                principal = self._principal(request, context)
                with self._limiter.hold(principal, stream=True):
                    async for reply in behavior(request, context):
                        yield reply
            except Exception as exc:
                await _abort(context, exc, method)

        return wrapped
