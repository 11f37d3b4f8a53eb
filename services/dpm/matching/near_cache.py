"""Served recommendation sets kept in a matching process's memory.

A cache hit then costs no Redis round trip (the profile of the first
version spent 40% of its time there). Entries are dropped when the cache's
invalidation channel names their client (``ChangeListener``), when the
listener lost its subscription (it may have missed news), and after
``ttl`` seconds whatever happens, as a backstop. A read that raced with an
invalidation is not kept: ``begin`` before reading Redis, ``finish`` after,
and an invalidation in between voids the fill.

Only the event loop's thread uses it: no locks.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Entry:
    data: bytes  # the served set, serialized (``cache.served_bytes``)
    graph_version: int
    expires: float


class NearCache:
    def __init__(
        self, max_entries: int, ttl: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._max_entries = max_entries
        self._ttl = ttl
        self._clock = clock
        self._entries: OrderedDict[str, Entry] = OrderedDict()
        self._fills: dict[str, set[object]] = {}
        # Off until the invalidation listener is subscribed, and whenever it is not.
        self.active = False

    @property
    def enabled(self) -> bool:
        return self.active and self._max_entries > 0 and self._ttl > 0

    def get(self, client_id: str) -> Entry | None:
        entry = self._entries.get(client_id)
        if entry is None or not self.enabled:
            return None
        if entry.expires <= self._clock():
            del self._entries[client_id]
            return None
        self._entries.move_to_end(client_id)
        return entry

    def begin(self, client_id: str) -> object:
        """Before reading a set from Redis: the ticket ``finish`` needs to keep it."""
        ticket = object()
        self._fills.setdefault(client_id, set()).add(ticket)
        return ticket

    def finish(self, client_id: str, ticket: object, data: bytes, graph_version: int) -> None:
        """Keep what was read, unless the client was invalidated since ``begin``."""
        tickets = self._fills.get(client_id)
        if tickets is None or ticket not in tickets:
            return
        tickets.discard(ticket)
        if not tickets:
            del self._fills[client_id]
        if not self.enabled:
            return
        self._entries[client_id] = Entry(data, graph_version, self._clock() + self._ttl)
        self._entries.move_to_end(client_id)
        while len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)

    def abandon(self, client_id: str, ticket: object) -> None:
        """The read after ``begin`` failed or found nothing."""
        tickets = self._fills.get(client_id)
        if tickets is not None:
            tickets.discard(ticket)
            if not tickets:
                del self._fills[client_id]

    def invalidate(self, client_ids: Iterable[str]) -> None:
        for client_id in client_ids:
            self._entries.pop(client_id, None)
            self._fills.pop(client_id, None)

    def clear(self) -> None:
        self._entries.clear()
        self._fills.clear()

    def __len__(self) -> int:
        return len(self._entries)
