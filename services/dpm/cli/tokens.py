"""`dpmatch token issue|list|revoke`: manage bearer tokens of the running stack (admin token).

`dpmatch token issue --role lab --subject clients/google [--ttl-days 30] [--label ci]`
prints the token once (with ``--quiet``, the token alone, for a script);
`dpmatch token list [--subject clients/google]` shows ids and metadata, never tokens;
`dpmatch token revoke JTI` makes every service refuse it.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from typing import TextIO

import grpc
from google.protobuf import json_format, timestamp_pb2

from dpm.auth.v1 import tokens_pb2, tokens_pb2_grpc
from dpm.cli.stackfile import Stack
from dpm.cli.tables import print_table, refused
from dpm.platform.names import TokenName

ROLES = {
    "lab": tokens_pb2.ROLE_LAB,
    "auditor": tokens_pb2.ROLE_AUDITOR,
    "admin": tokens_pb2.ROLE_ADMIN,
}
ROLE_NAMES = {value: name for name, value in ROLES.items()} | {tokens_pb2.ROLE_SERVICE: "service"}


def _time(stamp: timestamp_pb2.Timestamp) -> str:
    return stamp.ToDatetime(dt.UTC).strftime("%Y-%m-%d %H:%M") if stamp.seconds else "-"


def issue(
    stack: Stack,
    role: str,
    subject: str,
    ttl_days: float | None,
    label: str,
    out: TextIO = sys.stdout,
    err: TextIO = sys.stderr,
    *,
    quiet: bool = False,
) -> int:
    """Issue a token and print it (``quiet``: the token alone, on one line)."""
    request = tokens_pb2.IssueTokenRequest(role=ROLES[role], subject=subject, label=label)
    if ttl_days is not None:
        request.ttl.FromTimedelta(dt.timedelta(days=ttl_days))
    with stack.channel("requirements") as channel:
        try:
            reply = tokens_pb2_grpc.TokenServiceStub(channel).IssueToken(request)
        except grpc.RpcError as exc:
            return refused("issue", exc, err)
    token = reply.token
    if quiet:
        print(reply.access_token, file=out)
        return 0
    print(
        f"issued {TokenName.trusted(token.name).id}: {role} token for {token.subject}, "
        f"expires {_time(token.expire_time)} UTC",
        file=out,
    )
    print("the token (shown only now, keep it secret):", file=out)
    print(f"  {reply.access_token}", file=out)
    return 0


def list_tokens(
    stack: Stack,
    subject: str = "",
    out: TextIO = sys.stdout,
    err: TextIO = sys.stderr,
    *,
    as_json: bool = False,
) -> int:
    rows: list[tokens_pb2.Token] = []
    with stack.channel("requirements") as channel:
        stub = tokens_pb2_grpc.TokenServiceStub(channel)
        page_token = ""
        try:
            while True:
                reply = stub.ListTokens(
                    tokens_pb2.ListTokensRequest(subject=subject, page_token=page_token)
                )
                rows.extend(reply.tokens)
                page_token = reply.next_page_token
                if not page_token:
                    break
        except grpc.RpcError as exc:
            return refused("list", exc, err)
    if as_json:  # one object per line, as the API answers them
        for token in rows:
            print(json.dumps(json_format.MessageToDict(token)), file=out)
        return 0
    now = dt.datetime.now(dt.UTC)

    def state(token: tokens_pb2.Token) -> str:
        if token.HasField("revoke_time"):
            return "revoked"
        return "expired" if token.expire_time.ToDatetime(dt.UTC) <= now else "active"

    print_table(
        ("id", "role", "subject", "issued", "expires", "state", "label"),
        (
            (
                TokenName.trusted(t.name).id,
                ROLE_NAMES.get(t.role, "?"),
                t.subject,
                _time(t.issue_time),
                _time(t.expire_time),
                state(t),
                t.label,
            )
            for t in rows
        ),
        out,
    )
    print(f"{len(rows)} token(s)", file=out)
    return 0


def revoke(stack: Stack, jti: str, out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    name = jti if jti.startswith(TokenName.PREFIX) else str(TokenName(jti))
    with stack.channel("requirements") as channel:
        try:
            reply = tokens_pb2_grpc.TokenServiceStub(channel).RevokeToken(
                tokens_pb2.RevokeTokenRequest(name=name)
            )
        except grpc.RpcError as exc:
            return refused("revoke", exc, err)
    token = reply.token
    print(
        f"revoked {TokenName.trusted(token.name).id} ({ROLE_NAMES.get(token.role, '?')} token "
        f"for {token.subject}) at {_time(token.revoke_time)} UTC; every service refuses it now",
        file=out,
    )
    return 0
