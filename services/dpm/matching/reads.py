"""Reading a recommendation set the blocking way: from Redis, computed once on a miss
(single flight across replicas), or waited for until it reaches a graph version.

The asyncio servicer (``servicer.py``) answers cache hits itself and runs
these on its thread pool for everything else.
"""

from __future__ import annotations

import logging
import time

from redis.exceptions import LockError
from redis.lock import Lock

from dpm.matching.cache import RecommendationCache
from dpm.matching.compute import RecommendationBuilder, refresh
from dpm.matching.v1 import matching_pb2
from dpm.platform.errors import (
    DeadlineExceeded,
    FailedPrecondition,
    NotFound,
    Unavailable,
)
from dpm.platform.names import RecommendationsName
from dpm.platform.telemetry import count_miss, count_redis_hit

log = logging.getLogger(__name__)

# Seconds between recomputations while waiting for a minimum graph version.
# Part of the caller's deadline kept to answer why we gave up.
ANSWER_MARGIN = 0.5
# A computation holding the single-flight lock longer than this is presumed dead.
LOCK_SECONDS = 60.0
# How often a waiter looks again when no notice came (a lost notice costs this much).
POLL_SECONDS = 1.0


def _release(lock: Lock) -> None:
    try:
        lock.release()
    except LockError:  # expired while we computed; the result is stored either way
        log.warning("single-flight lock %s expired during the computation", lock.name)


def _fresh_enough(rec: matching_pb2.RecommendationSet | None, min_graph_version: int) -> bool:
    return rec is not None and rec.versions.graph_version >= min_graph_version


class RecommendationReads:
    def __init__(
        self, cache: RecommendationCache, builder: RecommendationBuilder, max_wait: float
    ) -> None:
        self._cache = cache
        self._builder = builder
        self._max_wait = max_wait

    def wait_budget(self, remaining: float | None) -> float:
        """How long a call may wait: its deadline less a margin, never more than max_wait."""
        if remaining is None:
            return self._max_wait
        return min(max(remaining - ANSWER_MARGIN, 0.0), self._max_wait)

    def _compute(
        self, client_id: str, min_graph_version: int, deadline: float
    ) -> matching_pb2.RecommendationSet | None:
        """Compute once across all replicas (single flight) unless the cache already has it.

        None when the lock could not be had before the deadline.
        """
        lock = self._cache.lock(client_id, timeout=LOCK_SECONDS)
        if not lock.acquire(blocking=True, blocking_timeout=max(deadline - time.monotonic(), 0.01)):
            return None
        try:
            rec = self._cache.get_served(client_id)
            if _fresh_enough(rec, min_graph_version):
                return rec
            count_miss()
            rec = refresh(self._builder, self._cache, client_id)
            if rec is None:
                raise NotFound(f"{RecommendationsName(client_id).client} not found")
            return rec
        finally:
            _release(lock)

    def get(self, client_id: str, budget: float) -> matching_pb2.RecommendationSet:
        """The cached set, or computed once on a miss."""
        rec = self._cache.get_served(client_id)
        if rec is not None:
            count_redis_hit()
            return rec
        deadline = time.monotonic() + budget
        while True:
            rec = self._compute(client_id, 0, deadline)
            if rec is not None:
                return rec
            rec = self._cache.get_served(client_id)  # another replica computed it
            if rec is not None:
                return rec
            if time.monotonic() >= deadline:
                raise DeadlineExceeded(
                    f"recommendations for {RecommendationsName(client_id).client} are being "
                    "computed; not ready before the deadline"
                )

    def get_at_least(
        self, client_id: str, min_graph_version: int, budget: float
    ) -> matching_pb2.RecommendationSet:
        """A set from at least ``min_graph_version``, or DEADLINE_EXCEEDED saying why not.

        The caller usually just recorded that version: one computation from the
        current ledger finds it (the workers may not re-match this client at
        all when the event does not concern it). Otherwise wait on change
        notices and recompute only when the ledger announces a newer graph.
        """
        deadline = time.monotonic() + budget
        rec = self._cache.get_served(client_id)
        if _fresh_enough(rec, min_graph_version):
            count_redis_hit()
            assert rec is not None
            return rec
        pubsub = self._cache.subscribe_for_version(client_id)
        try:
            computed_for = -1  # the latest announced graph version when we last computed
            why = "no ownership event has reached that version yet"
            while True:
                latest = self._cache.latest_graph_version()
                if latest > computed_for:
                    computed_for = latest
                    try:
                        rec = self._compute(client_id, min_graph_version, deadline)
                    except (FailedPrecondition, Unavailable) as exc:
                        why = exc.message
                    if _fresh_enough(rec, min_graph_version):
                        assert rec is not None
                        return rec
                    if rec is not None:
                        why = f"the ledger is at graph version {rec.versions.graph_version}"
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise DeadlineExceeded(
                        f"no recommendations for {RecommendationsName(client_id).client} from "
                        f"graph version >= {min_graph_version} before the deadline: {why}"
                    )
                pubsub.get_message(timeout=min(remaining, POLL_SECONDS))
                rec = self._cache.get_served(client_id)
                if _fresh_enough(rec, min_graph_version):
                    assert rec is not None
                    return rec
        finally:
            pubsub.close()
