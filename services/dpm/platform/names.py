"""Resource names ("organizations/scale-ai", "clients/google") and ids."""

from __future__ import annotations

import re

from dpm.platform.errors import InvalidArgument

SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
EVENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")

SLUG_RULE = "must be 1-63 characters of a-z, 0-9 and '-', starting with a letter or digit"


def check_slug(value: str, field: str) -> str:
    if not value:
        raise InvalidArgument.one(field, "is required")
    if not SLUG.match(value):
        raise InvalidArgument.one(field, f"{value!r} {SLUG_RULE}")
    return value


def parse_name(value: str, collection: str, field: str, suffix: str = "") -> str:
    """Return the id in "{collection}/{id}{suffix}", or raise INVALID_ARGUMENT naming field."""
    if not value:
        raise InvalidArgument.one(field, "is required")
    prefix = f"{collection}/"
    if not value.startswith(prefix) or (suffix and not value.endswith(suffix)):
        raise InvalidArgument.one(field, f"{value!r} must look like '{prefix}{{id}}{suffix}'")
    ident = value[len(prefix) : len(value) - len(suffix)] if suffix else value[len(prefix) :]
    if not SLUG.match(ident):
        raise InvalidArgument.one(field, f"{value!r}: the id {SLUG_RULE}")
    return ident


ORG_PREFIX = "organizations/"


def org_name(org_id: str) -> str:
    return f"{ORG_PREFIX}{org_id}"


def org_id(name: str) -> str:
    """ "organizations/scale-ai" -> "scale-ai" (no validation: for names already checked)."""
    return name.removeprefix(ORG_PREFIX)


def client_name(client_id: str) -> str:
    return f"clients/{client_id}"
