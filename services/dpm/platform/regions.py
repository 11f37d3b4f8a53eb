"""Region codes as the API spells them: ISO 3166-1 alpha-2, and "EU" for its members.

Shared vocabulary, like ``names``: the catalog's search and matching's ranking read
a region list the same way."""

from __future__ import annotations

from collections.abc import Iterable

# Member states, ISO 3166-1 alpha-2 (Greece as GR).
_EU_CODES = "AT BE BG HR CY CZ DK EE FI FR DE GR HU IE IT LV LT LU MT NL PL PT RO SK SI ES SE"
EU_MEMBERS = frozenset(_EU_CODES.split())


def in_any(codes: Iterable[str], allowed: set[str]) -> bool:
    """True when one of ``codes`` is in ``allowed`` ("EU" there admits every member)."""
    eu = "EU" in allowed
    return any(code in allowed or (eu and code in EU_MEMBERS) for code in codes)
