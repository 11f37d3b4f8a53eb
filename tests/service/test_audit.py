"""The audit log, seen through AuditService: every write call, accepted or refused, with
who, what, when and from where; never a request body or a token; read by the admin and
auditors, refused to labs."""

from __future__ import annotations

import datetime as dt
import io
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
from google.protobuf import timestamp_pb2

from dpm.audit.v1 import audit_pb2, audit_pb2_grpc
from dpm.auth.v1 import tokens_pb2, tokens_pb2_grpc
from dpm.catalog.server import SPEC as CATALOG_SPEC
from dpm.catalog.server import create_server as create_catalog
from dpm.catalog.settings import CatalogSettings
from dpm.catalog.v1 import bods_pb2, bods_pb2_grpc, catalog_pb2, catalog_pb2_grpc
from dpm.cli import audit as audit_cli
from dpm.cli.stackfile import Stack
from dpm.platform import auth
from dpm.platform.audit import Auditor, AuditRecord, AuditSpec
from dpm.platform.grpc_client import open_channel
from dpm.requirements.server import SPEC as REQUIREMENTS_SPEC
from dpm.requirements.server import create_server as create_requirements
from dpm.requirements.settings import RequirementsSettings
from dpm.requirements.store.models import AuditRow
from dpm.requirements.v1 import requirements_pb2, requirements_pb2_grpc
from tests.access import RPCS, minimal_client
from tests.conftest import drop_postgres_database, postgres_database_url
from tests.inprocess import no_broker, wait_serving

CATALOG = "/dpm.catalog.v1.CatalogService/"
REQUIREMENTS = "/dpm.requirements.v1.RequirementsService/"
TOKENS = "/dpm.auth.v1.TokenService/"


@dataclass
class Env:
    secret: str
    addresses: dict[str, str]
    admin: str

    def channel(self, server: str, token: str | None = None) -> grpc.Channel:
        return open_channel(self.addresses[server], token or self.admin, 10)

    def catalog(self, token: str | None = None) -> catalog_pb2_grpc.CatalogServiceStub:
        return catalog_pb2_grpc.CatalogServiceStub(self.channel("catalog", token))

    def requirements(
        self, token: str | None = None
    ) -> requirements_pb2_grpc.RequirementsServiceStub:
        return requirements_pb2_grpc.RequirementsServiceStub(self.channel("requirements", token))

    def tokens(self) -> tokens_pb2_grpc.TokenServiceStub:
        return tokens_pb2_grpc.TokenServiceStub(self.channel("requirements"))

    def audit(self, server: str, token: str | None = None) -> audit_pb2_grpc.AuditServiceStub:
        return audit_pb2_grpc.AuditServiceStub(self.channel(server, token))

    def entries(self, server: str, **filters: object) -> list[audit_pb2.AuditEntry]:
        reply = self.audit(server).ListAuditEntries(
            audit_pb2.ListAuditEntriesRequest(page_size=1000, **filters)  # type: ignore[arg-type]
        )
        return list(reply.audit_entries)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def env(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, token_secret: str
) -> Iterator[Env]:
    data: Path = tmp_path_factory.mktemp("audit")
    urls: dict[str, str] = {}
    if request.param == "postgresql":
        for name in ("catalog", "requirements"):
            url = postgres_database_url()
            if url is None:
                pytest.skip("no PostgreSQL at 127.0.0.1:5432 (CI runs this)")
            urls[name] = url
    common = {"token_secret": token_secret, "data_dir": data, "host": "127.0.0.1", "port": 0}
    catalog = create_catalog(
        CatalogSettings(**common, database_url=urls.get("catalog", "")), publisher=no_broker
    )
    requirements = create_requirements(
        RequirementsSettings(**common, database_url=urls.get("requirements", "")),
        publisher=no_broker,
    )
    addresses = {
        "catalog": f"127.0.0.1:{catalog.port}",
        "requirements": f"127.0.0.1:{requirements.port}",
    }
    try:
        for address in addresses.values():
            wait_serving(address)
        yield Env(token_secret, addresses, auth.admin_token(token_secret))
    finally:
        requirements.stop(0)
        catalog.stop(0)
        for url in urls.values():
            drop_postgres_database(url)


def _slug() -> str:
    return f"audit-{uuid.uuid4().hex[:8]}"


def _code(call: object) -> grpc.StatusCode:
    try:
        call()  # type: ignore[operator]
    except grpc.RpcError as exc:
        return exc.code()
    return grpc.StatusCode.OK


def _create_org(slug: str) -> catalog_pb2.CreateOrganizationRequest:
    return catalog_pb2.CreateOrganizationRequest(
        organization_id=slug,
        organization=catalog_pb2.Organization(display_name=f"Secret Name {slug}", kind=1),
    )


def test_every_write_rpc_and_no_read_is_audited() -> None:
    audited = {
        "catalog": set(CATALOG_SPEC.audit.methods),  # type: ignore[union-attr]
        "requirements": set(REQUIREMENTS_SPEC.audit.methods),  # type: ignore[union-attr]
    }
    for rpc in RPCS:
        if rpc.server in audited:
            # Admin-only reads (ListTokens) are no writes.
            writes = rpc.access.writes and not rpc.method.startswith(("Get", "List"))
            assert (rpc.full_name in audited[rpc.server]) is writes, str(rpc)


def test_a_write_records_who_what_when_and_from_where(env: Env) -> None:
    slug = _slug()
    before = dt.datetime.now(dt.UTC)
    env.catalog().CreateOrganization(_create_org(slug))
    env.catalog().GetOrganization(catalog_pb2.GetOrganizationRequest(name=f"organizations/{slug}"))
    after = dt.datetime.now(dt.UTC)
    [entry] = [e for e in env.entries("catalog") if slug in e.resource]
    admin = auth.verify_token(env.secret, env.admin)
    assert entry.method == CATALOG + "CreateOrganization"
    assert entry.resource == f"organizations/{slug}"
    assert entry.code == "OK"
    assert (entry.role, entry.subject, entry.token) == ("admin", "admin", f"tokens/{admin.jti}")
    assert entry.peer.startswith("ipv4:127.0.0.1:")
    assert entry.name.startswith("auditEntries/")
    assert before - dt.timedelta(seconds=1) <= entry.time.ToDatetime(dt.UTC) <= after
    # A read is not a write: the GetOrganization above left no entry.
    assert not [e for e in env.entries("catalog") if e.method.endswith("/GetOrganization")]


def test_refused_writes_are_recorded_and_change_nothing(env: Env) -> None:
    lab = _slug()
    lab_token = (
        env.requirements()
        .CreateClient(
            requirements_pb2.CreateClientRequest(client_id=lab, client=minimal_client(lab))
        )
        .access_token
    )
    denied, invalid, anonymous = _slug(), "Not A Slug!", _slug()
    assert _code(lambda: env.catalog(lab_token).CreateOrganization(_create_org(denied))) is (
        grpc.StatusCode.PERMISSION_DENIED
    )
    assert _code(lambda: env.catalog().CreateOrganization(_create_org(invalid))) is (
        grpc.StatusCode.INVALID_ARGUMENT
    )
    with grpc.insecure_channel(env.addresses["catalog"]) as bare:
        assert _code(
            lambda: catalog_pb2_grpc.CatalogServiceStub(bare).CreateOrganization(
                _create_org(anonymous), timeout=5
            )
        ) is (grpc.StatusCode.UNAUTHENTICATED)
    assert _code(
        lambda: env.catalog().GetOrganization(
            catalog_pb2.GetOrganizationRequest(name=f"organizations/{denied}")
        )
    ) is (grpc.StatusCode.NOT_FOUND)

    by_resource = {e.resource: e for e in env.entries("catalog")}
    refused = by_resource[f"organizations/{denied}"]
    assert (refused.code, refused.role, refused.subject) == (
        "PERMISSION_DENIED",
        "lab",
        f"clients/{lab}",
    )
    assert by_resource[f"organizations/{invalid}"].code == "INVALID_ARGUMENT"
    stranger = by_resource[f"organizations/{anonymous}"]
    assert (stranger.code, stranger.role, stranger.subject, stranger.token) == (
        "UNAUTHENTICATED",
        "",
        "",
        "",
    )
    # The lab's own filter finds its attempt.
    mine = env.entries("catalog", subject=f"clients/{lab}")
    assert [e.resource for e in mine] == [f"organizations/{denied}"]


def test_requirements_writes_and_tokens_are_recorded_without_secrets(env: Env) -> None:
    lab = _slug()
    created = env.requirements().CreateClient(
        requirements_pb2.CreateClientRequest(client_id=lab, client=minimal_client("Body Marker"))
    )
    issued = env.tokens().IssueToken(
        tokens_pb2.IssueTokenRequest(role=tokens_pb2.ROLE_AUDITOR, subject=f"{lab}-auditor")
    )
    env.tokens().RevokeToken(tokens_pb2.RevokeTokenRequest(name=issued.token.name))
    env.requirements().DeleteClient(requirements_pb2.DeleteClientRequest(name=f"clients/{lab}"))
    entries = env.entries("requirements")
    seen = {(e.method, e.resource, e.code) for e in entries}
    assert (REQUIREMENTS + "CreateClient", f"clients/{lab}", "OK") in seen
    assert (TOKENS + "IssueToken", issued.token.name, "OK") in seen
    assert (TOKENS + "RevokeToken", issued.token.name, "OK") in seen
    assert (REQUIREMENTS + "DeleteClient", f"clients/{lab}", "OK") in seen
    text = str([list(e.ListFields()) for e in entries])
    for secret in (created.access_token, issued.access_token, env.admin, env.secret):
        assert secret not in text
    assert "Body Marker" not in text


def test_a_bods_import_is_recorded(env: Env) -> None:
    stub = bods_pb2_grpc.BodsServiceStub(env.channel("catalog"))
    _code(
        lambda: stub.ImportBodsStatements(
            iter([bods_pb2.ImportBodsStatementsRequest(statements=[], validate_only=True)])
        )
    )
    [entry, *_] = env.entries("catalog", method="ImportBodsStatements")
    assert entry.method == "/dpm.catalog.v1.BodsService/ImportBodsStatements"
    assert entry.subject == "admin" and entry.resource == ""


def test_filters_and_pages(env: Env) -> None:
    start = timestamp_pb2.Timestamp()
    start.FromDatetime(dt.datetime.now(dt.UTC))
    slugs = [_slug() for _ in range(3)]
    for slug in slugs:
        env.catalog().CreateOrganization(_create_org(slug))
    end = timestamp_pb2.Timestamp()
    end.FromDatetime(dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1))

    window = env.entries("catalog", start_time=start, end_time=end)
    assert [e.resource for e in window] == [f"organizations/{s}" for s in reversed(slugs)]
    assert env.entries("catalog", end_time=start, method="CreateOrganization")
    assert all(s not in e.resource for e in env.entries("catalog", end_time=start) for s in slugs)
    full = env.entries("catalog", method=CATALOG + "CreateOrganization", start_time=start)
    assert [e.resource for e in full] == [e.resource for e in window]

    stub = env.audit("catalog")
    pages: list[str] = []
    token = ""
    while True:
        reply = stub.ListAuditEntries(
            audit_pb2.ListAuditEntriesRequest(page_size=1, page_token=token, start_time=start)
        )
        pages += [e.resource for e in reply.audit_entries]
        token = reply.next_page_token
        if not token:
            break
        # A page token is bound to its query.
        assert _code(
            lambda t=token: stub.ListAuditEntries(  # type: ignore[misc]
                audit_pb2.ListAuditEntriesRequest(page_token=t, subject="someone-else")
            )
        ) is (grpc.StatusCode.INVALID_ARGUMENT)
    assert pages == [e.resource for e in window]
    assert _code(
        lambda: stub.ListAuditEntries(audit_pb2.ListAuditEntriesRequest(method="no such; method"))
    ) is (grpc.StatusCode.INVALID_ARGUMENT)
    for bad in (
        audit_pb2.ListAuditEntriesRequest(start_time=timestamp_pb2.Timestamp(seconds=-(2**63))),
        audit_pb2.ListAuditEntriesRequest(end_time=timestamp_pb2.Timestamp(nanos=-1)),
        audit_pb2.ListAuditEntriesRequest(start_time=end, end_time=start),
    ):
        assert _code(lambda b=bad: stub.ListAuditEntries(b)) is grpc.StatusCode.INVALID_ARGUMENT  # type: ignore[misc]


def test_admin_and_auditors_read_the_log_labs_do_not(env: Env) -> None:
    lab = _slug()
    lab_token = (
        env.requirements()
        .CreateClient(
            requirements_pb2.CreateClientRequest(client_id=lab, client=minimal_client(lab))
        )
        .access_token
    )
    auditor = (
        env.tokens()
        .IssueToken(tokens_pb2.IssueTokenRequest(role=tokens_pb2.ROLE_AUDITOR, subject="auditor"))
        .access_token
    )
    request = audit_pb2.ListAuditEntriesRequest(page_size=1)
    for server in ("catalog", "requirements"):
        assert env.audit(server, auditor).ListAuditEntries(request).audit_entries
        as_lab = env.audit(server, lab_token)
        assert _code(lambda: as_lab.ListAuditEntries(request)) is (  # noqa: B023
            grpc.StatusCode.PERMISSION_DENIED
        )


def test_the_cli_prints_both_servers_newest_first(env: Env) -> None:
    slug = _slug()
    env.catalog().CreateOrganization(_create_org(slug))
    stack = Stack(dict(env.addresses), env.admin, "redis://unused")
    out = io.StringIO()
    assert audit_cli.show(stack, None, 5, out=out) == 0
    lines = out.getvalue().splitlines()
    assert lines[0].split()[:3] == ["time", "(UTC)", "server"]
    assert set(lines[1]) == {"─"}  # the rule under the header
    assert f"organizations/{slug}" in lines[2] and "CreateOrganization" in lines[2]
    out = io.StringIO()
    assert audit_cli.show(stack, "requirements", 3, subject="nobody-at-all", out=out) == 0
    assert "(no write calls recorded)" in out.getvalue()
    out = io.StringIO()
    assert audit_cli.show(stack, None, 5, out=out, as_json=True) == 0
    entries = [json.loads(line) for line in out.getvalue().splitlines()]
    assert 1 <= len(entries) <= 5 and entries[0]["server"] == "catalog"
    assert entries[0]["resource"] == f"organizations/{slug}"
    assert entries[0]["method"].endswith("/CreateOrganization")
    times = [e["time"] for e in entries]
    assert times == sorted(times, reverse=True)


def test_a_failed_audit_write_is_logged_and_never_fails_the_call(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class DatabaseDown:
        def record(self, _: AuditRecord) -> None:
            raise RuntimeError("database down")

    auditor = Auditor(AuditSpec(AuditRow, {}), DatabaseDown())  # type: ignore[arg-type]
    auditor.record(
        AuditRecord(
            dt.datetime.now(dt.UTC),
            REQUIREMENTS + "CreateClient",
            "clients/x",
            grpc.StatusCode.OK,
            None,
            "ipv4:10.0.0.7:5000",
            "",
        )
    )
    assert "audit log write failed" in caplog.text
