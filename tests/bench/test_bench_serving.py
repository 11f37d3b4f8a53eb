"""Serving benchmark: GetRecommendations from the cache vs computing it, over real gRPC.

    ./dev bench -k serving

Both are measured in the same run on the demo catalog (27 vendors, 54
organizations): the baseline is the full computation a cache miss costs
(requirements + catalog + neutrality calls and ranking); the target is that a
cached read is at least 10x faster at the median.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import redis

from dpm.catalog.v1 import catalog_pb2_grpc
from dpm.cli.seed import load_demo_data, seed_catalog, seed_clients
from dpm.matching.cache import RecommendationCache
from dpm.matching.v1 import matching_pb2, matching_pb2_grpc
from dpm.platform import auth
from dpm.platform.grpc_client import open_channel
from dpm.requirements.v1 import requirements_pb2_grpc
from tests.inprocess import inprocess_stack

pytestmark = [pytest.mark.bench, pytest.mark.timeout(600)]

TARGET_SPEEDUP = 10.0


def _timed(call: Callable[[], object], n: int) -> list[float]:
    samples = []
    for _ in range(n):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def _row(name: str, ms: list[float]) -> str:
    q = statistics.quantiles(ms, n=100)
    figures = (q[49], q[94], q[98], statistics.mean(ms))
    return f"{name:<28} {len(ms):>6} " + " ".join(f"{f:>9.2f}" for f in figures)


def test_bench_serving(
    tmp_path: Path, token_secret: str, redis_url: str, redis_namespace: str
) -> None:
    facts, demo = load_demo_data()
    with inprocess_stack(tmp_path, token_secret, redis_url, redis_namespace) as stack:
        admin = auth.admin_token(token_secret)
        with (
            open_channel(stack.addresses["catalog"], admin, 30) as c,
            open_channel(stack.addresses["requirements"], admin, 30) as r,
        ):
            seed_catalog(catalog_pb2_grpc.CatalogServiceStub(c), facts, demo)
            tokens = seed_clients(requirements_pb2_grpc.RequirementsServiceStub(r), facts, demo, {})
        cache = RecommendationCache(redis.Redis.from_url(redis_url), redis_namespace)
        request = matching_pb2.GetRecommendationsRequest(name="clients/google/recommendations")
        with open_channel(stack.addresses["matching"], tokens["google"], 30) as channel:
            stub = matching_pb2_grpc.MatchingServiceStub(channel)
            stub.GetRecommendations(request)  # warm up channels and graph cache

            def miss() -> None:
                cache.delete("google")
                stub.GetRecommendations(request)

            miss_ms = _timed(miss, 40)
            hit_ms = _timed(lambda: stub.GetRecommendations(request), 1000)

            def burst(_: int) -> list[float]:
                return _timed(lambda: stub.GetRecommendations(request), 200)

            started = time.perf_counter()
            with ThreadPoolExecutor(8) as pool:
                concurrent_ms = [ms for part in pool.map(burst, range(8)) for ms in part]
            throughput = len(concurrent_ms) / (time.perf_counter() - started)
        redis.Redis.from_url(redis_url).delete(cache.key("google"))

    speedup = statistics.median(miss_ms) / statistics.median(hit_ms)
    print()
    heads = ("p50 ms", "p95 ms", "p99 ms", "mean ms")
    print(f"{'GetRecommendations':<28} {'calls':>6} " + " ".join(f"{h:>9}" for h in heads))
    print(_row("miss: compute (baseline)", miss_ms))
    print(_row("hit: Redis read", hit_ms))
    print(_row("hit: 8 concurrent callers", concurrent_ms))
    print(
        f"cached read speed-up over compute (p50): {speedup:.1f}x (target >= {TARGET_SPEEDUP:.0f}x)"
    )
    print(f"throughput with 8 concurrent callers: {throughput:.0f} calls/s")
    assert speedup >= TARGET_SPEEDUP
