"""Effective dates travel as ISO 8601 strings ("YYYY-MM-DD") on the wire.

Every read that depends on a date takes it explicitly: nothing here defaults
to the server's clock except ``today`` itself, which callers choose to use.
"""

from __future__ import annotations

import datetime as dt
import re

from dpm.platform.errors import InvalidArgument
from dpm.platform.names import quote

# Dates outside this window are typing errors, not facts (a stake dated
# 9999-12-31 would sort after every correction of its holding).
EARLIEST = dt.date(1800, 1, 1)
LATEST = dt.date(2199, 12, 31)
# fromisoformat alone also takes "20250612" and "2025-W24-4".
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


class BadDate(ValueError):
    """``str(error)`` says why, quoting at most a short prefix of the value."""


def to_date(value: str) -> dt.date:
    """The date in a non-empty ``value``: strict "YYYY-MM-DD" within EARLIEST..LATEST."""
    try:
        if not _ISO_DATE.fullmatch(value):
            raise ValueError(value)
        day = dt.date.fromisoformat(value)
    except ValueError:
        raise BadDate(f"{quote(value)} is not a date (YYYY-MM-DD)") from None
    if not EARLIEST <= day <= LATEST:
        raise BadDate(
            f"{value} is outside {EARLIEST.isoformat()} .. {LATEST.isoformat()} (a typo?)"
        )
    return day


def parse_date(value: str, field: str) -> dt.date:
    """The date in ``value``, or INVALID_ARGUMENT naming ``field``."""
    if not value:
        raise InvalidArgument.one(field, "is required (YYYY-MM-DD)")
    try:
        return to_date(value)
    except BadDate as bad:
        raise InvalidArgument.one(field, str(bad)) from None


def today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()
