"""`dpmatch certs` and the TLS settings and decisions (dpm.platform.tls), without a server."""

from __future__ import annotations

import io
import stat
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID
from pydantic import ValidationError

from dpm.cli.certs import FILES, make_certs
from dpm.cli.main import parser
from dpm.platform.tls import (
    ClientAuth,
    TlsSettings,
    is_loopback_host,
    is_loopback_peer,
    plaintext_token_refused,
    tokens_need_tls,
)


def cli(argv: list[str]) -> int:
    """Run a `dpmatch` command in this process (without main()'s process-wide umask)."""
    args = parser().parse_args(argv)
    return int(args.func(args))


def _certificate(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def _sans(certificate: x509.Certificate) -> set[str]:
    san = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return {str(n) for n in san.get_values_for_type(x509.DNSName)} | {
        str(a) for a in san.get_values_for_type(x509.IPAddress)
    }


def _usages(certificate: x509.Certificate) -> set[x509.ObjectIdentifier]:
    return set(certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("certs") / "dev"
    out = io.StringIO()
    assert make_certs(directory, ["dpm.example.org", "10.1.2.3"], days=30, out=out) == 0
    assert "DPM_TLS_CA=" in out.getvalue()
    return directory


def test_every_file_is_private(certs: Path) -> None:
    for name in FILES:
        assert stat.S_IMODE((certs / name).stat().st_mode) == 0o600, name
    assert stat.S_IMODE(certs.stat().st_mode) == 0o700


def test_server_certificate_names_every_way_it_is_reached(certs: Path) -> None:
    server = _certificate(certs / "server.pem")
    names = _sans(server)
    assert {"localhost", "127.0.0.1", "::1", "dpm.example.org", "10.1.2.3"} <= names
    for service in ("catalog", "requirements", "neutrality", "matching"):
        assert service in names  # compose
        assert f"{service}.dpmatch.svc.cluster.local" in names  # kubernetes
    # It serves, and identifies its process to the servers it calls (mutual TLS).
    assert _usages(server) == {ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH}


def test_certificates_are_signed_by_the_ca(certs: Path) -> None:
    ca = _certificate(certs / "ca.pem")
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    for name in ("server.pem", "client.pem"):
        leaf = _certificate(certs / name)
        leaf.verify_directly_issued_by(ca)
        assert not leaf.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
        lifetime = leaf.not_valid_after_utc - leaf.not_valid_before_utc
        assert 29 < lifetime.days <= 31
    client = _certificate(certs / "client.pem")
    assert _usages(client) == {ExtendedKeyUsageOID.CLIENT_AUTH}


def test_existing_certificates_are_kept_unless_forced(certs: Path) -> None:
    before = (certs / "ca.pem").read_bytes()
    err = io.StringIO()
    assert make_certs(certs, out=io.StringIO(), err=err) == 2
    assert "--force" in err.getvalue()
    assert (certs / "ca.pem").read_bytes() == before


def test_the_command_writes_them(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(["certs", str(tmp_path / "tls"), "--hosts", "dpm.internal", "--days", "7"]) == 0
    assert "dpm.internal" in _sans(_certificate(tmp_path / "tls" / "server.pem"))
    assert "DPM_TLS_CERT=" in capsys.readouterr().out


# -- settings -------------------------------------------------------------------------------


def test_tls_settings_must_be_consistent(certs: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("DPM_TLS_CA", "DPM_TLS_CERT", "DPM_TLS_KEY", "DPM_TLS_CLIENT_AUTH"):
        monkeypatch.delenv(name, raising=False)
    assert not TlsSettings().serves_tls and not TlsSettings().dials_tls
    with pytest.raises(ValidationError, match="set both or neither"):
        TlsSettings(tls_cert=certs / "server.pem")
    with pytest.raises(ValidationError, match="needs DPM_TLS_CA"):
        TlsSettings(
            tls_cert=certs / "server.pem",
            tls_key=certs / "server-key.pem",
            tls_client_auth=ClientAuth.REQUIRE,
        )
    with pytest.raises(ValidationError, match="no such file"):
        TlsSettings(tls_ca=certs / "missing.pem")
    monkeypatch.setenv("DPM_TLS_CA", "")  # an empty variable (compose's ${X:-}) means unset
    assert TlsSettings().tls_ca is None
    monkeypatch.setenv("DPM_TLS_CA", str(certs / "ca.pem"))
    monkeypatch.setenv("DPM_TLS_CLIENT_AUTH", "require")
    assert TlsSettings().dials_tls


# -- tokens over plaintext ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("peer", "loopback"),
    [
        ("ipv4:127.0.0.1:50123", True),
        ("ipv4:127.8.9.10:50123", True),
        ("ipv6:[::1]:50123", True),
        ("ipv6:[::ffff:127.0.0.1]:50123", True),
        ("unix:/tmp/dpm.sock", True),
        ("ipv4:10.0.0.7:50123", False),
        ("ipv4:192.0.2.2:50123", False),
        ("ipv6:[fd00::2]:50123", False),
        ("ipv6:[::ffff:10.0.0.7]:50123", False),
        ("ipv6:[fe80::1%eth0]:50123", False),
        ("", False),
        ("garbage", False),
        ("ipv4:localhost:1", False),
    ],
)
def test_loopback_peers(peer: str, loopback: bool) -> None:
    assert is_loopback_peer(peer) is loopback


def test_loopback_hosts() -> None:
    assert is_loopback_host("127.0.0.1") and is_loopback_host("localhost")
    assert is_loopback_host("::1") and is_loopback_host("[::1]")
    assert not is_loopback_host("0.0.0.0") and not is_loopback_host("::")
    assert not is_loopback_host("10.0.0.7") and not is_loopback_host("catalog")


def test_tokens_need_tls_only_on_a_plaintext_server_reachable_from_other_hosts(
    certs: Path,
) -> None:
    plain = TlsSettings()
    served = TlsSettings(tls_cert=certs / "server.pem", tls_key=certs / "server-key.pem")
    meshed = TlsSettings(allow_plaintext_tokens=True)
    assert tokens_need_tls(plain, "0.0.0.0")
    assert not tokens_need_tls(plain, "127.0.0.1")  # `dpmatch up`: loopback only
    assert not tokens_need_tls(served, "0.0.0.0")
    assert not tokens_need_tls(meshed, "0.0.0.0")
    assert plaintext_token_refused(True, "ipv4:10.0.0.7:5000")
    assert not plaintext_token_refused(True, "ipv4:127.0.0.1:5000")
    assert not plaintext_token_refused(False, "ipv4:10.0.0.7:5000")
