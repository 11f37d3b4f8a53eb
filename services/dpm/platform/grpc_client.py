"""Outgoing gRPC channels: TLS, a bearer token and a deadline on every call, traced.

The token is a string, or a callable asked on every call (``auth.ServiceTokens``
renews a process's own token before it expires). Channels use TLS when the
process's settings name a CA (``dpm.platform.tls``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from opentelemetry.instrumentation.grpc import client_interceptor, grpcext

from dpm.platform.tls import TlsSettings, channel_credentials, channel_options


class _CallDetails(NamedTuple):
    method: str
    timeout: float | None
    metadata: Any
    credentials: Any
    wait_for_ready: bool | None
    compression: Any


TokenSource = str | Callable[[], str]


class _DefaultsInterceptor(
    grpc.UnaryUnaryClientInterceptor,
    grpc.UnaryStreamClientInterceptor,
    grpc.StreamUnaryClientInterceptor,
):
    """Adds the token, and a deadline when the caller set none."""

    def __init__(self, token: TokenSource, timeout: float) -> None:
        self._token = token
        self._timeout = timeout

    def _authorization(self) -> tuple[str, str]:
        token = self._token if isinstance(self._token, str) else self._token()
        return ("authorization", f"Bearer {token}")

    def _details(self, details: grpc.ClientCallDetails) -> grpc.ClientCallDetails:
        metadata = [m for m in (details.metadata or []) if m[0] != "authorization"]
        metadata.append(self._authorization())
        return _CallDetails(  # type: ignore[return-value]
            details.method,
            details.timeout if details.timeout is not None else self._timeout,
            metadata,
            details.credentials,
            getattr(details, "wait_for_ready", None),
            getattr(details, "compression", None),
        )

    def intercept_unary_unary(
        self,
        continuation: Callable[..., Any],
        client_call_details: grpc.ClientCallDetails,
        request: Any,
    ) -> Any:
        return continuation(self._details(client_call_details), request)

    def intercept_unary_stream(
        self,
        continuation: Callable[..., Any],
        client_call_details: grpc.ClientCallDetails,
        request: Any,
    ) -> Any:
        return continuation(self._details(client_call_details), request)

    def intercept_stream_unary(
        self,
        continuation: Callable[..., Any],
        client_call_details: grpc.ClientCallDetails,
        request_iterator: Any,
    ) -> Any:
        return continuation(self._details(client_call_details), request_iterator)


# Spread calls over every address the name resolves to (each pod behind a
# headless Kubernetes Service); with one address it behaves like pick_first.
CHANNEL_OPTIONS = [("grpc.lb_policy_name", "round_robin")]


def open_channel(
    address: str, token: TokenSource, timeout: float, tls: TlsSettings | None = None
) -> grpc.Channel:
    """A channel whose calls carry ``token`` and time out after ``timeout`` seconds by default.

    Over TLS when ``tls`` names a CA (``DPM_TLS_CA``), presenting ``tls``'s certificate
    to servers that ask for one; plaintext otherwise.
    """
    channel = _channel(address, tls)
    # OpenTelemetry's interceptor is a grpcext one: it needs grpcext.intercept_channel.
    traced = grpcext.intercept_channel(channel, client_interceptor())
    return grpc.intercept_channel(traced, _DefaultsInterceptor(token, timeout))


def _channel(address: str, tls: TlsSettings | None) -> grpc.Channel:
    credentials = channel_credentials(tls) if tls is not None else None
    if credentials is None:
        return grpc.insecure_channel(address, options=CHANNEL_OPTIONS)
    assert tls is not None
    return grpc.secure_channel(address, credentials, options=CHANNEL_OPTIONS + channel_options(tls))


def serving(
    address: str, tls: TlsSettings | None = None, timeout: float = 1.0, service: str = ""
) -> bool:
    """Does the server at ``address`` answer SERVING for ``service`` ("": the whole
    server) to a health check, over TLS when ``tls`` names a CA?"""
    with _channel(address, tls) as channel:
        try:
            reply = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service=service), timeout=timeout
            )
        except grpc.RpcError:
            return False
    return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)
