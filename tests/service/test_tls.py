"""TLS on every hop, seen from outside: servers answer over TLS and refuse plaintext
clients, servers call each other (and probe each other's health) over TLS, mutual
TLS refuses a client without a certificate, and a plaintext server reachable from
other hosts refuses the tokens those hosts send."""

from __future__ import annotations

import io
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
    ProtoReflectionDescriptorDatabase,
)

from dpm.catalog.server import create_server as create_catalog
from dpm.catalog.settings import CatalogSettings
from dpm.catalog.v1 import catalog_pb2, catalog_pb2_grpc
from dpm.cli import stackfile
from dpm.cli.certs import make_certs
from dpm.cli.main import parser
from dpm.neutrality.server import create_server as create_neutrality
from dpm.neutrality.settings import NeutralitySettings
from dpm.platform import auth
from dpm.platform.grpc_client import open_channel, serving
from dpm.platform.grpc_server import RunningServer
from dpm.platform.tls import TLS_REQUIRED, ClientAuth, TlsSettings
from dpm.requirements.server import create_server as create_requirements
from dpm.requirements.settings import RequirementsSettings
from tests.inprocess import no_broker


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("certs")
    assert make_certs(directory, out=io.StringIO()) == 0
    return directory


def server_tls(certs: Path, client_auth: ClientAuth = ClientAuth.NONE) -> dict[str, Any]:
    return {
        "tls_ca": certs / "ca.pem",
        "tls_cert": certs / "server.pem",
        "tls_key": certs / "server-key.pem",
        "tls_client_auth": client_auth,
    }


def client_tls(certs: Path, with_certificate: bool = True) -> TlsSettings:
    if not with_certificate:
        return TlsSettings(tls_ca=certs / "ca.pem")
    return TlsSettings(
        tls_ca=certs / "ca.pem", tls_cert=certs / "client.pem", tls_key=certs / "client-key.pem"
    )


def cli(argv: list[str]) -> int:
    """Run a `dpmatch` command in this process (without main()'s process-wide umask)."""
    args = parser().parse_args(argv)
    return int(args.func(args))


def wait_serving_tls(address: str, tls: TlsSettings, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if serving(address, tls):
            return
        time.sleep(0.05)
    raise AssertionError(f"{address} never became SERVING over TLS")


@dataclass
class TlsStack:
    catalog: str
    neutrality: str
    admin: str


@contextmanager
def tls_stack(
    data_dir: Path, secret: str, certs: Path, client_auth: ClientAuth
) -> Iterator[TlsStack]:
    """Catalog, requirements and neutrality (which calls the other two) over TLS."""
    common = {
        "token_secret": secret,
        "data_dir": data_dir,
        "host": "127.0.0.1",
        "port": 0,
        **server_tls(certs, client_auth),
    }
    servers: list[RunningServer] = []
    try:
        catalog = create_catalog(CatalogSettings(**common), publisher=no_broker)
        servers.append(catalog)
        requirements = create_requirements(RequirementsSettings(**common), publisher=no_broker)
        servers.append(requirements)
        neutrality = create_neutrality(
            NeutralitySettings(
                **common,
                catalog_addr=f"127.0.0.1:{catalog.port}",
                requirements_addr=f"127.0.0.1:{requirements.port}",
            )
        )
        servers.append(neutrality)
        yield TlsStack(
            f"127.0.0.1:{catalog.port}", f"127.0.0.1:{neutrality.port}", auth.admin_token(secret)
        )
    finally:
        for server in reversed(servers):
            server.stop(0)


def _list_organizations(channel: grpc.Channel, token: str | None = None) -> grpc.StatusCode:
    metadata = [("authorization", f"Bearer {token}")] if token else None
    try:
        catalog_pb2_grpc.CatalogServiceStub(channel).ListOrganizations(
            catalog_pb2.ListOrganizationsRequest(), metadata=metadata, timeout=5
        )
    except grpc.RpcError as exc:
        return exc.code()
    return grpc.StatusCode.OK


def test_tls_stack_answers_over_tls_and_refuses_plaintext(
    tmp_path: Path, token_secret: str, certs: Path
) -> None:
    with tls_stack(tmp_path, token_secret, certs, ClientAuth.NONE) as stack:
        tls = client_tls(certs, with_certificate=False)
        # Neutrality turns SERVING only once its own TLS probes of catalog and
        # requirements answer: the servers' hops to each other are TLS too.
        wait_serving_tls(stack.neutrality, tls)
        with open_channel(stack.catalog, stack.admin, 5, tls=tls) as channel:
            assert _list_organizations(channel) is grpc.StatusCode.OK
            names = ProtoReflectionDescriptorDatabase(channel).get_services()
            assert "dpm.catalog.v1.CatalogService" in names
            assert "dpm.audit.v1.AuditService" in names
        # A plaintext client gets no answer at all, not even health.
        assert not serving(stack.catalog)
        with grpc.insecure_channel(stack.catalog) as plain:
            assert _list_organizations(plain, stack.admin) is grpc.StatusCode.UNAVAILABLE


def test_a_client_must_trust_the_servers_ca(
    tmp_path: Path, token_secret: str, certs: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    other = tmp_path_factory.mktemp("other-ca")
    make_certs(other, out=io.StringIO())
    with tls_stack(tmp_path, token_secret, certs, ClientAuth.NONE) as stack:
        wait_serving_tls(stack.catalog, client_tls(certs, with_certificate=False))
        assert not serving(stack.catalog, TlsSettings(tls_ca=other / "ca.pem"))


def test_mutual_tls_refuses_a_client_without_a_certificate(
    tmp_path: Path, token_secret: str, certs: Path
) -> None:
    with tls_stack(tmp_path, token_secret, certs, ClientAuth.REQUIRE) as stack:
        # Neutrality presents its certificate to catalog and requirements.
        wait_serving_tls(stack.neutrality, client_tls(certs))
        with open_channel(stack.catalog, stack.admin, 5, tls=client_tls(certs)) as channel:
            assert _list_organizations(channel) is grpc.StatusCode.OK
        bare = client_tls(certs, with_certificate=False)
        assert not serving(stack.catalog, bare)
        with open_channel(stack.catalog, stack.admin, 5, tls=bare) as channel:
            assert _list_organizations(channel) is grpc.StatusCode.UNAVAILABLE


def test_the_cli_uses_tls_when_configured(
    tmp_path: Path, token_secret: str, certs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with tls_stack(tmp_path, token_secret, certs, ClientAuth.REQUIRE) as stack:
        wait_serving_tls(stack.catalog, client_tls(certs))
        monkeypatch.setenv("DPM_TLS_CA", str(certs / "ca.pem"))
        monkeypatch.setenv("DPM_TLS_CERT", str(certs / "client.pem"))
        monkeypatch.setenv("DPM_TLS_KEY", str(certs / "client-key.pem"))
        stackfile.tls.cache_clear()
        try:
            local = stackfile.Stack({"catalog": stack.catalog}, stack.admin, "redis://unused")
            with local.channel("catalog") as channel:
                assert _list_organizations(channel) is grpc.StatusCode.OK
            # `dpmatch probe` (the compose healthcheck) reads the same variables.
            assert cli(["probe", stack.catalog]) == 0
            assert cli(["probe", "--service", "liveness", stack.catalog]) == 0
            monkeypatch.delenv("DPM_TLS_CA")
            assert cli(["probe", stack.catalog]) == 1
        finally:
            stackfile.tls.cache_clear()


# -- tokens over plaintext --------------------------------------------------------------------


def non_loopback_address() -> str | None:
    """An address of this machine other hosts could reach (none sent: UDP connect only)."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.connect(("192.0.2.1", 9))
            address = str(probe.getsockname()[0])
    except OSError:
        return None
    return None if address.startswith("127.") or address == "0.0.0.0" else address


@pytest.mark.parametrize("allow", [False, True])
def test_a_plaintext_server_refuses_tokens_from_other_hosts(
    tmp_path: Path, token_secret: str, allow: bool
) -> None:
    address = non_loopback_address()
    if address is None:
        pytest.skip("this machine has no non-loopback address (tests/unit/test_tls covers it)")
    catalog = create_catalog(
        CatalogSettings(
            token_secret=token_secret,
            data_dir=tmp_path,
            host="0.0.0.0",
            port=0,
            allow_plaintext_tokens=allow,
        ),
        publisher=no_broker,
    )
    admin = auth.admin_token(token_secret)
    try:
        from_loopback = f"127.0.0.1:{catalog.port}"
        wait = time.monotonic() + 15
        while not serving(from_loopback) and time.monotonic() < wait:
            time.sleep(0.05)
        with grpc.insecure_channel(from_loopback) as channel:
            assert _list_organizations(channel, admin) is grpc.StatusCode.OK
        with grpc.insecure_channel(f"{address}:{catalog.port}") as channel:
            stub = health_pb2_grpc.HealthStub(channel)
            # Health needs no token and stays reachable (probes, load balancers).
            assert stub.Check(health_pb2.HealthCheckRequest(), timeout=5).status == (
                health_pb2.HealthCheckResponse.SERVING
            )
            try:
                catalog_pb2_grpc.CatalogServiceStub(channel).ListOrganizations(
                    catalog_pb2.ListOrganizationsRequest(),
                    metadata=[("authorization", f"Bearer {admin}")],
                    timeout=5,
                )
                outcome, details = grpc.StatusCode.OK, ""
            except grpc.RpcError as exc:
                outcome, details = exc.code(), exc.details() or ""
        if allow:
            assert outcome is grpc.StatusCode.OK
        else:
            assert outcome is grpc.StatusCode.UNAUTHENTICATED
            assert details == TLS_REQUIRED
    finally:
        catalog.stop(0)


def test_a_server_name_override_reaches_an_address_the_certificate_does_not_name(
    tmp_path: Path, token_secret: str, certs: Path
) -> None:
    address = non_loopback_address()
    if address is None:
        pytest.skip("this machine has no non-loopback address")
    catalog = create_catalog(
        CatalogSettings(
            token_secret=token_secret,
            data_dir=tmp_path,
            host="0.0.0.0",
            port=0,
            **server_tls(certs),
        ),
        publisher=no_broker,
    )
    try:
        target = f"{address}:{catalog.port}"
        wait_serving_tls(f"127.0.0.1:{catalog.port}", client_tls(certs))
        # The development certificate does not name this machine's address ...
        assert not serving(target, client_tls(certs))
        # ... but is checked for the name given instead; over TLS, tokens from other hosts pass.
        named = TlsSettings(tls_ca=certs / "ca.pem", tls_server_name="localhost")
        assert serving(target, named)
        with open_channel(target, auth.admin_token(token_secret), 5, tls=named) as channel:
            assert _list_organizations(channel) is grpc.StatusCode.OK
    finally:
        catalog.stop(0)
