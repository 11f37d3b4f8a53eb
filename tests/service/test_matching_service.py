"""MatchingService over real gRPC: the real catalog, requirements, neutrality and matching
servers in-process on port 0, and a real Redis. No worker here: these tests are about
the read path (cache, single flight, minimum versions, watch, access)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
import redis
from google.protobuf import field_mask_pb2

from dpm.catalog.v1 import catalog_pb2, catalog_pb2_grpc
from dpm.common.v1 import common_pb2
from dpm.matching.cache import RecommendationCache
from dpm.matching.v1 import matching_pb2, matching_pb2_grpc
from dpm.ownership.v1 import ownership_pb2
from dpm.platform import auth
from dpm.platform.grpc_client import open_channel
from dpm.requirements.v1 import requirements_pb2, requirements_pb2_grpc
from tests.conftest import metric_points
from tests.inprocess import inprocess_stack, wait_serving

pytestmark = pytest.mark.timeout(120)

VENDORS = ("scale-ai", "labelbox", "turing")


@dataclass
class Stack:
    secret: str
    matching_address: str
    catalog: catalog_pb2_grpc.CatalogServiceStub
    cache: RecommendationCache
    tokens: dict[str, str]
    requirements: requirements_pb2_grpc.RequirementsServiceStub | None = None

    def stub(self, token: str) -> tuple[grpc.Channel, matching_pb2_grpc.MatchingServiceStub]:
        channel = open_channel(self.matching_address, token, 10)
        return channel, matching_pb2_grpc.MatchingServiceStub(channel)

    def get(
        self, lab: str, token: str | None = None, timeout: float = 10, **kw: int
    ) -> matching_pb2.RecommendationSet:
        channel, stub = self.stub(token or self.tokens[lab])
        with channel:
            return stub.GetRecommendations(
                matching_pb2.GetRecommendationsRequest(name=f"clients/{lab}/recommendations", **kw),
                timeout=timeout,
            )

    def record_meta_stake(self) -> int:
        event = ownership_pb2.OwnershipEvent(event_id="meta-scale-49", effective_date="2025-06-12")
        event.stake_acquired.holder = "organizations/meta"
        event.stake_acquired.held = "organizations/scale-ai"
        event.stake_acquired.equity_fraction = 0.49
        event.stake_acquired.voting_fraction = 0.0
        return int(
            self.catalog.RecordOwnershipEvent(
                catalog_pb2.RecordOwnershipEventRequest(event=event)
            ).graph_version
        )


def _seed(catalog: catalog_pb2_grpc.CatalogServiceStub) -> None:
    for slug, kind in [("meta", 2), ("google", 2), ("microsoft", 2)] + [(v, 1) for v in VENDORS]:
        catalog.CreateOrganization(
            catalog_pb2.CreateOrganizationRequest(
                organization_id=slug,
                organization=catalog_pb2.Organization(display_name=slug.title(), kind=kind),
            )
        )
    for i, slug in enumerate(VENDORS):
        catalog.UpdateVendorProfile(
            catalog_pb2.UpdateVendorProfileRequest(
                allow_missing=True,
                vendor_profile=catalog_pb2.VendorProfile(
                    name=f"organizations/{slug}/vendorProfile",
                    service_model=catalog_pb2.SERVICE_MODEL_HYBRID,
                    capabilities=[
                        catalog_pb2.Capability(
                            modality=common_pb2.MODALITY_RLHF,
                            monthly_capacity=100_000,
                            quality=0.95 - 0.05 * i,
                            unit_price_usd=5.0,
                        )
                    ],
                ),
            )
        )


def _lab(slug: str) -> requirements_pb2.CreateClientRequest:
    return requirements_pb2.CreateClientRequest(
        client_id=slug,
        client=requirements_pb2.Client(
            display_name=slug.title(),
            requirements=requirements_pb2.Requirements(
                needs=[
                    requirements_pb2.Need(modality=common_pb2.MODALITY_RLHF, monthly_volume=1000)
                ]
            ),
            neutrality_policy=requirements_pb2.NeutralityPolicy(
                competitors=["organizations/meta"],
                max_competitor_equity=0.25,
                max_competitor_voting=0.25,
            ),
        ),
    )


@pytest.fixture
def stack(
    tmp_path: Path, token_secret: str, redis_url: str, redis_namespace: str
) -> Iterator[Stack]:
    with inprocess_stack(
        tmp_path, token_secret, redis_url, redis_namespace, min_version_wait_seconds=2
    ) as running:
        admin = auth.admin_token(token_secret)
        catalog_channel = open_channel(running.addresses["catalog"], admin, 10)
        req_channel = open_channel(running.addresses["requirements"], admin, 10)
        catalog_stub = catalog_pb2_grpc.CatalogServiceStub(catalog_channel)
        _seed(catalog_stub)
        req_stub = requirements_pb2_grpc.RequirementsServiceStub(req_channel)
        tokens = {
            lab: req_stub.CreateClient(_lab(lab)).access_token for lab in ("google", "microsoft")
        }
        tokens["admin"] = admin
        wait_serving(running.addresses["matching"])
        redis_client = redis.Redis.from_url(redis_url)
        cache = RecommendationCache(redis_client, redis_namespace)
        yield Stack(
            token_secret, running.addresses["matching"], catalog_stub, cache, tokens, req_stub
        )
        for key in redis_client.scan_iter(f"{redis_namespace}*"):
            redis_client.delete(key)
        catalog_channel.close()
        req_channel.close()


def _vendors(rec: matching_pb2.RecommendationSet) -> list[str]:
    return [r.vendor.removeprefix("organizations/") for r in rec.ranked]


def test_miss_computes_once_then_serves_from_cache(stack: Stack) -> None:
    assert stack.cache.get("google") is None
    first = stack.get("google")
    assert _vendors(first) == ["scale-ai", "labelbox", "turing"]
    assert first.versions.graph_version == 0 and first.versions.requirements_revision == 1
    cached = stack.cache.get("google")
    assert cached == first
    again = stack.get("google")
    assert again.compute_time == first.compute_time  # served, not recomputed


def test_concurrent_misses_compute_once(stack: Stack) -> None:
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda _: stack.get("google"), range(8)))
    assert len({r.compute_time.ToNanoseconds() for r in results}) == 1


def test_min_graph_version_recomputes_a_stale_cached_set(stack: Stack) -> None:
    before = stack.get("google")
    version = stack.record_meta_stake()
    # Without a minimum version the (now stale) cached set is served as is ...
    assert stack.get("google") == before
    # ... with one, the answer is computed from at least that graph.
    fresh = stack.get("google", min_graph_version=version)
    assert fresh.versions.graph_version >= version
    assert "scale-ai" not in _vendors(fresh)
    excluded = {e.vendor: e.reasons[0].message for e in fresh.excluded}
    assert "meta" in excluded["organizations/scale-ai"]
    assert "49%" in excluded["organizations/scale-ai"]


def test_unreachable_min_graph_version_is_a_deadline_error(stack: Stack) -> None:
    started = time.monotonic()
    with pytest.raises(grpc.RpcError) as err:
        stack.get("google", min_graph_version=10_000, timeout=3)
    assert err.value.code() is grpc.StatusCode.DEADLINE_EXCEEDED
    # The server answers within the caller's deadline, saying what it could not reach.
    assert "10000" in (err.value.details() or "")
    assert time.monotonic() - started < 3.5


def test_watch_streams_the_current_set_then_each_newer_one(stack: Stack) -> None:
    # A plain channel, as any gRPC client would use, so the stream can be cancelled.
    channel = grpc.insecure_channel(stack.matching_address)
    received: list[matching_pb2.RecommendationSet] = []
    got_first = threading.Event()
    got_second = threading.Event()
    stream = matching_pb2_grpc.MatchingServiceStub(channel).WatchRecommendations(
        matching_pb2.WatchRecommendationsRequest(name="clients/google/recommendations"),
        metadata=[("authorization", f"Bearer {stack.tokens['google']}")],
        timeout=30,
    )

    def consume() -> None:
        try:
            for rec in stream:
                received.append(rec)
                (got_second if got_first.is_set() else got_first).set()
        except grpc.RpcError:
            pass

    thread = threading.Thread(target=consume, daemon=True)
    thread.start()
    assert got_first.wait(15)
    version = stack.record_meta_stake()
    stack.get("google", token=stack.tokens["admin"], min_graph_version=version)
    assert got_second.wait(15)
    stream.cancel()
    thread.join(5)
    channel.close()
    assert received[0].versions.graph_version < version <= received[1].versions.graph_version
    assert "scale-ai" in _vendors(received[0]) and "scale-ai" not in _vendors(received[1])


@pytest.mark.parametrize(
    ("name", "token_of", "code"),
    [
        ("clients/microsoft/recommendations", "google", grpc.StatusCode.PERMISSION_DENIED),
        ("clients/nobody/recommendations", "google", grpc.StatusCode.PERMISSION_DENIED),
        ("clients/nobody/recommendations", "admin", grpc.StatusCode.NOT_FOUND),
        ("clients/google", "google", grpc.StatusCode.INVALID_ARGUMENT),
        ("clients/Bad_Id/recommendations", "admin", grpc.StatusCode.INVALID_ARGUMENT),
        ("", "admin", grpc.StatusCode.INVALID_ARGUMENT),
    ],
)
def test_access_and_bad_names(
    stack: Stack, name: str, token_of: str, code: grpc.StatusCode
) -> None:
    channel, stub = stack.stub(stack.tokens[token_of])
    with channel, pytest.raises(grpc.RpcError) as err:
        stub.GetRecommendations(matching_pb2.GetRecommendationsRequest(name=name))
    assert err.value.code() is code


def test_a_nul_byte_in_a_request_is_refused_naming_the_field(stack: Stack) -> None:
    """The asyncio guard walks a request's strings only when its bytes hold a 0x00:
    a NUL in a string is still refused, on both methods, before the name is parsed."""
    name = "clients/google\x00/recommendations"
    channel, stub = stack.stub(stack.tokens["google"])
    with channel:
        for call in (
            lambda: stub.GetRecommendations(matching_pb2.GetRecommendationsRequest(name=name)),
            lambda: next(
                stub.WatchRecommendations(matching_pb2.WatchRecommendationsRequest(name=name))
            ),
        ):
            with pytest.raises(grpc.RpcError) as err:
                call()
            assert err.value.code() is grpc.StatusCode.INVALID_ARGUMENT
            assert "name: must not contain a NUL byte" in (err.value.details() or "")
        # A 0x00 byte outside a string is no refusal: here an empty name, then the real
        # one (the last occurrence of a field wins).
        request = matching_pb2.GetRecommendationsRequest(name="clients/google/recommendations")
        raw = channel.unary_unary(
            "/dpm.matching.v1.MatchingService/GetRecommendations",
            response_deserializer=matching_pb2.RecommendationSet.FromString,
        )
        assert raw(b"\x0a\x00" + request.SerializeToString()).name == request.name


def test_no_or_forged_token_is_unauthenticated(stack: Stack) -> None:
    forged = auth.client_token("another-secret-0123456789abcdef-0123", "clients/google")
    for token in ("garbage", forged):
        channel, stub = stack.stub(token)
        with channel, pytest.raises(grpc.RpcError) as err:
            stub.GetRecommendations(
                matching_pb2.GetRecommendationsRequest(name="clients/google/recommendations")
            )
        assert err.value.code() is grpc.StatusCode.UNAUTHENTICATED
    with (
        grpc.insecure_channel(stack.matching_address) as channel,
        pytest.raises(grpc.RpcError) as err,
    ):
        matching_pb2_grpc.MatchingServiceStub(channel).GetRecommendations(
            matching_pb2.GetRecommendationsRequest(name="clients/google/recommendations"), timeout=5
        )
    assert err.value.code() is grpc.StatusCode.UNAUTHENTICATED


def test_reads_are_counted_by_cache_outcome(stack: Stack, metric_reader: object) -> None:
    before = _reads(metric_reader)
    stack.get("google")  # miss: computed
    stack.get("google")  # hit
    stack.get("google")  # hit
    after = _reads(metric_reader)
    assert after.get("miss", 0) - before.get("miss", 0) == 1
    assert after.get("hit", 0) - before.get("hit", 0) == 2


def _reads(metric_reader: object, by: str = "cache") -> dict[str, float]:
    """Reads so far, summed by one attribute of dpm.recommendations.reads."""
    totals: dict[str, float] = {}
    for key, value in metric_points(metric_reader, "dpm.recommendations.reads").items():
        attribute = str(dict(key).get(by, ""))
        totals[attribute] = totals.get(attribute, 0) + value
    return totals


def _served_within(
    stack: Stack, lab: str, check: Callable[[matching_pb2.RecommendationSet], bool], seconds: float
) -> matching_pb2.RecommendationSet:
    """The first set served within ``seconds`` that passes ``check`` (else the last one)."""
    deadline = time.monotonic() + seconds
    while True:
        rec = stack.get(lab)
        if check(rec) or time.monotonic() >= deadline:
            return rec
        time.sleep(0.02)


def test_hits_come_from_memory_and_a_change_reaches_the_next_reads_at_once(
    stack: Stack, metric_reader: object
) -> None:
    """The near cache keeps sets for 5 s at most, but a change is served within 1 s:
    the invalidation channel, not the TTL, drops the copy."""
    fresh = stack.get("google")  # computed
    stack.get("google")  # from Redis, kept in memory
    before = _reads(metric_reader, "tier")
    for _ in range(20):
        stack.get("google")
    after = _reads(metric_reader, "tier")
    assert after.get("memory", 0) - before.get("memory", 0) == 20
    assert after.get("redis", 0) == before.get("redis", 0)

    newer = matching_pb2.RecommendationSet()
    newer.CopyFrom(fresh)
    newer.versions.graph_version += 1
    del newer.ranked[1:]
    stack.cache.put(newer)
    served = _served_within(stack, "google", lambda r: r.versions == newer.versions, 1.0)
    assert served == newer

    stack.cache.mark_pending(["google"], newer.versions.graph_version + 5)
    assert _served_within(stack, "google", lambda r: r.freshness.stale, 1.0).freshness.stale


def test_a_long_wait_for_an_unreachable_version_is_capped_and_computes_once(
    stack: Stack, metric_reader: object
) -> None:
    def misses() -> float:
        points = metric_points(metric_reader, "dpm.recommendations.reads")
        return sum(v for k, v in points.items() if dict(k)["cache"] == "miss")

    stack.get("google")
    before = misses()
    started = time.monotonic()
    with pytest.raises(grpc.RpcError) as err:
        stack.get("google", min_graph_version=10_000, timeout=20)
    waited = time.monotonic() - started
    assert err.value.code() is grpc.StatusCode.DEADLINE_EXCEEDED
    # The server's wait limit (2 s in this stack) caps a long caller deadline ...
    assert waited < 4, waited
    # ... it says why, and it looked at the ledger once instead of polling it.
    assert "graph version 0" in (err.value.details() or "")
    assert misses() - before == 1


def test_a_set_behind_the_ledger_says_it_is_stale_and_why(stack: Stack) -> None:
    fresh = stack.get("google")
    assert not fresh.freshness.stale
    # What a worker does when an event concerning google arrives: mark, then recompute.
    # Each change is seen by the next reads once the matching server's near cache
    # heard of it (milliseconds; the bound here is far below its 5 s lifetime).
    stack.cache.mark_pending(["google"], 7)
    served = _served_within(stack, "google", lambda r: r.freshness.stale, 1.0)
    assert served.freshness.stale and served.freshness.latest_graph_version == 7
    assert "re-matching for graph version 7 is in progress" in served.freshness.reason
    failed = "re-matching failed: neutrality said no"
    stack.cache.record_failure("google", failed)
    assert _served_within(stack, "google", lambda r: r.freshness.reason == failed, 1.0)
    # The write that reaches the version clears both.
    caught_up = matching_pb2.RecommendationSet()
    caught_up.CopyFrom(fresh)
    caught_up.versions.graph_version = 7
    stack.cache.put(caught_up)
    assert not _served_within(stack, "google", lambda r: not r.freshness.stale, 1.0).freshness.stale


def test_redis_down_is_unavailable_not_internal(
    tmp_path: Path, token_secret: str, redis_namespace: str
) -> None:
    from dpm.platform.embedded_redis import start_embedded_redis

    server = start_embedded_redis(tmp_path / "redis")
    try:
        with inprocess_stack(tmp_path, token_secret, server.url, redis_namespace) as running:
            admin = auth.admin_token(token_secret)
            with open_channel(running.addresses["requirements"], admin, 10) as channel:
                requirements_pb2_grpc.RequirementsServiceStub(channel).CreateClient(_lab("google"))
            wait_serving(running.addresses["matching"])
            server.stop()
            with open_channel(running.addresses["matching"], admin, 10) as channel:
                stub = matching_pb2_grpc.MatchingServiceStub(channel)
                for _ in range(3):
                    with pytest.raises(grpc.RpcError) as err:
                        stub.GetRecommendations(
                            matching_pb2.GetRecommendationsRequest(
                                name="clients/google/recommendations"
                            ),
                            timeout=10,
                        )
                    assert err.value.code() is grpc.StatusCode.UNAVAILABLE, err.value.details()
                    assert "cache" in (err.value.details() or "")
    finally:
        server.stop()


def test_one_lab_cannot_take_the_servers_threads_with_idle_streams(stack: Stack) -> None:
    """16 idle streams from one lab once filled the pool; now the third is refused."""
    channel = grpc.insecure_channel(stack.matching_address)
    stub = matching_pb2_grpc.MatchingServiceStub(channel)
    streams = []

    def watch(lab: str) -> object:
        stream = stub.WatchRecommendations(
            matching_pb2.WatchRecommendationsRequest(name=f"clients/{lab}/recommendations"),
            metadata=[("authorization", f"Bearer {stack.tokens[lab]}")],
            timeout=30,
        )
        streams.append(stream)
        return stream

    try:
        for _ in range(2):
            next(watch("google"))  # open and idle after the first set
        refused = []
        for _ in range(14):
            try:
                next(watch("google"))
            except grpc.RpcError as err:
                refused.append(err)
        assert len(refused) == 14
        assert all(e.code() is grpc.StatusCode.RESOURCE_EXHAUSTED for e in refused)
        assert "open streams" in (refused[0].details() or "")
        # Another lab, and the health service, are unaffected.
        for _ in range(5):
            assert stack.get("microsoft", timeout=5).name == "clients/microsoft/recommendations"
        wait_serving(stack.matching_address, timeout=2)
    finally:
        for stream in streams:
            stream.cancel()  # type: ignore[attr-defined]
        channel.close()


def test_a_competitor_the_catalog_does_not_know_is_shown_not_ignored(stack: Stack) -> None:
    assert stack.requirements is not None
    policy = requirements_pb2.NeutralityPolicy(
        competitors=["organizations/meta", "organizations/metaa"],  # a typo
        max_competitor_equity=0.25,
        max_competitor_voting=0.25,
    )
    stack.requirements.UpdateClient(
        requirements_pb2.UpdateClientRequest(
            client=requirements_pb2.Client(name="clients/google", neutrality_policy=policy),
            update_mask=field_mask_pb2.FieldMask(paths=["neutrality_policy"]),
        )
    )
    rec = stack.get("google")
    assert list(rec.unresolved_parties) == ["organizations/metaa"]
    assert list(stack.get("microsoft").unresolved_parties) == []
