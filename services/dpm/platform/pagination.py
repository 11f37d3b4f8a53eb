"""Opaque page tokens: signed, so a token we did not issue is refused.

A token carries the last key of the previous page (keyset pagination) and a
fingerprint of the query, so it cannot be replayed against another filter.
"""

from __future__ import annotations

from typing import Any

from itsdangerous import BadSignature, URLSafeSerializer

from dpm.platform.errors import InvalidArgument

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000


class PageTokens:
    def __init__(self, secret: str, salt: str) -> None:
        self._serializer = URLSafeSerializer(secret, salt=f"dpm.page.{salt}")

    def issue(self, last_key: Any, query: Any = None) -> str:
        return self._serializer.dumps({"k": last_key, "q": query})

    def read(self, token: str, query: Any = None, field: str = "page_token") -> Any:
        """Return the last key the token carries (None for the first page)."""
        if not token:
            return None
        try:
            payload = self._serializer.loads(token)
        except BadSignature:
            raise InvalidArgument.one(field, "was not issued by this service") from None
        if payload.get("q") != query:
            raise InvalidArgument.one(field, "belongs to a different query")
        return payload["k"]


def page_size(requested: int, field: str = "page_size") -> int:
    if requested < 0:
        raise InvalidArgument.one(field, "must not be negative")
    return min(requested or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
