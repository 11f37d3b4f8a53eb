"""TLS on every hop: the settings, the server's and the channels' credentials, and
when a bearer token may travel without it.

Three files make a process speak TLS (``dpmatch certs DIR`` makes a development set):

- ``DPM_TLS_CERT`` and ``DPM_TLS_KEY``: this process's certificate chain and key (PEM).
  A server serves with them; every process presents them as its client certificate
  on its outgoing channels (mutual TLS).
- ``DPM_TLS_CA``: the CA that signed the peers' certificates. Set, every outgoing
  channel uses TLS and checks the server's certificate against it; with
  ``DPM_TLS_CLIENT_AUTH=require`` a server also refuses clients without a
  certificate this CA signed (mutual TLS).

Without them a server listens in plaintext (the default for ``dpmatch up``, which
binds the loopback address: a fresh machine has no certificates). A bearer token
sent in plaintext over a network can be read and replayed, so a plaintext server
listening on a non-loopback address refuses tokens from non-loopback peers
(UNAUTHENTICATED, saying TLS is required), unless ``DPM_ALLOW_PLAINTEXT_TOKENS=true``:
for a deployment where something else encrypts the hop, e.g. a service mesh's
sidecar terminating mutual TLS next to the process.
"""

from __future__ import annotations

import enum
import ipaddress
from pathlib import Path
from typing import Self

import grpc
from pydantic import field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

TLS_REQUIRED = (
    "TLS is required to send a bearer token to this server: connect over TLS "
    "(DPM_TLS_CA on the client) or from the same host"
)


class ClientAuth(enum.StrEnum):
    NONE = "none"  # clients are not asked for a certificate
    REQUIRE = "require"  # mutual TLS: a client without a certificate the CA signed is refused


class TlsSettings(BaseSettings):
    """The TLS part of every process's settings (also read alone by the CLI)."""

    model_config = SettingsConfigDict(env_prefix="DPM_", extra="ignore")

    # This process's certificate chain and private key (PEM files).
    tls_cert: Path | None = None
    tls_key: Path | None = None
    # The CA bundle peers' certificates are checked against; set, outgoing channels use TLS.
    tls_ca: Path | None = None
    # "require": mutual TLS, clients must present a certificate signed by tls_ca.
    tls_client_auth: ClientAuth = ClientAuth.NONE
    # The name a client checks the server's certificate for, when it is not the
    # address's host (e.g. connecting by an IP address the certificate does not name).
    tls_server_name: str = ""
    # Accept bearer tokens over plaintext from other hosts (TLS terminated by a mesh).
    allow_plaintext_tokens: bool = False

    @field_validator("tls_cert", "tls_key", "tls_ca", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if value == "" else value

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ValueError("DPM_TLS_CERT and DPM_TLS_KEY go together: set both or neither")
        if self.tls_client_auth is ClientAuth.REQUIRE and self.tls_ca is None:
            raise ValueError("DPM_TLS_CLIENT_AUTH=require needs DPM_TLS_CA to check clients")
        for name, path in (("cert", self.tls_cert), ("key", self.tls_key), ("ca", self.tls_ca)):
            if path is not None and not path.is_file():
                raise ValueError(f"DPM_TLS_{name.upper()}: no such file {str(path)!r}")
        return self

    @property
    def serves_tls(self) -> bool:
        return self.tls_cert is not None

    @property
    def dials_tls(self) -> bool:
        return self.tls_ca is not None


def _read(path: Path | None) -> bytes | None:
    return path.read_bytes() if path is not None else None


def server_credentials(settings: TlsSettings) -> grpc.ServerCredentials | None:
    """What a server listens with; None means plaintext."""
    if not settings.serves_tls:
        return None
    key, cert = _read(settings.tls_key), _read(settings.tls_cert)
    assert key is not None and cert is not None
    return grpc.ssl_server_credentials(
        [(key, cert)],
        root_certificates=_read(settings.tls_ca),
        require_client_auth=settings.tls_client_auth is ClientAuth.REQUIRE,
    )


def channel_credentials(settings: TlsSettings) -> grpc.ChannelCredentials | None:
    """What a client dials with; None means plaintext. Presents this process's
    certificate when it has one (what a server with DPM_TLS_CLIENT_AUTH=require asks)."""
    if not settings.dials_tls:
        return None
    return grpc.ssl_channel_credentials(
        root_certificates=_read(settings.tls_ca),
        private_key=_read(settings.tls_key),
        certificate_chain=_read(settings.tls_cert),
    )


def channel_options(settings: TlsSettings) -> list[tuple[str, str]]:
    if settings.dials_tls and settings.tls_server_name:
        return [("grpc.ssl_target_name_override", settings.tls_server_name)]
    return []


# -- bearer tokens over plaintext -----------------------------------------------------------


def is_loopback_host(host: str) -> bool:
    """Does a server bound to ``host`` listen on this machine only?"""
    host = host.strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def is_loopback_peer(peer: str) -> bool:
    """Is ``peer`` (as ``grpc.ServicerContext.peer()`` gives it) on this machine?

    "ipv4:127.0.0.1:5123", "ipv6:[::1]:5123", "ipv6:[::ffff:127.0.0.1]:5123" and
    "unix:..." are; anything else, or anything unreadable, is not.
    """
    kind, _, rest = peer.partition(":")
    if kind == "unix":
        return True
    if kind == "ipv4":
        host = rest.rpartition(":")[0]
    elif kind == "ipv6":
        host = rest.rpartition(":")[0].strip("[]")
    else:
        return False
    host = host.partition("%")[0]  # a zone id ("fe80::1%eth0")
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback


def tokens_need_tls(settings: TlsSettings, host: str) -> bool:
    """Must this server refuse tokens that non-loopback peers send in plaintext?"""
    return not (settings.serves_tls or settings.allow_plaintext_tokens or is_loopback_host(host))


def plaintext_token_refused(need_tls: bool, peer: str) -> bool:
    """The interceptor's decision for one call: refuse its token?"""
    return need_tls and not is_loopback_peer(peer)
