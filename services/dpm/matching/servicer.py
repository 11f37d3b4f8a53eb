"""MatchingService: recommendations from the cache, computed once on a miss."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator

import grpc
import redis
from redis.exceptions import LockError
from redis.lock import Lock

from dpm.matching.cache import ChangeNotice, RecommendationCache
from dpm.matching.compute import RecommendationBuilder, refresh
from dpm.matching.v1 import matching_pb2, matching_pb2_grpc
from dpm.platform.auth import require_client_access
from dpm.platform.errors import (
    DeadlineExceeded,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    Unavailable,
)
from dpm.platform.names import RecommendationsName
from dpm.platform.telemetry import recommendation_reads

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


class MatchingServicer(matching_pb2_grpc.MatchingServiceServicer):
    def __init__(
        self, cache: RecommendationCache, builder: RecommendationBuilder, max_wait: float
    ) -> None:
        self._cache = cache
        self._builder = builder
        self._max_wait = max_wait

    def _wait_budget(self, context: grpc.ServicerContext) -> float:
        """How long a call may wait: its deadline less a margin, never more than max_wait."""
        remaining = context.time_remaining()
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
            recommendation_reads.add(1, {"cache": "miss"})
            rec = refresh(self._builder, self._cache, client_id)
            if rec is None:
                raise NotFound(f"{RecommendationsName(client_id).client} not found")
            return rec
        finally:
            _release(lock)

    def _get(self, client_id: str, budget: float) -> matching_pb2.RecommendationSet:
        """The cached set, or computed once on a miss."""
        rec = self._cache.get_served(client_id)
        if rec is not None:
            recommendation_reads.add(1, {"cache": "hit"})
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

    def _get_at_least(
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
            recommendation_reads.add(1, {"cache": "hit"})
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

    def GetRecommendations(
        self, request: matching_pb2.GetRecommendationsRequest, context: grpc.ServicerContext
    ) -> matching_pb2.RecommendationSet:
        name = RecommendationsName.parse(request.name, "name")
        require_client_access(str(name.client))
        if request.min_graph_version < 0:
            raise InvalidArgument.one("min_graph_version", "must not be negative")
        budget = self._wait_budget(context)
        try:
            if request.min_graph_version:
                return self._get_at_least(name.id, request.min_graph_version, budget)
            return self._get(name.id, budget)
        except redis.RedisError as exc:
            raise Unavailable(f"the recommendation cache does not answer: {exc}") from None

    def WatchRecommendations(
        self, request: matching_pb2.WatchRecommendationsRequest, context: grpc.ServicerContext
    ) -> Iterator[matching_pb2.RecommendationSet]:
        name = RecommendationsName.parse(request.name, "name")
        require_client_access(str(name.client))
        client_id = name.id
        # Subscribe before reading, so no change between the two is missed.
        pubsub = self._cache.subscribe(client_id)
        try:
            current = self._get(client_id, self._max_wait)
            yield current
            sent = current.versions
            while context.is_active():
                message = pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
                if message is None:
                    continue
                if ChangeNotice.parse(message["data"]).deleted:
                    return
                rec = self._cache.get_served(client_id)
                if rec is not None and rec.versions != sent:
                    sent = rec.versions
                    yield rec
        except redis.RedisError as exc:
            raise Unavailable(f"the recommendation cache went away: {exc}") from None
        finally:
            pubsub.close()
