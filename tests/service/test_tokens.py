"""Tokens end to end: issue, list, revoke, expiry, deleted and re-created labs, rotation,
roles, Redis outages, weak secrets, and the `dpmatch token` commands.

The four servers run in this process on port 0 with a real Redis; "every service"
means one call to each of catalog, requirements, neutrality and matching.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import grpc
import jwt
import pytest
import redis

from dpm.auth.v1 import tokens_pb2, tokens_pb2_grpc
from dpm.catalog.server import create_server as create_catalog
from dpm.catalog.settings import CatalogSettings
from dpm.catalog.v1 import catalog_pb2, catalog_pb2_grpc
from dpm.cli import tokens as token_cli
from dpm.cli.stackfile import Stack
from dpm.platform import auth
from dpm.platform.embedded_redis import free_port, start_embedded_redis
from dpm.platform.grpc_client import open_channel
from dpm.platform.revocations import KEY as REVOCATIONS_KEY
from dpm.requirements.server import create_server as create_requirements
from dpm.requirements.settings import RequirementsSettings
from dpm.requirements.v1 import requirements_pb2, requirements_pb2_grpc
from tests.access import (
    PROBES,
    RPCS,
    SeededStack,
    bearer,
    minimal_client,
    seeded_stack,
)
from tests.inprocess import no_broker, wait_serving

DENIED = grpc.StatusCode.PERMISSION_DENIED
UNAUTHENTICATED = grpc.StatusCode.UNAUTHENTICATED


@pytest.fixture(scope="module")
def stack(
    tmp_path_factory: pytest.TempPathFactory, token_secret: str, redis_url: str
) -> Iterator[SeededStack]:
    prefix = f"dpmtest:{uuid.uuid4().hex[:8]}:"
    with seeded_stack(tmp_path_factory.mktemp("tokens"), token_secret, redis_url, prefix) as s:
        yield s
    client = redis.Redis.from_url(redis_url)
    for key in client.scan_iter(f"{prefix}*"):
        client.delete(key)
    client.close()


def code_of(call: object, *args: object) -> grpc.StatusCode:
    with pytest.raises(grpc.RpcError) as err:
        call(*args)  # type: ignore[operator]
    return err.value.code()


def issue(
    stack: SeededStack,
    subject: str,
    role: tokens_pb2.Role = tokens_pb2.ROLE_LAB,
    ttl: dt.timedelta | None = None,
    label: str = "",
) -> tokens_pb2.IssueTokenResponse:
    request = tokens_pb2.IssueTokenRequest(role=role, subject=subject, label=label)
    if ttl is not None:
        request.ttl.FromTimedelta(ttl)
    return stack.tokens().IssueToken(request)


def listed(stack: SeededStack, subject: str = "") -> list[tokens_pb2.Token]:
    out: list[tokens_pb2.Token] = []
    page = ""
    while True:
        reply = stack.tokens().ListTokens(
            tokens_pb2.ListTokensRequest(subject=subject, page_token=page, page_size=2)
        )
        out.extend(reply.tokens)
        page = reply.next_page_token
        if not page:
            return out


def assert_accepted_everywhere(stack: SeededStack, token: str, lab: str) -> None:
    outcomes = stack.accepted_everywhere(token, lab)
    assert not [f"{s}: {o}" for s, o in outcomes.items() if o.refused]


# -- issue and list ----------------------------------------------------------------------


def test_issue_shows_the_token_once_and_list_never_shows_it(stack: SeededStack) -> None:
    reply = issue(stack, "clients/lab-1", label="notebook")
    token = reply.token
    jti = token.name.removeprefix("tokens/")
    assert (token.role, token.subject, token.label) == (
        tokens_pb2.ROLE_LAB,
        "clients/lab-1",
        "notebook",
    )
    claims = jwt.decode(reply.access_token, options={"verify_signature": False})
    assert claims["jti"] == jti and claims["sub"] == "clients/lab-1" and claims["role"] == "lab"
    assert token.expire_time.ToDatetime() - token.issue_time.ToDatetime() == dt.timedelta(days=90)
    assert not token.HasField("revoke_time")
    assert_accepted_everywhere(stack, reply.access_token, "lab-1")

    signature = reply.access_token.rsplit(".", 1)[1]
    everything = listed(stack)
    assert jti in {t.name.removeprefix("tokens/") for t in everything}
    wire = stack.tokens().ListTokens(tokens_pb2.ListTokensRequest()).SerializeToString()
    assert reply.access_token.encode() not in wire and signature.encode() not in wire
    # No field of the listing's messages could hold a token.
    assert {f.name for f in tokens_pb2.Token.DESCRIPTOR.fields} == {
        "name",
        "role",
        "subject",
        "label",
        "issue_time",
        "expire_time",
        "revoke_time",
    }


def test_list_filters_by_exact_subject_and_pages(stack: SeededStack) -> None:
    for _ in range(3):
        issue(stack, "clients/google-deepmind")
    google = issue(stack, "clients/google").token.name
    deepmind = listed(stack, "clients/google-deepmind")
    assert len(deepmind) >= 4  # its CreateClient token and the three above
    assert {t.subject for t in deepmind} == {"clients/google-deepmind"}
    assert google not in {t.name for t in deepmind}
    issued = [t.issue_time.ToDatetime() for t in deepmind]
    assert issued == sorted(issued)  # in issue order
    first = stack.tokens().ListTokens(
        tokens_pb2.ListTokensRequest(subject="clients/google-deepmind", page_size=1)
    )
    assert code_of(
        stack.tokens().ListTokens,
        tokens_pb2.ListTokensRequest(subject="clients/google", page_token=first.next_page_token),
    ) is (grpc.StatusCode.INVALID_ARGUMENT)


def test_create_client_token_is_registered(stack: SeededStack) -> None:
    token = stack.lab_tokens["lab-10"]
    jti = jwt.decode(token, options={"verify_signature": False})["jti"]
    (registered,) = [t for t in listed(stack, "clients/lab-10") if t.name == f"tokens/{jti}"]
    assert registered.role == tokens_pb2.ROLE_LAB
    assert registered.label == "issued by CreateClient"


@pytest.mark.parametrize(
    ("role", "subject", "ttl", "label", "code", "field"),
    [
        (tokens_pb2.ROLE_SERVICE, "matching", None, "", "INVALID_ARGUMENT", "role"),
        (tokens_pb2.ROLE_UNSPECIFIED, "x", None, "", "INVALID_ARGUMENT", "role"),
        (tokens_pb2.ROLE_LAB, "google", None, "", "INVALID_ARGUMENT", "subject"),
        (tokens_pb2.ROLE_LAB, "clients/Google", None, "", "INVALID_ARGUMENT", "subject"),
        (tokens_pb2.ROLE_LAB, "clients/nobody", None, "", "NOT_FOUND", ""),
        (tokens_pb2.ROLE_AUDITOR, "clients/lab-1", None, "", "INVALID_ARGUMENT", "subject"),
        (tokens_pb2.ROLE_AUDITOR, "", None, "", "INVALID_ARGUMENT", "subject"),
        (tokens_pb2.ROLE_AUDITOR, "alice", dt.timedelta(days=366), "", "INVALID_ARGUMENT", "ttl"),
        (tokens_pb2.ROLE_AUDITOR, "alice", dt.timedelta(0), "", "INVALID_ARGUMENT", "ttl"),
        (tokens_pb2.ROLE_AUDITOR, "alice", None, "x" * 201, "INVALID_ARGUMENT", "label"),
    ],
)
def test_issue_refuses_bad_requests(
    stack: SeededStack,
    role: tokens_pb2.Role,
    subject: str,
    ttl: dt.timedelta | None,
    label: str,
    code: str,
    field: str,
) -> None:
    with pytest.raises(grpc.RpcError) as err:
        issue(stack, subject, role, ttl, label)
    assert err.value.code().name == code
    assert field in (err.value.details() or "")


def test_ttl_is_honoured_up_to_a_year(stack: SeededStack) -> None:
    for ttl in (dt.timedelta(seconds=30), dt.timedelta(days=365)):
        token = issue(stack, "ops@example.org", tokens_pb2.ROLE_AUDITOR, ttl).token
        assert token.expire_time.ToDatetime() - token.issue_time.ToDatetime() == ttl
    admin = issue(stack, "second-admin", tokens_pb2.ROLE_ADMIN).token
    assert admin.expire_time.ToDatetime() - admin.issue_time.ToDatetime() == dt.timedelta(days=30)


def test_the_registry_on_sqlite_and_postgresql(
    database_url: str, tmp_path: Path, token_secret: str, redis_url: str
) -> None:
    settings = RequirementsSettings(
        token_secret=token_secret,
        database_url=database_url,
        data_dir=tmp_path,
        host="127.0.0.1",
        port=0,
        redis_url=redis_url,
    )
    running = create_requirements(settings, publisher=no_broker)
    try:
        with open_channel(f"127.0.0.1:{running.port}", auth.admin_token(token_secret), 5) as ch:
            clients = requirements_pb2_grpc.RequirementsServiceStub(ch)
            tokens = tokens_pb2_grpc.TokenServiceStub(ch)
            clients.CreateClient(
                requirements_pb2.CreateClientRequest(client_id="lab-1", client=minimal_client("L"))
            )
            for label in ("a", "b", "c"):
                tokens.IssueToken(
                    tokens_pb2.IssueTokenRequest(
                        role=tokens_pb2.ROLE_LAB, subject="clients/lab-1", label=label
                    )
                )
            auditor = tokens.IssueToken(
                tokens_pb2.IssueTokenRequest(role=tokens_pb2.ROLE_AUDITOR, subject="ann")
            )
            pages, page = [], ""
            while True:
                reply = tokens.ListTokens(
                    tokens_pb2.ListTokensRequest(page_size=2, page_token=page)
                )
                pages.append([t.label for t in reply.tokens])
                page = reply.next_page_token
                if not page:
                    break
            assert pages == [["issued by CreateClient", "a"], ["b", "c"], [""]]
            tokens.RevokeToken(tokens_pb2.RevokeTokenRequest(name=auditor.token.name))
            clients.DeleteClient(requirements_pb2.DeleteClientRequest(name="clients/lab-1"))
            listed_now = tokens.ListTokens(tokens_pb2.ListTokensRequest()).tokens
            assert len(listed_now) == 5 and all(t.HasField("revoke_time") for t in listed_now)
    finally:
        running.stop(0)


# -- expiry --------------------------------------------------------------------------------


def test_expired_tokens_are_refused_by_every_service(stack: SeededStack) -> None:
    hour = dt.timedelta(hours=1)
    expired = auth.mint(stack.secret, auth.Role.LAB, "clients/lab-1", hour, now=time.time() - 7200)
    expired_admin = auth.mint(stack.secret, auth.Role.ADMIN, "admin", hour, now=time.time() - 7200)
    for server in PROBES:
        for token in (expired.token, expired_admin.token):
            outcome = stack.probe(server, token, "lab-1")
            assert outcome.code is UNAUTHENTICATED, server
            assert "expired" in outcome.details


# -- revocation ----------------------------------------------------------------------------


def test_a_revoked_token_is_refused_by_every_service_within_a_second(stack: SeededStack) -> None:
    reply = issue(stack, "clients/lab-1")
    other = issue(stack, "clients/lab-1").access_token
    assert_accepted_everywhere(stack, reply.access_token, "lab-1")
    revoked = stack.tokens().RevokeToken(tokens_pb2.RevokeTokenRequest(name=reply.token.name))
    assert revoked.token.HasField("revoke_time")
    took = stack.wait_refused_everywhere(reply.access_token, "lab-1", within=1.0)
    assert max(took.values()) < 1.0, took
    assert "revoked" in stack.probe("catalog", reply.access_token, "lab-1").details
    assert_accepted_everywhere(stack, other, "lab-1")  # only that token
    # Revoking again changes nothing; unknown and malformed names are refused.
    again = stack.tokens().RevokeToken(tokens_pb2.RevokeTokenRequest(name=reply.token.name))
    assert again.token.revoke_time == revoked.token.revoke_time
    assert (
        code_of(
            stack.tokens().RevokeToken, tokens_pb2.RevokeTokenRequest(name="tokens/" + "a" * 32)
        )
        is grpc.StatusCode.NOT_FOUND
    )
    for bad in ("", reply.token.name.removeprefix("tokens/"), "tokens/../x", "tokens/A"):
        assert (
            code_of(stack.tokens().RevokeToken, tokens_pb2.RevokeTokenRequest(name=bad))
            is grpc.StatusCode.INVALID_ARGUMENT
        )
    (listed_token,) = [t for t in listed(stack, "clients/lab-1") if t.name == reply.token.name]
    assert listed_token.revoke_time == revoked.token.revoke_time


def test_revoked_admin_and_auditor_tokens_stop_working(stack: SeededStack) -> None:
    for role, subject in ((tokens_pb2.ROLE_ADMIN, "bob"), (tokens_pb2.ROLE_AUDITOR, "carol")):
        reply = issue(stack, subject, role)
        assert_accepted_everywhere(stack, reply.access_token, "lab-1")
        stack.tokens().RevokeToken(tokens_pb2.RevokeTokenRequest(name=reply.token.name))
        stack.wait_refused_everywhere(reply.access_token, "lab-1")


# -- deleted and re-created labs -------------------------------------------------------------


def test_deleting_a_lab_revokes_all_its_tokens_at_once(stack: SeededStack) -> None:
    requirements = stack.requirements()
    created = requirements.CreateClient(
        requirements_pb2.CreateClientRequest(client_id="doomed", client=minimal_client("Doomed"))
    )
    first = created.access_token
    second = issue(stack, "clients/doomed", label="ci").access_token
    # A lab whose id extends the deleted one's keeps its token.
    neighbour = requirements.CreateClient(
        requirements_pb2.CreateClientRequest(client_id="doomed-2", client=minimal_client("D2"))
    ).access_token
    for token in (first, second):
        assert_accepted_everywhere(stack, token, "doomed")

    requirements.DeleteClient(requirements_pb2.DeleteClientRequest(name="clients/doomed"))
    # The server that deleted the lab refuses its tokens at once, the others within a second.
    for token in (first, second):
        assert stack.probe("requirements", token, "doomed").code is UNAUTHENTICATED
        stack.wait_refused_everywhere(token, "doomed", within=1.0)
    # In particular the catalog reads a deleted lab's token used to pass.
    catalog = catalog_pb2_grpc.CatalogServiceStub(stack.channels["catalog"])
    for read in (
        lambda md: catalog.ListOrganizations(catalog_pb2.ListOrganizationsRequest(), metadata=md),
        lambda md: catalog.ExportOwnershipGraph(
            catalog_pb2.ExportOwnershipGraphRequest(as_of="2025-06-01"), metadata=md
        ),
    ):
        assert code_of(read, [("authorization", bearer(first))]) is UNAUTHENTICATED
    tokens = listed(stack, "clients/doomed")
    assert len(tokens) == 2 and all(t.HasField("revoke_time") for t in tokens)
    assert_accepted_everywhere(stack, neighbour, "doomed-2")

    # Re-created under the same id: a new token that works; the old ones stay refused.
    recreated = requirements.CreateClient(
        requirements_pb2.CreateClientRequest(client_id="doomed", client=minimal_client("Again"))
    )
    fresh = recreated.access_token
    assert fresh not in (first, second)
    jtis = {jwt.decode(t, options={"verify_signature": False})["jti"] for t in (first, second)}
    assert jwt.decode(fresh, options={"verify_signature": False})["jti"] not in jtis
    assert_accepted_everywhere(stack, fresh, "doomed")
    for token in (first, second):
        for server in PROBES:
            assert stack.probe(server, token, "doomed").code is UNAUTHENTICATED, server
    assert stack.requirements(fresh).GetClient(
        requirements_pb2.GetClientRequest(name="clients/doomed")
    ).display_name == ("Again")


# -- roles ---------------------------------------------------------------------------------


def test_auditor_reads_but_every_write_and_token_call_is_denied(stack: SeededStack) -> None:
    auditor = issue(stack, "auditor@example.org", tokens_pb2.ROLE_AUDITOR).access_token
    for rpc in RPCS:
        outcome = rpc.call(stack.channels[rpc.server], bearer(auditor), "lab-1")
        if rpc.access.writes:
            assert outcome.code is DENIED, rpc
        else:
            assert not outcome.refused, (str(rpc), outcome)


def test_labs_cannot_manage_tokens(stack: SeededStack) -> None:
    lab = stack.lab_tokens["lab-1"]
    tokens = stack.tokens(lab)
    assert (
        code_of(
            tokens.IssueToken,
            tokens_pb2.IssueTokenRequest(role=tokens_pb2.ROLE_LAB, subject="clients/lab-1"),
        )
        is DENIED
    )
    assert (
        code_of(tokens.ListTokens, tokens_pb2.ListTokensRequest(subject="clients/lab-1")) is DENIED
    )
    own = jwt.decode(lab, options={"verify_signature": False})["jti"]
    assert (
        code_of(tokens.RevokeToken, tokens_pb2.RevokeTokenRequest(name=f"tokens/{own}")) is DENIED
    )


# -- rotation ------------------------------------------------------------------------------


@contextmanager
def running_catalog(settings: CatalogSettings) -> Iterator[str]:
    running = create_catalog(settings, publisher=no_broker)
    try:
        address = f"127.0.0.1:{running.port}"
        wait_serving(address)
        yield address
    finally:
        running.stop(0)


def _lists(address: str, token: str) -> grpc.StatusCode:
    with open_channel(address, token, 5) as channel:
        try:
            catalog_pb2_grpc.CatalogServiceStub(channel).ListOrganizations(
                catalog_pb2.ListOrganizationsRequest()
            )
        except grpc.RpcError as exc:
            return exc.code()
    return grpc.StatusCode.OK


def test_rotation_accepts_the_old_secret_only_during_the_overlap(
    tmp_path: Path, token_secret: str, redis_url: str
) -> None:
    old, new = token_secret, auth.new_jti() + auth.new_jti()
    old_token = auth.client_token(old, "clients/lab-1")
    common = {"data_dir": tmp_path, "host": "127.0.0.1", "port": 0, "redis_url": redis_url}
    db = f"sqlite:///{tmp_path / 'catalog.db'}"

    overlap = CatalogSettings(
        token_secret=new, previous_token_secrets=old, database_url=db, **common
    )
    with running_catalog(overlap) as address:
        assert _lists(address, old_token) is grpc.StatusCode.OK
        assert _lists(address, auth.client_token(new, "clients/lab-1")) is grpc.StatusCode.OK

    after = CatalogSettings(token_secret=new, database_url=db, **common)
    with running_catalog(after) as address:
        assert _lists(address, old_token) is UNAUTHENTICATED
        assert _lists(address, auth.client_token(new, "clients/lab-1")) is grpc.StatusCode.OK


def test_tokens_issued_during_a_rotation_are_signed_with_the_new_secret(
    tmp_path: Path, token_secret: str, redis_url: str
) -> None:
    old, new = token_secret, auth.new_jti() + auth.new_jti()
    settings = RequirementsSettings(
        token_secret=new,
        previous_token_secrets=old,
        database_url=f"sqlite:///{tmp_path / 'req.db'}",
        data_dir=tmp_path,
        host="127.0.0.1",
        port=0,
        redis_url=redis_url,
    )
    running = create_requirements(settings, publisher=no_broker)
    try:
        address = f"127.0.0.1:{running.port}"
        with open_channel(address, auth.admin_token(old), 5) as channel:
            created = requirements_pb2_grpc.RequirementsServiceStub(channel).CreateClient(
                requirements_pb2.CreateClientRequest(client_id="lab-1", client=minimal_client("L"))
            )
        assert jwt.get_unverified_header(created.access_token)["kid"] == auth.key_id(new)
        assert auth.verify_token(new, created.access_token).subject == "clients/lab-1"
        with pytest.raises(Exception, match="not valid"):
            auth.verify_token(old, created.access_token)
    finally:
        running.stop(0)


# -- Redis outages -------------------------------------------------------------------------


def test_revocation_fails_closed_when_redis_is_down_and_the_last_list_stays(
    tmp_path: Path, token_secret: str
) -> None:
    server = start_embedded_redis(tmp_path / "redis")
    settings = RequirementsSettings(
        token_secret=token_secret,
        database_url=f"sqlite:///{tmp_path / 'req.db'}",
        data_dir=tmp_path,
        host="127.0.0.1",
        port=0,
        redis_url=server.url,
    )
    running = create_requirements(settings, publisher=no_broker)
    stopped = False
    try:
        address = f"127.0.0.1:{running.port}"
        wait_serving(address)
        admin = auth.admin_token(token_secret)
        with open_channel(address, admin, 5) as channel:
            clients = requirements_pb2_grpc.RequirementsServiceStub(channel)
            tokens = tokens_pb2_grpc.TokenServiceStub(channel)
            lab = clients.CreateClient(
                requirements_pb2.CreateClientRequest(client_id="lab-1", client=minimal_client("L"))
            ).access_token
            gone = tokens.IssueToken(
                tokens_pb2.IssueTokenRequest(role=tokens_pb2.ROLE_LAB, subject="clients/lab-1")
            )
            tokens.RevokeToken(tokens_pb2.RevokeTokenRequest(name=gone.token.name))
            server.stop()
            stopped = True
            # Redis is gone: revocations fail (UNAVAILABLE) and change nothing ...
            victim = tokens.ListTokens(tokens_pb2.ListTokensRequest(subject="clients/lab-1"))
            live = next(t for t in victim.tokens if not t.HasField("revoke_time"))
            assert (
                code_of(tokens.RevokeToken, tokens_pb2.RevokeTokenRequest(name=live.name))
                is grpc.StatusCode.UNAVAILABLE
            )
            assert (
                code_of(
                    clients.DeleteClient, requirements_pb2.DeleteClientRequest(name="clients/lab-1")
                )
                is grpc.StatusCode.UNAVAILABLE
            )
            assert clients.GetClient(requirements_pb2.GetClientRequest(name="clients/lab-1"))
            after = tokens.ListTokens(tokens_pb2.ListTokensRequest(subject="clients/lab-1"))
            assert list(after.tokens) == list(victim.tokens)
        # ... while the list read before the outage stays in force.
        for token, expected in ((lab, grpc.StatusCode.OK), (gone.access_token, UNAUTHENTICATED)):
            with open_channel(address, token, 5) as channel:
                try:
                    requirements_pb2_grpc.RequirementsServiceStub(channel).GetClient(
                        requirements_pb2.GetClientRequest(name="clients/lab-1")
                    )
                    code = grpc.StatusCode.OK
                except grpc.RpcError as exc:
                    code = exc.code()
            assert code is expected
    finally:
        running.stop(0)
        if not stopped:
            server.stop()


def test_a_server_that_never_read_the_list_is_not_ready_and_refuses_calls(
    tmp_path: Path, token_secret: str
) -> None:
    settings = CatalogSettings(
        token_secret=token_secret,
        database_url=f"sqlite:///{tmp_path / 'catalog.db'}",
        data_dir=tmp_path,
        host="127.0.0.1",
        port=0,
        redis_url=f"redis://127.0.0.1:{free_port()}/0",
    )
    running = create_catalog(settings, publisher=no_broker)
    try:
        address = f"127.0.0.1:{running.port}"
        with pytest.raises(AssertionError, match="never became SERVING"):
            wait_serving(address, timeout=1.5)
        assert _lists(address, auth.admin_token(token_secret)) is grpc.StatusCode.UNAVAILABLE
    finally:
        running.stop(0)


def test_revocations_lost_by_redis_are_put_back_from_the_database(
    tmp_path: Path, token_secret: str, redis_url: str
) -> None:
    prefix = f"dpmtest:{uuid.uuid4().hex[:8]}:"
    settings = RequirementsSettings(
        token_secret=token_secret,
        database_url=f"sqlite:///{tmp_path / 'req.db'}",
        data_dir=tmp_path,
        host="127.0.0.1",
        port=0,
        redis_url=redis_url,
        revocation_prefix=prefix,
        revocation_refresh_seconds=0.2,
    )
    client = redis.Redis.from_url(redis_url)
    running = create_requirements(settings, publisher=no_broker)
    try:
        address = f"127.0.0.1:{running.port}"
        with open_channel(address, auth.admin_token(token_secret), 5) as channel:
            tokens = tokens_pb2_grpc.TokenServiceStub(channel)
            reply = tokens.IssueToken(
                tokens_pb2.IssueTokenRequest(role=tokens_pb2.ROLE_AUDITOR, subject="eve")
            )
            tokens.RevokeToken(tokens_pb2.RevokeTokenRequest(name=reply.token.name))
        key = f"{prefix}{REVOCATIONS_KEY}"
        jti = reply.token.name.removeprefix("tokens/").encode()
        assert client.zscore(key, jti) is not None
        client.delete(key)  # Redis lost its data
        deadline = time.monotonic() + 3
        while client.zscore(key, jti) is None:
            assert time.monotonic() < deadline, "the revocation was not put back"
            time.sleep(0.05)
    finally:
        running.stop(0)
        client.delete(f"{prefix}{REVOCATIONS_KEY}")
        client.close()


# -- weak secrets --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("service", "secret"),
    [
        ("catalog", "change-me-local-secret-0123456789"),  # the old compose default
        ("requirements", "REPLACE-ME-with-32-or-more-random-characters"),  # the k8s base's
        ("neutrality", "short"),
        ("matching", "ab" * 20),
    ],
)
def test_servers_refuse_to_start_with_a_weak_or_default_secret(
    service: str, secret: str, tmp_path: Path
) -> None:
    env = {**os.environ, "DPM_TOKEN_SECRET": secret, "DPM_DATA_DIR": str(tmp_path), "DPM_PORT": "0"}
    done = subprocess.run(
        [sys.executable, "-m", f"dpm.{service}.server"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("dpmatch: bad configuration: DPM_TOKEN_SECRET")
    assert secret not in lines[0]


# -- the command line ----------------------------------------------------------------------


def test_token_commands(stack: SeededStack) -> None:
    cli = Stack(stack.addresses, stack.admin, "")
    out, err = io.StringIO(), io.StringIO()
    assert token_cli.issue(cli, "lab", "clients/lab-10", 7, "laptop", out, err) == 0, err.getvalue()
    text = out.getvalue()
    token = text.strip().splitlines()[-1].strip()
    jti = text.split()[1].rstrip(":")
    assert auth.verify_token(stack.secret, token).jti == jti
    assert_accepted_everywhere(stack, token, "lab-10")

    out = io.StringIO()
    assert token_cli.list_tokens(cli, "clients/lab-10", out, err) == 0
    listing = out.getvalue()
    assert jti in listing and "laptop" in listing and token not in listing
    assert token.rsplit(".", 1)[1] not in listing

    out = io.StringIO()
    assert token_cli.revoke(cli, jti, out, err) == 0
    assert f"revoked {jti}" in out.getvalue()
    stack.wait_refused_everywhere(token, "lab-10")
    out = io.StringIO()
    token_cli.list_tokens(cli, "clients/lab-10", out, err)
    assert any(jti in line and "revoked" in line for line in out.getvalue().splitlines())
    out = io.StringIO()
    assert token_cli.list_tokens(cli, "clients/lab-10", out, err, as_json=True) == 0
    listed = [json.loads(line) for line in out.getvalue().splitlines()]
    (mine,) = [t for t in listed if t["name"].endswith(jti)]
    assert mine["subject"] == "clients/lab-10" and mine["label"] == "laptop"
    assert "revokeTime" in mine
    assert token not in out.getvalue()

    err = io.StringIO()
    assert token_cli.issue(cli, "lab", "clients/nobody", None, "", io.StringIO(), err) == 2
    assert "NOT_FOUND" in err.getvalue()
