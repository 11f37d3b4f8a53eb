"""One Redis subscription per matching process, for its near cache and its watchers.

It listens to the cache's invalidation channel (every change of a client's
hash: the near cache drops that client) and to every client's change
notices (a ``WatchRecommendations`` of that client looks again). Streams
thus hold no Redis connection of their own. When the subscription breaks,
news may have been missed: the near cache is emptied and switched off, and
every watcher looks again, until the listener is subscribed anew.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from dpm.matching.cache import ChangeNotice, RecommendationCache
from dpm.matching.near_cache import NearCache

log = logging.getLogger(__name__)

# Seconds between attempts to subscribe again after the subscription broke (doubling).
RETRY_SECONDS = (0.1, 5.0)


@dataclass(eq=False)
class Watch:
    """One watcher's news: ``changed`` is set whenever the client's set may have changed
    (the watcher clears it); ``trace`` holds the trace context of the last write it was
    told of (W3C headers; empty when the writer was not traced or news was lost)."""

    changed: asyncio.Event = field(default_factory=asyncio.Event)
    trace: dict[str, str] = field(default_factory=dict)


class ChangeListener:
    def __init__(
        self, client: aioredis.Redis, names: RecommendationCache, near_cache: NearCache
    ) -> None:
        self._client = client
        self._invalidated = names.invalidation_channel
        self._changed_prefix = names.channel("")
        self._near = near_cache
        self._watchers: dict[str, set[Watch]] = {}
        self.subscribed = asyncio.Event()

    @contextmanager
    def watch(self, client_id: str) -> Iterator[Watch]:
        """News of the client's set while the block runs (see ``Watch``)."""
        watch = Watch()
        self._watchers.setdefault(client_id, set()).add(watch)
        try:
            yield watch
        finally:
            watches = self._watchers.get(client_id)
            if watches is not None:
                watches.discard(watch)
                if not watches:
                    del self._watchers[client_id]

    async def run(self) -> None:
        """Listen until cancelled, subscribing again (with backoff) whenever it breaks."""
        delay = RETRY_SECONDS[0]
        while True:
            try:
                async with self._client.pubsub(ignore_subscribe_messages=True) as pubsub:
                    await pubsub.subscribe(self._invalidated)
                    await pubsub.psubscribe(f"{self._changed_prefix}*")
                    self._near.clear()  # what was kept before may have missed news
                    self._near.active = True
                    self.subscribed.set()
                    self._wake_all()
                    delay = RETRY_SECONDS[0]
                    async for message in pubsub.listen():
                        self._dispatch(message)
            except (RedisError, OSError) as exc:
                log.warning("change notices lost (%s); subscribing again in %.1f s", exc, delay)
            finally:
                self._near.active = False
                self._near.clear()
                self.subscribed.clear()
            self._wake_all()
            await asyncio.sleep(delay)
            delay = min(delay * 2, RETRY_SECONDS[1])

    def _dispatch(self, message: dict[str, object]) -> None:
        data = message.get("data")
        if not isinstance(data, bytes):
            return
        if message.get("type") == "message":  # the invalidation channel
            self._near.invalidate(data.decode().split("\n"))
            return
        channel = message.get("channel")
        if isinstance(channel, bytes):
            client_id = channel.decode()[len(self._changed_prefix) :]
            watches = self._watchers.get(client_id)
            if watches:
                trace = _trace_of(data)
                for watch in watches:
                    watch.trace = trace
                    watch.changed.set()

    def _wake_all(self) -> None:
        for watches in self._watchers.values():
            for watch in watches:
                watch.trace = {}
                watch.changed.set()


def _trace_of(notice: bytes) -> dict[str, str]:
    """The trace context a change notice carries, if it parses."""
    try:
        return ChangeNotice.parse(notice).trace
    except (ValueError, KeyError, TypeError, AttributeError):
        return {}
