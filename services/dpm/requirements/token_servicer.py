"""TokenService over gRPC: admin only; parses names and pages, delegates to ``tokens``."""

from __future__ import annotations

import grpc

from dpm.auth.v1 import tokens_pb2 as pb
from dpm.auth.v1 import tokens_pb2_grpc as pb_grpc
from dpm.platform import auth
from dpm.platform.errors import InvalidArgument
from dpm.platform.names import TokenName
from dpm.platform.pagination import PageTokens, page_size
from dpm.requirements.tokens import MAX_SUBJECT_CHARS, TokenRegistry


class TokenServicer(pb_grpc.TokenServiceServicer):
    def __init__(self, registry: TokenRegistry, token_secret: str) -> None:
        self._registry = registry
        self._pages = PageTokens(token_secret, "auth.tokens")

    def IssueToken(
        self, request: pb.IssueTokenRequest, context: grpc.ServicerContext
    ) -> pb.IssueTokenResponse:
        auth.require_admin()
        lifetime = request.ttl.ToTimedelta() if request.HasField("ttl") else None
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
