"""The token revocation list: in Redis for everyone, in memory in every server.

Redis holds one sorted set, ``{prefix}revoked-tokens``: member = a revoked
token's ``jti``, score = its expiry (seconds since the epoch), so entries
whose token would have expired anyway are pruned by score. A revocation is
written there first (the requirements server does it before committing its
own record, so a Redis failure refuses the revocation rather than losing it)
and announced on the channel of the same name.

Every server keeps a ``RevocationList`` (a dict: one lookup per call) that a
``RevocationFollower`` thread fills: a full read at start, at once on every
notice, and every ``revocation_refresh_seconds`` as a backstop for missed
notices. Until the first read succeeds the list is not loaded: the server is
not ready and refuses calls (UNAVAILABLE). If Redis goes away later, the last
list stays in force and the outage is logged.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Iterable, Mapping

import redis

log = logging.getLogger(__name__)

KEY = "revoked-tokens"


class RevocationList:
    """Revoked jtis with their expiry, as this process last read them."""

    def __init__(self) -> None:
        self._revoked: dict[str, float] = {}
        self._loaded = threading.Event()
        self.loaded_at = 0.0

    @property
    def loaded(self) -> bool:
        return self._loaded.is_set()

    def is_revoked(self, jti: str) -> bool:
        return jti in self._revoked

    def add(self, revoked: Iterable[tuple[str, float]]) -> None:
        """Revocations this process made itself: in force here before Redis' notice comes back."""
        self._revoked = {**self._revoked, **dict(revoked)}

    def replace(self, revoked: Mapping[str, float], now: float | None = None) -> None:
        """Take ``revoked`` as the whole list (dropping entries already expired)."""
        now = time.time() if now is None else now
        # One assignment: readers see the old dict or the new one, never a half-built one.
        self._revoked = {jti: exp for jti, exp in revoked.items() if exp > now}
        self.loaded_at = now
        self._loaded.set()

    def __len__(self) -> int:
        return len(self._revoked)


class RevocationStore:
    """The shared list in Redis: add revocations, read them all."""

    def __init__(self, client: redis.Redis, prefix: str) -> None:
        self._client = client
        self.key = f"{prefix}{KEY}"
        self.channel = self.key

    def add(self, revoked: Iterable[tuple[str, float]], now: float | None = None) -> int:
        """Add ``(jti, expiry)`` pairs, prune expired ones, notify every server.

        Returns how many were new. Raises ``redis.RedisError`` when Redis does not take them.
        """
        now = time.time() if now is None else now
        entries = {jti: exp for jti, exp in revoked if exp > now}
        pipe = self._client.pipeline(transaction=True)
        if entries:
            pipe.zadd(self.key, entries)
        pipe.zremrangebyscore(self.key, "-inf", now)
        added = int(pipe.execute()[0]) if entries else 0
        if added:
            self._client.publish(self.channel, str(added))
        return added

    def load(self, now: float | None = None) -> dict[str, float]:
        now = time.time() if now is None else now
        pairs: list[tuple[bytes, float]] = self._client.zrangebyscore(  # type: ignore[assignment]
            self.key, now, "+inf", withscores=True
        )
        return {jti.decode(): float(exp) for jti, exp in pairs}

    def subscribe(self) -> redis.client.PubSub:
        pubsub = self._client.pubsub(ignore_subscribe_messages=True)
        pubsub.subscribe(self.channel)
        return pubsub


class RevocationFollower:
    """Keeps a RevocationList equal to the store: at start, on notices, periodically."""

    def __init__(
        self, store: RevocationStore, revocations: RevocationList, refresh_seconds: float
    ) -> None:
        self.store = store
        self.revocations = revocations
        self._refresh = refresh_seconds
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="revocations", daemon=True)
        self._failing = False

    def start(self) -> None:
        """One read now (a healthy server is ready at once), then follow in the background."""
        try:
            self._load()
        except redis.RedisError as exc:
            self._report(exc)
        self._thread.start()

    def stop(self) -> None:
        """Ask the thread to end (within half a second; a stopping server does not wait for it)."""
        self._stop.set()

    def readiness(self) -> str | None:
        return None if self.revocations.loaded else "token revocations: not loaded yet"

    def _load(self) -> None:
        self.revocations.replace(self.store.load())
        if self._failing:
            log.info("token revocations: read again (%d revoked)", len(self.revocations))
            self._failing = False

    def _report(self, exc: Exception) -> None:
        if not self._failing:
            state = "keeping the last list" if self.revocations.loaded else "none loaded yet"
            log.warning("token revocations: Redis does not answer (%s); %s", exc, state)
            self._failing = True

    def _run(self) -> None:
        while not self._stop.is_set():
            pubsub = None
            try:
                pubsub = self.store.subscribe()
                self._load()  # after subscribing: no revocation falls between the two
                next_full = time.monotonic() + self._refresh
                while not self._stop.is_set():
                    wait = max(min(next_full - time.monotonic(), 0.5), 0.0)
                    if pubsub.get_message(timeout=wait) is not None:
                        self._load()
                    if time.monotonic() >= next_full:
                        self._load()
                        next_full = time.monotonic() + self._refresh
            except Exception as exc:  # Redis down, or its client closed under us at shutdown
                if self._stop.is_set():
                    break
                self._report(exc)
                self._stop.wait(1.0)
            finally:
                if pubsub is not None:
                    with contextlib.suppress(Exception):
                        pubsub.close()
