"""TokenService over gRPC: admin only; parses names and pages, delegates to ``tokens``."""

from __future__ import annotations

import datetime as dt

import grpc

from dpm.auth.v1 import tokens_pb2 as pb
from dpm.auth.v1 import tokens_pb2_grpc as pb_grpc
from dpm.platform import auth
from dpm.platform.errors import InvalidArgument
from dpm.platform.names import TokenName
from dpm.platform.pagination import PageTokens, page_size
from dpm.requirements.tokens import CONTROL, MAX_SUBJECT_CHARS, TokenRegistry


def _lifetime(request: pb.IssueTokenRequest) -> dt.timedelta | None:
    """The requested ttl, or INVALID_ARGUMENT when it is far outside what may be issued
    (a timedelta cannot hold every Duration: seconds of -2^63 would overflow)."""
    if not request.HasField("ttl"):
        return None
    ttl = request.ttl
    if not (0 <= ttl.seconds <= 2 * auth.MAX_LIFETIME.total_seconds() and 0 <= ttl.nanos < 10**9):
        raise InvalidArgument.one(
            "ttl", f"must be between 1 second and {auth.MAX_LIFETIME.days} days"
        )
    return ttl.ToTimedelta()


class TokenServicer(pb_grpc.TokenServiceServicer):
    def __init__(self, registry: TokenRegistry, token_secret: str) -> None:
        self._registry = registry
        self._pages = PageTokens(token_secret, "auth.tokens")

    def IssueToken(
        self, request: pb.IssueTokenRequest, context: grpc.ServicerContext
    ) -> pb.IssueTokenResponse:
        auth.require_admin()
        lifetime = _lifetime(request)
        token, access_token = self._registry.issue(
            request.role, request.subject, lifetime, request.label
        )
        return pb.IssueTokenResponse(token=token, access_token=access_token)

    def ListTokens(
        self, request: pb.ListTokensRequest, context: grpc.ServicerContext
    ) -> pb.ListTokensResponse:
        auth.require_admin()
        if len(request.subject) > MAX_SUBJECT_CHARS:
            raise InvalidArgument.one("subject", f"must be at most {MAX_SUBJECT_CHARS} characters")
        if CONTROL.search(request.subject):
            raise InvalidArgument.one("subject", "must not contain control characters")
        limit = page_size(request.page_size)
        # The page token carries the last seq of its page and is bound to the subject filter.
        after = self._pages.read(request.page_token, request.subject)
        tokens, last, more = self._registry.page(request.subject, after, limit)
        next_token = self._pages.issue(last, request.subject) if more else ""
        return pb.ListTokensResponse(tokens=tokens, next_page_token=next_token)

    def RevokeToken(
        self, request: pb.RevokeTokenRequest, context: grpc.ServicerContext
    ) -> pb.RevokeTokenResponse:
        auth.require_admin()
        token = self._registry.revoke(TokenName.parse(request.name, "name"))
        return pb.RevokeTokenResponse(token=token)
