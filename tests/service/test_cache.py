"""The recommendation cache against a real Redis: compare-and-set, notices, locks."""

from __future__ import annotations

import contextlib
import itertools
import json
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from redis.client import PubSub

from dpm.matching.cache import (
    PUT_BATCH,
    ChangeNotice,
    Encoded,
    PutResult,
    RecommendationCache,
    dominates,
)
from dpm.matching.v1 import matching_pb2
from dpm.platform.errors import InvalidArgument

Versions = tuple[int, int, int]


@pytest.fixture
def redis_client(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()


@pytest.fixture
def cache(redis_client: redis.Redis, redis_namespace: str) -> Iterator[RecommendationCache]:
    yield RecommendationCache(redis_client, prefix=redis_namespace)
    keys = list(redis_client.scan_iter(match=f"{redis_namespace}*"))
    if keys:
        redis_client.delete(*keys)


def rec(
    client_id: str, versions: Versions, vendor: str = "organizations/turing"
) -> matching_pb2.RecommendationSet:
    g, c, r = versions
    out = matching_pb2.RecommendationSet(
        name=f"clients/{client_id}/recommendations",
        ranked=[
            matching_pb2.RankedVendor(
                rank=1,
                vendor=vendor,
                display_name="Turing",
                score=0.8125,
                breakdown=matching_pb2.ScoreBreakdown(
                    fit=1.0, quality=0.9, price=0.5, neutrality=0.75
                ),
                notes=["a competitor holds 4% through a fund"],
            )
        ],
        excluded=[
            matching_pb2.ExcludedVendor(
                vendor="organizations/scale-ai",
                display_name="Scale AI",
                reasons=[
                    matching_pb2.ExclusionReason(
                        kind=matching_pb2.EXCLUSION_KIND_NEUTRALITY,
                        message="meta holds 49% of the equity",
                    )
                ],
            )
        ],
        versions=matching_pb2.SourceVersions(
            graph_version=g, catalog_version=c, requirements_revision=r
        ),
        # Tags the data with its versions, so tests can see data and versions agree.
        as_of=f"{g}-{c}-{r}",
    )
    out.compute_time.FromSeconds(1_767_225_600)
    return out


def stored(cache: RecommendationCache, client_id: str) -> Versions | None:
    v = cache.versions(client_id)
    return None if v is None else (v.graph_version, v.catalog_version, v.requirements_revision)


def subscribed(cache: RecommendationCache, redis_client: redis.Redis, client_id: str) -> PubSub:
    """Subscribe and wait until Redis has registered the subscription."""
    pubsub = cache.subscribe(client_id)
    deadline = time.monotonic() + 5
    channel = cache.channel(client_id)
    while dict(redis_client.pubsub_numsub(channel)).get(channel.encode(), 0) < 1:
        pubsub.get_message(timeout=0.01)
        assert time.monotonic() < deadline, "subscription never registered"
    return pubsub


def notices(pubsub: PubSub, wait: float) -> list[ChangeNotice]:
    """Every notice that arrives within ``wait`` seconds."""
    out: list[ChangeNotice] = []
    deadline = time.monotonic() + wait
    while (left := deadline - time.monotonic()) > 0:
        message = pubsub.get_message(timeout=left)
        if message is not None and message["type"] in ("message", "pmessage"):
            out.append(ChangeNotice.parse(message["data"]))
    return out


def next_notice(pubsub: PubSub, wait: float = 5.0) -> ChangeNotice:
    deadline = time.monotonic() + wait
    while (left := deadline - time.monotonic()) > 0:
        message = pubsub.get_message(timeout=left)
        if message is not None and message["type"] in ("message", "pmessage"):
            return ChangeNotice.parse(message["data"])
    raise AssertionError("no notice received")


def test_a_miss_is_none(cache: RecommendationCache) -> None:
    assert cache.get("google") is None
    assert cache.versions("google") is None


def test_first_put_is_written_and_round_trips(cache: RecommendationCache) -> None:
    original = rec("google", (3, 7, 2))
    assert cache.put(original) is PutResult.WRITTEN
    assert cache.get("google") == original
    assert stored(cache, "google") == (3, 7, 2)


def test_newer_versions_replace_older(cache: RecommendationCache) -> None:
    assert cache.put(rec("google", (3, 7, 2))) is PutResult.WRITTEN
    assert cache.put(rec("google", (4, 7, 2), vendor="organizations/surge-ai")) is (
        PutResult.WRITTEN
    )
    got = cache.get("google")
    assert got is not None
    assert got.ranked[0].vendor == "organizations/surge-ai"
    assert stored(cache, "google") == (4, 7, 2)


@pytest.mark.parametrize("older", [(2, 7, 2), (3, 6, 2), (3, 7, 1), (0, 0, 0)])
def test_older_versions_are_stale_and_change_nothing(
    cache: RecommendationCache, older: Versions
) -> None:
    newest = rec("google", (3, 7, 2))
    cache.put(newest)
    assert cache.put(rec("google", older, vendor="organizations/other")) is PutResult.STALE
    assert cache.get("google") == newest


def test_equal_versions_are_stale(cache: RecommendationCache) -> None:
    first = rec("google", (3, 7, 2))
    cache.put(first)
    assert cache.put(rec("google", (3, 7, 2), vendor="organizations/other")) is PutResult.STALE
    assert cache.get("google") == first


@pytest.mark.parametrize("other", [(4, 6, 2), (2, 8, 2), (2, 7, 3), (3, 8, 1)])
def test_incomparable_versions_conflict_and_change_nothing(
    cache: RecommendationCache, other: Versions
) -> None:
    first = rec("google", (3, 7, 2))
    cache.put(first)
    assert cache.put(rec("google", other, vendor="organizations/other")) is PutResult.CONFLICT
    assert cache.get("google") == first


def test_clients_are_kept_apart(cache: RecommendationCache) -> None:
    cache.put(rec("google", (5, 5, 5)))
    assert cache.put(rec("openai", (1, 1, 1))) is PutResult.WRITTEN
    assert stored(cache, "google") == (5, 5, 5)
    assert stored(cache, "openai") == (1, 1, 1)


def test_a_bad_name_is_invalid_argument(cache: RecommendationCache) -> None:
    bad = rec("google", (1, 1, 1))
    bad.name = "clients/google"
    with pytest.raises(InvalidArgument):
        cache.put(bad)


def test_a_decoding_client_is_refused(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    try:
        with pytest.raises(ValueError, match="decode_responses"):
            RecommendationCache(client)
    finally:
        client.close()


def test_a_write_notifies_subscribers_and_a_stale_put_does_not(
    cache: RecommendationCache, redis_client: redis.Redis
) -> None:
    pubsub = subscribed(cache, redis_client, "google")
    try:
        assert cache.put(rec("google", (3, 7, 2))) is PutResult.WRITTEN
        assert next_notice(pubsub) == ChangeNotice(
            client="google", graph_version=3, catalog_version=7, requirements_revision=2
        )
        assert cache.put(rec("google", (3, 7, 2))) is PutResult.STALE
        assert cache.put(rec("google", (2, 9, 2))) is PutResult.CONFLICT
        assert notices(pubsub, wait=0.3) == []
    finally:
        pubsub.close()


def test_repair_replaces_whatever_is_stored_only_if_it_is_what_was_read(
    cache: RecommendationCache, redis_client: redis.Redis
) -> None:
    """The reconciliation's write: down to older versions (a restored database), or
    equal versions with other content; a write that came in between stands."""
    assert cache.put(rec("google", (9, 9, 9), vendor="organizations/a")) is PutResult.WRITTEN
    read = cache.versions("google")
    assert read is not None
    cache.mark_pending(["google"], 12)
    pubsub = subscribed(cache, redis_client, "google")
    try:
        assert cache.repair(rec("google", (4, 5, 6)), read, notify=True) is PutResult.WRITTEN
        assert stored(cache, "google") == (4, 5, 6)
        assert next_notice(pubsub).graph_version == 4
        served = cache.get_served("google")
        assert served is not None and served.freshness.latest_graph_version == 12  # still pending
        # Versions moved on since `read`: the repair is refused, the newer write stays.
        assert cache.repair(rec("google", (1, 1, 1)), read, notify=True) is PutResult.STALE
        assert stored(cache, "google") == (4, 5, 6)
        # Newer versions of the same content, stored quietly.
        now = cache.versions("google")
        assert now is not None
        assert cache.repair(rec("google", (4, 5, 7)), now, notify=False) is PutResult.WRITTEN
        assert stored(cache, "google") == (4, 5, 7)
        assert notices(pubsub, wait=0.3) == []
    finally:
        pubsub.close()


def test_the_notice_is_plain_json(cache: RecommendationCache, redis_client: redis.Redis) -> None:
    pubsub = subscribed(cache, redis_client, "google")
    try:
        cache.put(rec("google", (3, 7, 2)))
        deadline = time.monotonic() + 5
        message = None
        while message is None and time.monotonic() < deadline:
            message = pubsub.get_message(timeout=1)
        assert message is not None
        assert json.loads(message["data"]) == {
            "client": "google",
            "graph_version": 3,
            "catalog_version": 7,
            "requirements_revision": 2,
        }
    finally:
        pubsub.close()


def test_subscribe_all_sees_every_client(
    cache: RecommendationCache, redis_client: redis.Redis
) -> None:
    pubsub = cache.subscribe_all()
    try:
        # Publish probes until one arrives: then the pattern subscription is live.
        deadline = time.monotonic() + 5
        while not notices(pubsub, wait=0.05):
            redis_client.publish(cache.channel("probe"), json.dumps({"client": "probe"}))
            assert time.monotonic() < deadline, "pattern subscription never registered"
        notices(pubsub, wait=0.1)
        cache.put(rec("google", (1, 1, 1)))
        cache.put(rec("openai", (1, 1, 1)))
        got = {n.client for n in notices(pubsub, wait=0.5)}
        assert got == {"google", "openai"}
    finally:
        pubsub.close()


def test_delete_removes_and_notifies(cache: RecommendationCache, redis_client: redis.Redis) -> None:
    cache.put(rec("google", (3, 7, 2)))
    pubsub = subscribed(cache, redis_client, "google")
    try:
        assert cache.delete("google") is True
        assert next_notice(pubsub) == ChangeNotice(client="google", deleted=True)
    finally:
        pubsub.close()
    assert cache.get("google") is None
    assert cache.delete("google") is False
    # A client created again under the same id starts afresh.
    assert cache.put(rec("google", (3, 7, 1))) is PutResult.WRITTEN


version_triples = st.tuples(st.integers(0, 3), st.integers(0, 3), st.integers(0, 3))


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(puts=st.lists(version_triples, min_size=1, max_size=24))
def test_concurrent_puts_never_let_an_older_write_win(
    cache: RecommendationCache, redis_client: redis.Redis, puts: list[Versions]
) -> None:
    client_id = f"c-{uuid.uuid4().hex[:10]}"
    pubsub = subscribed(cache, redis_client, client_id)
    try:
        start = threading.Barrier(len(puts))

        def put(versions: Versions) -> PutResult:
            with contextlib.suppress(threading.BrokenBarrierError):
                start.wait(timeout=5)
            return cache.put(rec(client_id, versions))

        with ThreadPoolExecutor(max_workers=len(puts)) as pool:
            results = list(pool.map(put, puts))

        final = stored(cache, client_id)
        assert final is not None
        got = cache.get(client_id)
        assert got is not None and got.as_of == "-".join(map(str, final))
        final_v = got.versions

        written = [v for v, res in zip(puts, results, strict=True) if res is PutResult.WRITTEN]
        assert final in written
        # No version that was put is newer than what is stored in the end.
        for versions in puts:
            candidate = rec(client_id, versions).versions
            assert not (dominates(candidate, final_v) and candidate != final_v), versions

        # The writes, seen through their notices, only ever moved forward.
        seen: list[Versions] = []
        deadline = time.monotonic() + 5
        while len(seen) < len(written) and time.monotonic() < deadline:
            n = next_notice(pubsub)
            seen.append((n.graph_version, n.catalog_version, n.requirements_revision))
        assert notices(pubsub, wait=0.02) == []
        assert len(seen) == len(written)
        assert seen[-1] == final
        for before, after in itertools.pairwise(seen):
            assert before != after
            assert all(a >= b for a, b in zip(after, before, strict=True)), (before, after)
    finally:
        pubsub.close()
        redis_client.delete(cache.key(client_id))


def test_the_lock_admits_one_holder_at_a_time(cache: RecommendationCache) -> None:
    inside = 0
    most = 0
    guard = threading.Lock()

    def compute() -> None:
        nonlocal inside, most
        with cache.lock("google", timeout=10):
            with guard:
                inside += 1
                most = max(most, inside)
            time.sleep(0.02)
            with guard:
                inside -= 1

    with ThreadPoolExecutor(max_workers=6) as pool:
        for f in [pool.submit(compute) for _ in range(12)]:
            f.result(timeout=30)
    assert most == 1


def test_a_held_lock_refuses_a_second_holder(
    cache: RecommendationCache, redis_client: redis.Redis
) -> None:
    first = cache.lock("google", timeout=10)
    second = cache.lock("google", timeout=10, blocking_timeout=0.1)
    assert first.acquire(blocking=False)
    try:
        assert redis_client.exists(cache.lock_name("google"))
        assert not second.acquire()
    finally:
        first.release()
    assert second.acquire()
    second.release()
    assert not redis_client.exists(cache.lock_name("google"))


def test_the_lock_expires_when_its_holder_dies(cache: RecommendationCache) -> None:
    crashed = cache.lock("google", timeout=0.2)
    assert crashed.acquire(blocking=False)
    # The holder never releases; its timeout frees the lock.
    assert cache.lock("google", timeout=5, blocking_timeout=3).acquire()


def test_put_many_decides_each_set_on_its_own(cache: RecommendationCache) -> None:
    cache.put(rec("older", (2, 2, 2)))
    cache.put(rec("crossed", (1, 5, 1)))
    results = cache.put_many(
        [
            Encoded.of(rec(c, v))
            for c, v in [("fresh", (1, 1, 1)), ("older", (1, 1, 1)), ("crossed", (5, 1, 1))]
        ]
    )
    assert results == [PutResult.WRITTEN, PutResult.STALE, PutResult.CONFLICT]
    stored = cache.get_many(["fresh", "older", "crossed", "absent"])
    assert [s.versions.graph_version if s else None for s in stored] == [1, 2, 1, None]
    assert cache.catalog_versions(["fresh", "older", "absent"]) == [1, 2, None]


def test_put_many_notifies_like_put(cache: RecommendationCache, redis_client: redis.Redis) -> None:
    pubsub = subscribed(cache, redis_client, "a")
    try:
        cache.put_many([Encoded.of(rec("a", (1, 1, 1))), Encoded.of(rec("b", (1, 1, 1)))])
        assert next_notice(pubsub) == ChangeNotice(
            client="a", graph_version=1, catalog_version=1, requirements_revision=1
        )
        assert notices(pubsub, wait=0.3) == []  # b's notice goes to b's channel
    finally:
        pubsub.close()


def test_put_many_in_several_scripts_keeps_order_and_invalidates_only_what_it_wrote(
    cache: RecommendationCache, redis_client: redis.Redis
) -> None:
    ids = [f"lab-{i:03d}" for i in range(PUT_BATCH * 2 + 7)]
    newer = set(ids[PUT_BATCH - 3 : PUT_BATCH + 3])  # across the first scripts' border
    for client in newer:
        cache.put(rec(client, (9, 9, 9)))
    pubsub = redis_client.pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe(cache.invalidation_channel)
    try:
        assert pubsub.get_message(timeout=1) is None  # subscribed
        results = cache.put_many([Encoded.of(rec(c, (1, 1, 1))) for c in ids])
        assert results == [PutResult.STALE if c in newer else PutResult.WRITTEN for c in ids]
        invalidated: list[str] = []
        deadline = time.monotonic() + 5
        while len(invalidated) < len(ids) - len(newer) and time.monotonic() < deadline:
            message = pubsub.get_message(timeout=0.5)
            if message is not None:
                invalidated += message["data"].decode().split("\n")
        assert invalidated == [c for c in ids if c not in newer]
        assert cache.graph_versions(ids) == [9 if c in newer else 1 for c in ids]
    finally:
        pubsub.close()
