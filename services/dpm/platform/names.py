"""Resource names, typed: one parse/format pair per resource.

An id travels through dpmatch as one of these values, never rebuilt with an
f-string at each hop::

    OrganizationName.parse("organizations/scale-ai", "event.held").id  == "scale-ai"
    str(ClientName("google").recommendations)  == "clients/google/recommendations"

``parse`` is for input from callers: it names the field and the rule on
failure (INVALID_ARGUMENT) and matches the whole value (a trailing newline is
refused). ``trusted`` is for names dpmatch itself wrote (another service's
reply, our own database): it only strips the template, at no regex cost.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import ClassVar, Self

from dpm.platform.errors import InvalidArgument

SLUG = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")
EVENT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")

SLUG_RULE = "must be 1-63 characters of a-z, 0-9 and '-', starting with a letter or digit"
EVENT_ID_RULE = "must be 1-128 characters of A-Z, a-z, 0-9, '.', '_', ':', '-'"

# Longest part of a bad value an error message quotes back.
QUOTE_LIMIT = 64


def quote(value: str) -> str:
    """``value`` as an error message shows it: repr'd, cut to a short prefix."""
    if len(value) <= QUOTE_LIMIT:
        return repr(value)
    return f"{value[:QUOTE_LIMIT]!r}... ({len(value)} characters)"


def check_slug(value: str, field: str) -> str:
    """A bare id as a Create call takes it ("google" in CreateClient.client_id)."""
    if not value:
        raise InvalidArgument.one(field, "is required")
    if not SLUG.fullmatch(value):
        raise InvalidArgument.one(field, f"{quote(value)} {SLUG_RULE}")
    return value


def check_event_id(value: str, field: str) -> str:
    if not value:
        raise InvalidArgument.one(field, "is required")
    if not EVENT_ID.fullmatch(value):
        raise InvalidArgument.one(field, f"{quote(value)} {EVENT_ID_RULE}")
    return value


@dataclass(frozen=True, order=True, slots=True)
class _Name:
    """A resource name made of a prefix, an id and a suffix: "{prefix}{id}{suffix}"."""

    id: str

    PREFIX: ClassVar[str]
    SUFFIX: ClassVar[str] = ""
    ID: ClassVar[re.Pattern[str]] = SLUG
    ID_RULE: ClassVar[str] = SLUG_RULE

    def __str__(self) -> str:
        return f"{self.PREFIX}{self.id}{self.SUFFIX}"

    @classmethod
    def template(cls) -> str:
        return f"{cls.PREFIX}{{id}}{cls.SUFFIX}"

    @classmethod
    def matches(cls, value: str) -> bool:
        return (
            value.startswith(cls.PREFIX)
            and value.endswith(cls.SUFFIX)
            and cls.ID.fullmatch(value[len(cls.PREFIX) : len(value) - len(cls.SUFFIX)]) is not None
        )

    @classmethod
    def parse(cls, value: str, field: str) -> Self:
        """The name in ``value``, or INVALID_ARGUMENT naming ``field`` and the rule."""
        if not value:
            raise InvalidArgument.one(field, "is required")
        if not (value.startswith(cls.PREFIX) and value.endswith(cls.SUFFIX)):
            raise InvalidArgument.one(field, f"{quote(value)} must look like {cls.template()!r}")
        ident = value[len(cls.PREFIX) : len(value) - len(cls.SUFFIX)]
        if not cls.ID.fullmatch(ident):
            raise InvalidArgument.one(field, f"{quote(value)}: the id {cls.ID_RULE}")
        return cls(ident)

    @classmethod
    def trusted(cls, value: str) -> Self:
        """The name in a value dpmatch itself produced (no validation)."""
        return cls(cls.trusted_id(value))

    @classmethod
    def format(cls, ident: str) -> str:
        """``str(cls(ident))`` without making the name (graphs carry millions)."""
        return f"{cls.PREFIX}{ident}{cls.SUFFIX}"

    @classmethod
    def trusted_id(cls, value: str) -> str:
        """``trusted(value).id`` without making the name (graphs carry millions)."""
        return value[len(cls.PREFIX) : len(value) - len(cls.SUFFIX)]


class OrganizationName(_Name):
    """ "organizations/{id}": a company or fund."""

    __slots__ = ()

    PREFIX = "organizations/"

    @property
    def vendor_profile(self) -> VendorProfileName:
        return VendorProfileName(self.id)


class VendorProfileName(_Name):
    """ "organizations/{id}/vendorProfile": what an organization offers as a data vendor."""

    __slots__ = ()

    PREFIX = "organizations/"
    SUFFIX = "/vendorProfile"

    @property
    def organization(self) -> OrganizationName:
        return OrganizationName(self.id)


class ClientName(_Name):
    """ "clients/{id}": one lab (or team) with its requirements and policy."""

    __slots__ = ()

    PREFIX = "clients/"

    @property
    def recommendations(self) -> RecommendationsName:
        return RecommendationsName(self.id)


class RecommendationsName(_Name):
    """ "clients/{id}/recommendations": a client's recommendation set."""

    __slots__ = ()

    PREFIX = "clients/"
    SUFFIX = "/recommendations"

    @property
    def client(self) -> ClientName:
        return ClientName(self.id)


class OwnershipEventName(_Name):
    """ "ownershipEvents/{event_id}": one entry of the ledger."""

    __slots__ = ()

    PREFIX = "ownershipEvents/"
    ID = EVENT_ID
    ID_RULE = EVENT_ID_RULE


TOKEN_ID = re.compile(r"[a-z0-9]{1,64}")
TOKEN_ID_RULE = "must be 1-64 characters of a-z and 0-9 (a token's jti)"


class TokenName(_Name):
    """ "tokens/{jti}": one issued bearer token in the registry."""

    __slots__ = ()

    PREFIX = "tokens/"
    ID = TOKEN_ID
    ID_RULE = TOKEN_ID_RULE


AUDIT_ENTRY_ID = re.compile(r"[1-9][0-9]{0,18}")
AUDIT_ENTRY_ID_RULE = "must be a positive integer"


class AuditEntryName(_Name):
    """ "auditEntries/{id}": one recorded write call in a server's audit log."""

    __slots__ = ()

    PREFIX = "auditEntries/"
    ID = AUDIT_ENTRY_ID
    ID_RULE = AUDIT_ENTRY_ID_RULE
