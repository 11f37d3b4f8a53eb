"""`dpmatch certs DIR [--hosts NAME ...]`: a development CA and the certificates signed by it.

Writes, each file readable by its owner only:

- ``ca.pem`` / ``ca-key.pem``: the CA (DPM_TLS_CA everywhere; keep its key away from servers);
- ``server.pem`` / ``server-key.pem``: every dpmatch process's certificate
  (DPM_TLS_CERT / DPM_TLS_KEY), for the names localhost, 127.0.0.1 and ::1, the
  compose and Kubernetes service names (catalog, requirements.dpmatch.svc, ...)
  and any ``--hosts``; it serves and, under mutual TLS, identifies the process
  to the servers it calls;
- ``client.pem`` / ``client-key.pem``: a client certificate for the CLI and other
  callers under mutual TLS (DPM_TLS_CLIENT_AUTH=require on the servers).

For development and tests: production certificates come from your own CA
(cert-manager, a mesh, ...); the settings are the same.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from dpm.platform.files import write_private

SERVICES = ("catalog", "requirements", "neutrality", "matching")
# The Kubernetes namespace of deploy/k8s.
K8S_NAMESPACE = "dpmatch"
CA_DAYS = 3650
FILES = ("ca.pem", "ca-key.pem", "server.pem", "server-key.pem", "client.pem", "client-key.pem")


def default_hosts() -> list[str]:
    """localhost, the loopback addresses, and each service's compose and Kubernetes names."""
    names = ["localhost", "127.0.0.1", "::1"]
    for service in SERVICES:
        names += [
            service,  # compose
            f"{service}.{K8S_NAMESPACE}",
            f"{service}.{K8S_NAMESPACE}.svc",
            f"{service}.{K8S_NAMESPACE}.svc.cluster.local",
        ]
    return names


@dataclass(frozen=True)
class Issued:
    certificate: x509.Certificate
    key: ec.EllipticCurvePrivateKey

    def write(self, directory: Path, stem: str) -> None:
        write_private(
            directory / f"{stem}.pem",
            self.certificate.public_bytes(serialization.Encoding.PEM).decode(),
        )
        write_private(
            directory / f"{stem}-key.pem",
            self.key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            ).decode(),
        )


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "dpmatch development"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _san(host: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        return x509.DNSName(host)


def make_ca(now: dt.datetime, days: int = CA_DAYS) -> Issued:
    key = ec.generate_private_key(ec.SECP256R1())
    name = _name("dpmatch development CA")
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return Issued(certificate, key)


def issue(
    ca: Issued,
    common_name: str,
    hosts: Iterable[str],
    server: bool,
    now: dt.datetime,
    days: int,
) -> Issued:
    """A leaf certificate signed by ``ca``: for servers (which also call others) or clients."""
    key = ec.generate_private_key(ec.SECP256R1())
    usages = [ExtendedKeyUsageOID.CLIENT_AUTH]
    if server:
        usages.insert(0, ExtendedKeyUsageOID.SERVER_AUTH)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(ca.certificate.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()),
            critical=False,
        )
    )
    names = list(dict.fromkeys(hosts))
    if names:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([_san(h) for h in names]), critical=False
        )
    return Issued(builder.sign(ca.key, hashes.SHA256()), key)


def make_certs(
    directory: Path,
    hosts: Iterable[str] = (),
    days: int = 365,
    force: bool = False,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    out, err = out or sys.stdout, err or sys.stderr
    existing = [name for name in FILES if (directory / name).exists()]
    if existing and not force:
        print(
            f"dpmatch: {directory} already holds {', '.join(existing)}; --force replaces them",
            file=err,
        )
        return 2
    now = dt.datetime.now(dt.UTC)
    ca = make_ca(now)
    server_hosts = [*default_hosts(), *hosts]
    server = issue(ca, "dpmatch server", server_hosts, server=True, now=now, days=days)
    client = issue(ca, "dpmatch client", [], server=False, now=now, days=days)
    ca.write(directory, "ca")
    server.write(directory, "server")
    client.write(directory, "client")
    where = directory.resolve()
    print(f"wrote a development CA and certificates to {where} (valid {days} days)", file=out)
    print("servers (and the processes that call them):", file=out)
    print(f"  DPM_TLS_CA={where / 'ca.pem'}", file=out)
    print(f"  DPM_TLS_CERT={where / 'server.pem'}", file=out)
    print(f"  DPM_TLS_KEY={where / 'server-key.pem'}", file=out)
    print("  DPM_TLS_CLIENT_AUTH=require   # optional: mutual TLS", file=out)
    print("the CLI:", file=out)
    print(f"  DPM_TLS_CA={where / 'ca.pem'}", file=out)
    print(
        f"  DPM_TLS_CERT={where / 'client.pem'} DPM_TLS_KEY={where / 'client-key.pem'}"
        "   # under mutual TLS",
        file=out,
    )
    return 0
