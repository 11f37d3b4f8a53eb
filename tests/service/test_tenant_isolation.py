"""Every RPC x every identity: no data without a valid token of the right role and lab,
and no reply that tells whether another lab exists.

The table of RPCs (who may call each, a well-formed request) is ``tests.access.RPCS``.
This module holds the token identities (none, malformed, forged, expired, revoked,
a deleted lab's, the old token format) and the roles (lab on another lab, lab on
admin RPCs, auditor and services on writes), with labs whose ids are prefixes of
each other's.
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections.abc import Iterator

import grpc
import jwt
import pytest
import redis

from dpm.auth.v1 import tokens_pb2
from dpm.platform import auth
from dpm.requirements.v1 import requirements_pb2
from tests.access import (
    RPCS,
    SERVED,
    Access,
    Rpc,
    SeededStack,
    bearer,
    minimal_client,
    seeded_stack,
)

UNAUTHENTICATED = grpc.StatusCode.UNAUTHENTICATED
DENIED = grpc.StatusCode.PERMISSION_DENIED


@pytest.fixture(scope="module")
def stack(
    tmp_path_factory: pytest.TempPathFactory, token_secret: str, redis_url: str
) -> Iterator[SeededStack]:
    prefix = f"dpmtest:{uuid.uuid4().hex[:8]}:"
    data = tmp_path_factory.mktemp("isolation")
    with seeded_stack(data, token_secret, redis_url, prefix, min_version_wait_seconds=1) as s:
        yield s
    client = redis.Redis.from_url(redis_url)
    for key in client.scan_iter(f"{prefix}*"):
        client.delete(key)
    client.close()


def test_every_rpc_is_in_the_table() -> None:
    served = {
        f"/{service.full_name}/{method.name}"
        for services in SERVED.values()
        for service in services
        for method in service.methods
    }
    assert {rpc.full_name for rpc in RPCS} == served


# -- bad tokens: every RPC answers UNAUTHENTICATED and nothing else ---------------------------


def _bad_authorizations(stack: SeededStack) -> dict[str, str | None]:
    secret = stack.secret
    hour = dt.timedelta(hours=1)
    revoked = stack.tokens().IssueToken(
        tokens_pb2.IssueTokenRequest(role=tokens_pb2.ROLE_ADMIN, subject="revoked-admin")
    )
    stack.tokens().RevokeToken(tokens_pb2.RevokeTokenRequest(name=revoked.token.name))
    requirements = stack.requirements()
    gone = requirements.CreateClient(
        requirements_pb2.CreateClientRequest(client_id="gone", client=minimal_client("Gone"))
    ).access_token
    requirements.DeleteClient(requirements_pb2.DeleteClientRequest(name="clients/gone"))
    stack.wait_refused_everywhere(revoked.access_token, "lab-1")
    stack.wait_refused_everywhere(gone, "gone")
    old_format = {"iss": "dpmatch", "role": "admin", "sub": "admin"}
    return {
        "none": None,
        "empty": "",
        "bearer-without-token": "Bearer ",
        "other-scheme": f"Basic {auth.admin_token(secret)}",
        "garbage": "Bearer not-a-jwt",
        "forged": bearer(auth.admin_token(auth.new_jti() * 2)),
        "expired": bearer(
            auth.mint(secret, auth.Role.ADMIN, "admin", hour, now=time.time() - 7200).token
        ),
        "revoked": bearer(revoked.access_token),
        "deleted-lab": bearer(gone),
        "old-format-admin": bearer(jwt.encode(old_format, secret, "HS256")),
        "old-format-client": bearer(
            jwt.encode({**old_format, "role": "client", "sub": "clients/lab-1"}, secret, "HS256")
        ),
        "alg-none": bearer(
            jwt.encode(
                {**old_format, "jti": "x", "iat": int(time.time()), "exp": int(time.time()) + 60},
                key="",
                algorithm="none",
            )
        ),
    }


def test_no_rpc_answers_a_missing_malformed_forged_expired_or_revoked_token(
    stack: SeededStack,
) -> None:
    failures = []
    for identity, authorization in _bad_authorizations(stack).items():
        for rpc in RPCS:
            outcome = rpc.call(stack.channels[rpc.server], authorization, "lab-1")
            if outcome.code is not UNAUTHENTICATED or "lab" in outcome.details:
                failures.append(f"{identity} {rpc}: {outcome}")
    assert failures == []


# -- roles --------------------------------------------------------------------------------


def _allowed(rpc: Rpc, role: auth.Role, own: bool) -> bool:
    if role is auth.Role.ADMIN:
        return True
    if rpc.access is Access.AUTHENTICATED:
        return True
    if rpc.access is Access.CLIENT_READ:
        return role is not auth.Role.LAB or own
    if rpc.access is Access.CLIENT_WRITE:
        return role is auth.Role.LAB and own
    if rpc.access is Access.READER:
        return role is not auth.Role.LAB
    return False


def test_roles_reach_exactly_what_they_may(stack: SeededStack) -> None:
    auditor = stack.tokens().IssueToken(
        tokens_pb2.IssueTokenRequest(role=tokens_pb2.ROLE_AUDITOR, subject="auditor")
    )
    identities = {
        "auditor": (auth.Role.AUDITOR, auditor.access_token),
        "service": (auth.Role.SERVICE, auth.service_token(stack.secret, "tests")),
        "lab-1": (auth.Role.LAB, stack.lab_tokens["lab-1"]),
        "google": (auth.Role.LAB, stack.lab_tokens["google"]),
    }
    failures = []
    for name, (role, token) in identities.items():
        for rpc in RPCS:
            for target in ("lab-1", "lab-10", "google", "google-deepmind"):
                allowed = _allowed(rpc, role, own=target == name)
                if allowed and rpc.access is Access.ADMIN:
                    continue  # never run an admin write for real here
                outcome = rpc.call(stack.channels[rpc.server], bearer(token), target)
                if allowed == outcome.refused or (not allowed and outcome.code is not DENIED):
                    failures.append(f"{name} {rpc} on {target}: {outcome}")
    assert failures == []


# Another lab's resources as a lab may ask for them: (an existing lab, a lab that does not exist
# with a name of the same shape). Replies must not tell the two apart.
PROBED = {
    "lab-1": [("lab-10", "lab-11"), ("google", "goggle"), ("google-deepmind", "google-deepmine")],
    "lab-10": [("lab-1", "lab-2")],
    "google": [("google-deepmind", "google-deepmine"), ("lab-1", "lab-2")],
    "google-deepmind": [("google", "goggle")],
}
# Names that are not any lab's exactly: case, a trailing character, whitespace.
NEAR_MISSES = ["Lab-1", "lab-1 ", "lab-1\n", "lab-1-", "lab-1x", "lab-", "LAB-1"]


def test_a_lab_never_reaches_another_lab_nor_learns_whether_it_exists(stack: SeededStack) -> None:
    per_client = [r for r in RPCS if r.access in (Access.CLIENT_READ, Access.CLIENT_WRITE)]
    failures = []
    for lab, pairs in PROBED.items():
        token = bearer(stack.lab_tokens[lab])
        for rpc in per_client:
            channel = stack.channels[rpc.server]
            for existing, missing in pairs:
                seen = rpc.call(channel, token, existing)
                unseen = rpc.call(channel, token, missing)
                if seen.code is not DENIED:
                    failures.append(f"{lab} {rpc} on {existing}: {seen}")
                if (seen.code, seen.details.replace(existing, "?")) != (
                    unseen.code,
                    unseen.details.replace(missing, "?"),
                ):
                    failures.append(f"{lab} {rpc}: {existing} {seen} vs {missing} {unseen}")
    assert failures == []


def test_names_that_are_almost_a_labs_own_are_not_its_own(stack: SeededStack) -> None:
    token = bearer(stack.lab_tokens["lab-1"])
    failures = []
    for rpc in (r for r in RPCS if r.access in (Access.CLIENT_READ, Access.CLIENT_WRITE)):
        for near in NEAR_MISSES:
            outcome = rpc.call(stack.channels[rpc.server], token, near)
            if outcome.code not in (DENIED, grpc.StatusCode.INVALID_ARGUMENT):
                failures.append(f"{rpc} on {near!r}: {outcome}")
    assert failures == []
