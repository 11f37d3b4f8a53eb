"""Effective dates travel as ISO 8601 strings ("YYYY-MM-DD") on the wire."""

from __future__ import annotations

import datetime as dt

from dpm.platform.errors import InvalidArgument


def parse_date(value: str, field: str, *, default_today: bool = False) -> dt.date:
    if not value:
        if default_today:
            return today()
        raise InvalidArgument.one(field, "is required (YYYY-MM-DD)")
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise InvalidArgument.one(field, f"{value!r} is not a date (YYYY-MM-DD)") from None


def today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()
