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
from dpm.platform.errors import DeadlineExceeded, InvalidArgument, NotFound, Unavailable
from dpm.platform.names import RecommendationsName
from dpm.platform.telemetry import recommendation_reads

log = logging.getLogger(__name__)

# Seconds between recomputations while waiting for a minimum graph version.
RETRY_INTERVAL = 0.25
ANSWER_MARGIN = 0.5
# A computation holding the single-flight lock longer than this is presumed dead.
LOCK_SECONDS = 60.0


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
        remaining = context.time_remaining()
        # Keep part of the caller's deadline to say why we gave up.
        return self._max_wait if remaining is None else max(remaining - ANSWER_MARGIN, 0.0)

    def _get_or_compute(
        self, client_id: str, min_graph_version: int, budget: float
    ) -> matching_pb2.RecommendationSet:
        deadline = time.monotonic() + budget
        while True:
            rec = self._cache.get(client_id)
            if _fresh_enough(rec, min_graph_version):
                assert rec is not None
                recommendation_reads.add(1, {"cache": "hit"})
                return rec
            if time.monotonic() >= deadline:
                raise DeadlineExceeded(
                    f"no recommendations for {RecommendationsName(client_id).client} from "
                    f"graph version >= {min_graph_version} before the deadline"
                )
            # Single flight: one computation per client across all replicas;
            # the others wait for the lock and then find the result cached.
            lock = self._cache.lock(client_id, timeout=LOCK_SECONDS)
            if lock.acquire(blocking=True, blocking_timeout=max(deadline - time.monotonic(), 0.01)):
                try:
                    rec = self._cache.get(client_id)
                    if not _fresh_enough(rec, min_graph_version):
                        recommendation_reads.add(1, {"cache": "miss"})
                        rec = refresh(self._builder, self._cache, client_id)
                        if rec is None:
                            raise NotFound(f"{RecommendationsName(client_id).client} not found")
                finally:
                    _release(lock)
                if _fresh_enough(rec, min_graph_version):
                    assert rec is not None
                    return rec
                time.sleep(min(RETRY_INTERVAL, max(deadline - time.monotonic(), 0.0)))

    def GetRecommendations(
        self, request: matching_pb2.GetRecommendationsRequest, context: grpc.ServicerContext
    ) -> matching_pb2.RecommendationSet:
        name = RecommendationsName.parse(request.name, "name")
        require_client_access(str(name.client))
        client_id = name.id
        if request.min_graph_version < 0:
            raise InvalidArgument.one("min_graph_version", "must not be negative")
        return self._get_or_compute(
            client_id, request.min_graph_version, self._wait_budget(context)
        )

    def WatchRecommendations(
        self, request: matching_pb2.WatchRecommendationsRequest, context: grpc.ServicerContext
    ) -> Iterator[matching_pb2.RecommendationSet]:
        name = RecommendationsName.parse(request.name, "name")
        require_client_access(str(name.client))
        client_id = name.id
        # Subscribe before reading, so no change between the two is missed.
        pubsub = self._cache.subscribe(client_id)
        try:
            current = self._get_or_compute(client_id, 0, self._max_wait)
            yield current
            sent = current.versions
            while context.is_active():
                message = pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
                if message is None:
                    continue
                if ChangeNotice.parse(message["data"]).deleted:
                    return
                rec = self._cache.get(client_id)
                if rec is not None and rec.versions != sent:
                    sent = rec.versions
                    yield rec
        except redis.RedisError as exc:
            raise Unavailable(f"the recommendation cache went away: {exc}") from None
        finally:
            pubsub.close()
