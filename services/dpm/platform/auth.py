"""Bearer tokens and who may do what.

Tokens are JWTs (HS256) signed with the shared DPM_TOKEN_SECRET, so every
service checks them locally. Each carries ``iss``, ``role``, ``sub``, ``iat``,
``exp`` and a random ``jti``; its header's ``kid`` names the secret that signed
it, so during a rotation tokens signed with a secret listed in
DPM_PREVIOUS_TOKEN_SECRETS are still accepted while new ones are signed with
the current secret. A token is refused once expired or once its ``jti`` is on
the revocation list (``dpm.platform.revocations``), which every server holds in
memory. Four roles:

- admin:   writes the catalog and the ledger, manages clients and tokens, reads everything;
- auditor: reads everything an admin can read; writes nothing, manages no tokens;
- lab:     one lab; reads and writes only "clients/{its id}" and what hangs under it,
           and reads the catalog;
- service: dpmatch's own processes calling each other; reads everything, writes nothing.

Lab, auditor and admin tokens are issued by the requirements server's
TokenService (which records them, so they can be listed and revoked); each
process mints its own short-lived service token and renews it
(``ServiceTokens``).
"""

from __future__ import annotations

import contextvars
import datetime as dt
import enum
import functools
import hashlib
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Protocol

import jwt

from dpm.platform.errors import PermissionDenied, Unauthenticated, Unavailable

ISSUER = "dpmatch"
ALGORITHM = "HS256"
# Clock difference tolerated between the process that minted a token and the one checking it.
LEEWAY_SECONDS = 10.0
# Verified tokens kept per process (signature checks are the costly part of a call's auth).
VERIFIED_CACHE_SIZE = 4096


class Role(enum.StrEnum):
    ADMIN = "admin"
    AUDITOR = "auditor"
    LAB = "lab"
    SERVICE = "service"


DAY = dt.timedelta(days=1)
# Lifetime of a token when its issuer asks for none.
DEFAULT_LIFETIMES = {
    Role.ADMIN: 30 * DAY,
    Role.AUDITOR: 90 * DAY,
    Role.LAB: 90 * DAY,
    Role.SERVICE: DAY,
}
# The longest lifetime anyone may ask for.
MAX_LIFETIME = 365 * DAY


@dataclass(frozen=True)
class Principal:
    """Who is calling: the verified claims of their token."""

    role: Role
    # "clients/{id}" for a lab, a free label for the other roles.
    subject: str
    jti: str = ""
    # Seconds since the epoch.
    issued_at: float = 0.0
    expires_at: float = 0.0

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN

    @property
    def reads_everything(self) -> bool:
        """Admin, auditor or one of our own services."""
        return self.role in (Role.ADMIN, Role.AUDITOR, Role.SERVICE)


# -- keys ------------------------------------------------------------------------------


def key_id(secret: str) -> str:
    """A short public name for a secret (the ``kid`` header); reveals nothing usable about it."""
    return hashlib.sha256(b"dpmatch token key id\0" + secret.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class TokenKeys:
    """The secret that signs new tokens, and the retired ones still accepted."""

    current: str
    previous: tuple[str, ...] = ()
    _by_kid: dict[str, str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        by_kid = {key_id(s): s for s in self.previous}
        by_kid[key_id(self.current)] = self.current
        object.__setattr__(self, "_by_kid", by_kid)

    @property
    def kid(self) -> str:
        return key_id(self.current)

    def secret_for(self, kid: str) -> str | None:
        return self._by_kid.get(kid)


def _keys(keys: TokenKeys | str) -> TokenKeys:
    return keys if isinstance(keys, TokenKeys) else TokenKeys(keys)


# -- minting ---------------------------------------------------------------------------


@dataclass(frozen=True)
class IssuedToken:
    """A freshly minted token and what it says (the token itself is shown once, never stored)."""

    token: str
    jti: str
    role: Role
    subject: str
    issued_at: dt.datetime
    expires_at: dt.datetime


def new_jti() -> str:
    return secrets.token_hex(16)


def mint(
    keys: TokenKeys | str,
    role: Role,
    subject: str,
    lifetime: dt.timedelta | None = None,
    *,
    now: float | None = None,
) -> IssuedToken:
    """Sign a token for ``subject`` with the current secret; ``lifetime`` defaults by role."""
    keys = _keys(keys)
    lifetime = DEFAULT_LIFETIMES[role] if lifetime is None else lifetime
    issued = int(time.time() if now is None else now)
    expires = issued + int(lifetime.total_seconds())
    jti = new_jti()
    claims = {
        "iss": ISSUER,
        "role": role.value,
        "sub": subject,
        "iat": issued,
        "exp": expires,
        "jti": jti,
    }
    token = jwt.encode(claims, keys.current, ALGORITHM, headers={"kid": keys.kid})
    return IssuedToken(
        token,
        jti,
        role,
        subject,
        dt.datetime.fromtimestamp(issued, dt.UTC),
        dt.datetime.fromtimestamp(expires, dt.UTC),
    )


def mint_token(
    keys: TokenKeys | str, role: Role, subject: str, lifetime: dt.timedelta | None = None
) -> str:
    return mint(keys, role, subject, lifetime).token


def admin_token(keys: TokenKeys | str, lifetime: dt.timedelta | None = None) -> str:
    """An admin token not recorded anywhere (what `dpmatch up` prints); expires after 30 days."""
    return mint_token(keys, Role.ADMIN, "admin", lifetime)


def service_token(keys: TokenKeys | str, service: str) -> str:
    return mint_token(keys, Role.SERVICE, f"service:{service}")


def client_token(keys: TokenKeys | str, client_name: str) -> str:
    """A lab token for ``client_name`` ("clients/{id}") not recorded in the registry
    (tests; the system issues lab tokens through CreateClient and IssueToken)."""
    return mint_token(keys, Role.LAB, client_name)


class ServiceTokens:
    """A process's own service token for its outgoing calls, renewed before it expires.

    Calling the object returns the current token; once half of its lifetime has
    passed a new one is minted (with the current secret, so a rotation reaches
    long-running processes too).
    """

    def __init__(
        self,
        keys: TokenKeys | str,
        service: str,
        lifetime: dt.timedelta = DEFAULT_LIFETIMES[Role.SERVICE],
    ) -> None:
        self._keys = _keys(keys)
        self._subject = f"service:{service}"
        self._lifetime = lifetime
        self._lock = threading.Lock()
        self._token = ""
        self._renew_at = 0.0

    def __call__(self) -> str:
        now = time.time()
        if now >= self._renew_at:
            with self._lock:
                if now >= self._renew_at:
                    issued = mint(self._keys, Role.SERVICE, self._subject, self._lifetime, now=now)
                    self._token = issued.token
                    self._renew_at = now + self._lifetime.total_seconds() / 2
        return self._token


# -- verifying -------------------------------------------------------------------------


class Revocations(Protocol):
    """What the verifier asks the revocation list (``dpm.platform.revocations.RevocationList``)."""

    @property
    def loaded(self) -> bool: ...

    def is_revoked(self, jti: str) -> bool: ...


def _invalid() -> Unauthenticated:
    return Unauthenticated("the bearer token is not valid")


def decode(keys: TokenKeys, token: str) -> Principal:
    """Check the signature and the claims' shape (not the time: see ``Verifier``)."""
    try:
        kid = jwt.get_unverified_header(token).get("kid")
        secret = keys.secret_for(kid) if isinstance(kid, str) else None
        if secret is None:
            raise _invalid()
        claims = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            issuer=ISSUER,
            options={
                "require": ["iss", "sub", "iat", "exp", "jti"],
                # Time is checked on every call by Verifier, also for cached tokens.
                "verify_exp": False,
                "verify_iat": False,
                "verify_nbf": False,
            },
        )
        principal = Principal(
            Role(claims["role"]),
            str(claims["sub"]),
            str(claims["jti"]),
            float(claims["iat"]),
            float(claims["exp"]),
        )
    except (jwt.InvalidTokenError, KeyError, ValueError, TypeError):
        raise _invalid() from None
    if not principal.subject or not principal.jti:
        raise _invalid()
    return principal


class Verifier:
    """Turns a bearer token into a Principal, or refuses it: forged, expired or revoked.

    Signature checks are cached per token string (bounded LRU); expiry and
    revocation are checked on every call, so a cached token stops working the
    moment it expires or is revoked.
    """

    def __init__(
        self,
        keys: TokenKeys | str,
        revocations: Revocations | None = None,
        cache_size: int = VERIFIED_CACHE_SIZE,
    ) -> None:
        self._revocations = revocations
        self._decode = functools.lru_cache(maxsize=cache_size)(
            functools.partial(decode, _keys(keys))
        )

    def verify(self, token: str, now: float | None = None) -> Principal:
        principal = self._decode(token)
        now = time.time() if now is None else now
        if now >= principal.expires_at + LEEWAY_SECONDS:
            raise Unauthenticated("the bearer token has expired")
        if principal.issued_at > now + LEEWAY_SECONDS:
            raise _invalid()
        if self._revocations is not None:
            if not self._revocations.loaded:
                raise Unavailable("token revocations are not loaded yet; retry shortly")
            if self._revocations.is_revoked(principal.jti):
                raise Unauthenticated("the bearer token has been revoked")
        return principal


def verify_token(keys: TokenKeys | str, token: str) -> Principal:
    """Signature, claims and expiry of ``token`` (no revocation list)."""
    return Verifier(keys, cache_size=0).verify(token)


def principal_from_metadata(
    verifier: Verifier, metadata: tuple[tuple[str, str | bytes], ...]
) -> Principal:
    for key, value in metadata:
        if key == "authorization":
            text = value.decode() if isinstance(value, bytes) else value
            scheme, _, token = text.partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                raise Unauthenticated("authorization metadata must be 'Bearer <token>'")
            return verifier.verify(token.strip())
    raise Unauthenticated("missing authorization metadata: send 'authorization: Bearer <token>'")


# -- the caller of the current call ----------------------------------------------------

_current: contextvars.ContextVar[Principal] = contextvars.ContextVar("dpm_principal")


def set_current_principal(principal: Principal) -> contextvars.Token[Principal]:
    return _current.set(principal)


def reset_current_principal(token: contextvars.Token[Principal]) -> None:
    _current.reset(token)


def current_principal() -> Principal:
    try:
        return _current.get()
    except LookupError:
        raise Unauthenticated("no authenticated caller") from None


# -- who may do what: every servicer method starts with one of these -------------------


def require_admin() -> Principal:
    """Writes to shared data (catalog, ledger, clients) and token management."""
    principal = current_principal()
    if not principal.is_admin:
        raise PermissionDenied("this call needs an admin token")
    return principal


def require_reader() -> Principal:
    """Reads of everything (every client, the whole registry): admin, auditor, services."""
    principal = current_principal()
    if not principal.reads_everything:
        raise PermissionDenied("this call needs an admin or auditor token")
    return principal


def _own(principal: Principal, client_name: str) -> bool:
    return principal.role is Role.LAB and principal.subject == client_name


def require_client_access(client_name: str) -> Principal:
    """Reading ``client_name`` ("clients/{id}") or what hangs under it.

    Admin, auditors and services read every client; a lab only itself. A lab
    asking for another gets PERMISSION_DENIED whether that client exists or not,
    so it cannot probe which labs use dpmatch. Names compare exactly: a lab's
    token does not reach an id it is a prefix of, or one differing in case.
    """
    principal = current_principal()
    if principal.reads_everything or _own(principal, client_name):
        return principal
    raise PermissionDenied(f"this token may not access {client_name}")


def require_client_write(client_name: str) -> Principal:
    """Changing ``client_name``: the admin, or that lab itself (never an auditor or a service)."""
    principal = current_principal()
    if principal.is_admin or _own(principal, client_name):
        return principal
    raise PermissionDenied(f"this token may not change {client_name}")
