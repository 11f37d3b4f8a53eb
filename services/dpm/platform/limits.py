"""Per-caller limits on concurrent calls, so one lab cannot take a server's threads.

On a threaded server every call in progress, and every open stream, holds
one of ``max_workers`` threads: sixteen idle streams from one lab once
filled the matching server and every other lab's calls timed out. The
matching server now serves on asyncio (streams hold no thread; only
computations do, on its thread pool), but a lab must still not hold every
computation thread nor an unbounded number of streams. So:

- a lab (or auditor) holds at most ``per_caller_calls`` calls at once, streams
  included (on asyncio: computations on the thread pool), and at most
  ``per_caller_streams`` streams;
- all callers together hold at most ``total_streams`` streams, so unary calls
  always keep threads of their own.

A call past a limit is refused at once with RESOURCE_EXHAUSTED naming the
limit (it is not queued). dpmatch's own services and the admin are bounded
by the stream total only.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from dpm.platform.auth import Principal, Role
from dpm.platform.config import ServerSettings
from dpm.platform.errors import ResourceExhausted
from dpm.platform.telemetry import limit_refusals

# Roles whose calls count against per-caller limits (outsiders, one per token subject).
LIMITED_ROLES = frozenset({Role.LAB, Role.AUDITOR})
# Default bound on the streams an asyncio server holds open in total.
ASYNC_STREAMS = 1000


@dataclass(frozen=True)
class Limits:
    per_caller_calls: int
    per_caller_streams: int
    total_streams: int

    @classmethod
    def for_pool(
        cls, max_workers: int, per_caller_calls: int = 0, per_caller_streams: int = 2
    ) -> Limits:
        """Defaults for a pool of ``max_workers`` threads: half for any one caller,
        half at most for streams."""
        half = max(1, max_workers // 2)
        return cls(per_caller_calls or half, max(1, per_caller_streams), half)

    @classmethod
    def for_settings(cls, settings: ServerSettings, *, threaded: bool) -> Limits:
        """The limits a server's settings ask for. On a threaded server every call
        holds a thread; on an asyncio one only computations do (``total_streams``
        then bounds memory and Redis, not threads)."""
        limits = cls.for_pool(
            settings.max_workers, settings.max_calls_per_caller, settings.max_streams_per_caller
        )
        total = settings.max_streams or (limits.total_streams if threaded else ASYNC_STREAMS)
        return cls(limits.per_caller_calls, limits.per_caller_streams, total)


class CallLimiter:
    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self._lock = threading.Lock()
        self._calls: Counter[str] = Counter()
        self._streams: Counter[str] = Counter()
        self._all_streams = 0

    @contextmanager
    def hold(self, principal: Principal, *, stream: bool) -> Iterator[None]:
        """Count the call for its whole duration; RESOURCE_EXHAUSTED when over a limit."""
        key = principal.subject if principal.role in LIMITED_ROLES else ""
        with self._lock:
            try:
                self._check(key, stream)
            except ResourceExhausted as refused:
                limit_refusals.add(1, {"caller": key or "-", "reason": refused.reason})
                raise
            if key:
                self._calls[key] += 1
                if stream:
                    self._streams[key] += 1
            if stream:
                self._all_streams += 1
        try:
            yield
        finally:
            with self._lock:
                if key:
                    self._calls[key] -= 1
                    if not self._calls[key]:
                        del self._calls[key]
                    if stream:
                        self._streams[key] -= 1
                        if not self._streams[key]:
                            del self._streams[key]
                if stream:
                    self._all_streams -= 1

    def _check(self, key: str, stream: bool) -> None:
        limits = self.limits
        if key and self._calls[key] >= limits.per_caller_calls:
            raise ResourceExhausted(
                f"this token already has {limits.per_caller_calls} calls in progress, the limit "
                "per caller (DPM_MAX_CALLS_PER_CALLER); retry when one ends",
                reason="CALLS_PER_CALLER",
            )
        if stream and key and self._streams[key] >= limits.per_caller_streams:
            raise ResourceExhausted(
                f"this token already has {limits.per_caller_streams} open streams, the limit "
                "per caller (DPM_MAX_STREAMS_PER_CALLER); close one first",
                reason="STREAMS_PER_CALLER",
            )
        if stream and self._all_streams >= limits.total_streams:
            raise ResourceExhausted(
                f"the server already serves {limits.total_streams} streams, its limit; "
                "retry later or on another replica",
                reason="STREAMS_TOTAL",
            )
