"""Field rules the catalog's inputs share: bounded free text, URLs, dates in a sane window,
enum values this server knows, share ranges and provenance.

Each rule adds a violation naming the field to a ``Violations`` collector, so
one INVALID_ARGUMENT can name every bad field; a bad value is quoted back
only as a short prefix (``dpm.platform.names.quote``).
"""

from __future__ import annotations

import datetime as dt
import math
import re

from google.protobuf.internal.enum_type_wrapper import EnumTypeWrapper

from dpm.ownership.v1 import ownership_pb2
from dpm.platform.dates import BadDate, to_date
from dpm.platform.errors import Violations
from dpm.platform.names import quote

# Longest accepted free text, in characters.
SUMMARY_LIMIT = 2000
URL_LIMIT = 2000
NAME_LIMIT = 300  # person, role, asserted_by, statement_id, display names

# C0 controls and DEL: never in a one-line value; in multi-line text only tab and newlines.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_CONTROL_MULTILINE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def text(
    v: Violations,
    value: str,
    field: str,
    limit: int,
    *,
    required: bool = False,
    multiline: bool = False,
) -> bool:
    """At most ``limit`` characters, no control characters (no NUL); non-blank when required."""
    if required and not value.strip():
        v.add(field, "is required")
        return False
    if len(value) > limit:
        v.add(field, f"{quote(value)} is longer than {limit} characters")
        return False
    pattern = _CONTROL_MULTILINE if multiline else _CONTROL
    found = pattern.search(value)
    if found:
        v.add(field, f"{quote(value)} contains the control character {found.group()!r}")
        return False
    return True


def url(v: Violations, value: str, field: str) -> bool:
    """Empty, or an http or https URL of at most URL_LIMIT characters."""
    if not value:
        return True
    if not text(v, value, field, URL_LIMIT):
        return False
    return v.check(
        value.startswith(("http://", "https://")) and " " not in value,
        field,
        f"{quote(value)} must be an http or https URL",
    )


def date(v: Violations, value: str, field: str, *, required: bool = True) -> dt.date | None:
    """An ISO 8601 date "YYYY-MM-DD" between EARLIEST and LATEST."""
    if not value:
        if required:
            v.add(field, "is required (YYYY-MM-DD)")
        return None
    try:
        return to_date(value)
    except BadDate as bad:
        v.add(field, str(bad))
        return None


def enum(
    v: Violations, value: int, enum_type: EnumTypeWrapper, field: str, *, unspecified: bool
) -> bool:
    """A value ``enum_type`` defines; its UNSPECIFIED (0) only when ``unspecified``."""
    if value == 0 and not unspecified:
        v.add(field, f"must not be {enum_type.Name(0)}")
        return False
    return v.check(
        value in enum_type.values(), field, f"{value} is not a value of {enum_type.DESCRIPTOR.name}"
    )


def fraction(v: Violations, value: float, field: str) -> bool:
    return v.check(
        math.isfinite(value) and 0.0 <= value <= 1.0,
        field,
        f"{value!r} must be a fraction in [0, 1]",
    )


def share_range(v: Violations, share: ownership_pb2.ShareRange, field: str) -> bool:
    """Bounds are fractions, minimum <= maximum, and some value lies within them."""
    ok = True
    if share.HasField("minimum"):
        ok &= fraction(v, share.minimum, f"{field}.minimum")
    if share.HasField("maximum"):
        ok &= fraction(v, share.maximum, f"{field}.maximum")
    if not ok:
        return False
    low = share.minimum if share.HasField("minimum") else 0.0
    high = share.maximum if share.HasField("maximum") else 1.0
    if low > high or (low == high and (share.exclusive_minimum or share.exclusive_maximum)):
        v.add(f"{field}.maximum", f"the range from {low!r} to {high!r} holds no value")
        return False
    return True


def provenance(v: Violations, value: ownership_pb2.Provenance, field: str) -> None:
    enum(v, value.source_type, ownership_pb2.SourceType, f"{field}.source_type", unspecified=True)
    text(v, value.asserted_by, f"{field}.asserted_by", NAME_LIMIT)
    text(v, value.statement_id, f"{field}.statement_id", NAME_LIMIT)
    date(v, value.statement_date, f"{field}.statement_date", required=False)
