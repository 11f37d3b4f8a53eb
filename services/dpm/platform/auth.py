"""Bearer tokens and who may do what.

Tokens are JWTs signed with the shared DPM_TOKEN_SECRET (HS256), so every
service checks them locally without a lookup. Three roles:

- admin:   writes the catalog and the ledger, manages clients, reads everything;
- service: dpmatch's own processes calling each other; reads everything;
- client:  one lab; reads and writes only "clients/{its id}" and what hangs under it.
"""

from __future__ import annotations

import contextvars
import enum
from dataclasses import dataclass

import jwt

from dpm.platform.errors import PermissionDenied, Unauthenticated

ISSUER = "dpmatch"


class Role(enum.StrEnum):
    ADMIN = "admin"
    SERVICE = "service"
    CLIENT = "client"


@dataclass(frozen=True)
class Principal:
    role: Role
    # "clients/{id}" for a client, a free label for admin and service tokens.
    subject: str

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN

    @property
    def is_trusted(self) -> bool:
        """Admin or one of our own services."""
        return self.role in (Role.ADMIN, Role.SERVICE)


def mint_token(secret: str, role: Role, subject: str) -> str:
    return jwt.encode({"iss": ISSUER, "role": role.value, "sub": subject}, secret, "HS256")


def admin_token(secret: str) -> str:
    return mint_token(secret, Role.ADMIN, "admin")


def service_token(secret: str, service: str) -> str:
    return mint_token(secret, Role.SERVICE, f"service:{service}")


def client_token(secret: str, client_name: str) -> str:
    return mint_token(secret, Role.CLIENT, client_name)


def verify_token(secret: str, token: str) -> Principal:
    try:
        claims = jwt.decode(
            token, secret, algorithms=["HS256"], issuer=ISSUER, options={"require": ["sub"]}
        )
        return Principal(Role(claims["role"]), str(claims["sub"]))
    except (jwt.InvalidTokenError, KeyError, ValueError):
        raise Unauthenticated("the bearer token is not valid") from None


def principal_from_metadata(
    secret: str, metadata: tuple[tuple[str, str | bytes], ...]
) -> Principal:
    for key, value in metadata:
        if key == "authorization":
            text = value.decode() if isinstance(value, bytes) else value
            scheme, _, token = text.partition(" ")
            if scheme.lower() != "bearer" or not token:
                raise Unauthenticated("authorization metadata must be 'Bearer <token>'")
            return verify_token(secret, token.strip())
    raise Unauthenticated("missing authorization metadata: send 'authorization: Bearer <token>'")


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


def require_admin() -> Principal:
    principal = current_principal()
    if not principal.is_admin:
        raise PermissionDenied("this call needs the admin token")
    return principal


def require_trusted() -> Principal:
    principal = current_principal()
    if not principal.is_trusted:
        raise PermissionDenied("this call needs the admin token")
    return principal


def require_client_access(client_name: str) -> Principal:
    """Admin and services see every client; a client sees only itself.

    A client asking for another client gets PERMISSION_DENIED whether that
    client exists or not, so it cannot probe which labs use dpmatch.
    """
    principal = current_principal()
    if principal.is_trusted or principal.subject == client_name:
        return principal
    raise PermissionDenied(f"this token may not access {client_name}")
