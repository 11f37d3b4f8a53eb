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

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from dpm.matching.cache import RecommendationCache
from dpm.matching.near_cache import NearCache

log = logging.getLogger(__name__)

# Seconds between attempts to subscribe again after the subscription broke (doubling).
RETRY_SECONDS = (0.1, 5.0)


class ChangeListener:
    def __init__(
        self, client: aioredis.Redis, names: RecommendationCache, near_cache: NearCache
    ) -> None:
        self._client = client
        self._invalidated = names.invalidation_channel
        self._changed_prefix = names.channel("")
        self._near = near_cache
        self._watchers: dict[str, set[asyncio.Event]] = {}
        self.subscribed = asyncio.Event()

    @contextmanager
    def watch(self, client_id: str) -> Iterator[asyncio.Event]:
        """An event set whenever the client's set may have changed; the caller clears it."""
        event = asyncio.Event()
        self._watchers.setdefault(client_id, set()).add(event)
        try:
            yield event
        finally:
            events = self._watchers.get(client_id)
            if events is not None:
                events.discard(event)
                if not events:
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
            for event in self._watchers.get(client_id, ()):
                event.set()

    def _wake_all(self) -> None:
        for events in self._watchers.values():
            for event in events:
                event.set()
