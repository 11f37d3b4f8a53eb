"""Deterministic names for what BODS records become, so a re-import lands on the same things.

- A party (entity or person record) becomes the organization ``party_slug(record id)``:
  "bods-" and the record id when it is already a slug, else a readable
  prefix and a hash of the exact id. A record id that is a dpmatch
  organization's resource name (``OrganizationName``, as dpmatch's own export
  writes them) names that organization.
- A relationship statement's events are
  ``bods:{record}:{statement}.{content}:{part}``: record and statement ids
  as tokens (the id itself when short and plain, else a hash), a hash of
  what the statement says, and which part of it the event records
  ("stake.2016-04-06", "seats-end.2020-01-01", "retract-stake.2016-04-06").
  The content hash tells "already imported" from "same id, different content".
"""

from __future__ import annotations

import hashlib
import re

from dpm.platform.names import SLUG, OrganizationName

PREFIX = "bods-"
EVENT_PREFIX = "bods:"
PLAIN_SLUG = re.compile(r"[a-z0-9][a-z0-9-]{0,57}")
PLAIN_TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,39}")
NOT_SLUG = re.compile(r"[^a-z0-9]+")


def digest(value: str, length: int) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()[:length]


def party_slug(record_id: str) -> str:
    """The organization id a BODS entity or person record maps to."""
    if OrganizationName.matches(record_id):
        return OrganizationName.trusted(record_id).id
    if PLAIN_SLUG.fullmatch(record_id):
        return PREFIX + record_id
    readable = NOT_SLUG.sub("-", record_id.lower()).strip("-")[:36].strip("-")
    slug = (
        f"{PREFIX}{readable}-{digest(record_id, 10)}"
        if readable
        else PREFIX + digest(record_id, 20)
    )
    assert SLUG.fullmatch(slug), slug
    return slug


def token(value: str) -> str:
    """A BODS id as one ':'-free piece of an event id."""
    return value if PLAIN_TOKEN.fullmatch(value) else "h" + digest(value, 24)


def event_id(record_id: str, statement_id: str, content: str, part: str) -> str:
    return f"{EVENT_PREFIX}{token(record_id)}:{token(statement_id)}.{content}:{part}"


def parse_event_id(value: str) -> tuple[str, str, str, str] | None:
    """(record token, statement token, content hash, part) of an event an import recorded."""
    if not value.startswith(EVENT_PREFIX):
        return None
    pieces = value[len(EVENT_PREFIX) :].split(":")
    if len(pieces) != 3 or "." not in pieces[1]:
        return None
    statement, _, content = pieces[1].rpartition(".")
    return pieces[0], statement, content, pieces[2]


def exported_statement_id(*parts: str) -> str:
    """A statementId for dpmatch's export: 32-64 characters, the same for the same content."""
    return "dpmatch-" + digest("\x1f".join(parts), 40)
