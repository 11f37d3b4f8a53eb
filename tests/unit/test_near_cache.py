"""The near cache of served sets, and the served bytes with their freshness appended."""

from __future__ import annotations

from dpm.matching.cache import served_bytes
from dpm.matching.near_cache import NearCache
from dpm.matching.v1 import matching_pb2


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _cache(entries: int = 3, ttl: float = 5.0) -> tuple[NearCache, Clock]:
    clock = Clock()
    cache = NearCache(entries, ttl, clock)
    cache.active = True
    return cache, clock


def _fill(cache: NearCache, client: str, data: bytes = b"set", version: int = 1) -> None:
    cache.finish(client, cache.begin(client), data, version)


def test_a_filled_entry_is_served_until_its_lifetime_ends() -> None:
    cache, clock = _cache()
    _fill(cache, "google", b"abc", 4)
    entry = cache.get("google")
    assert entry is not None and (entry.data, entry.graph_version) == (b"abc", 4)
    clock.now += 4.9
    assert cache.get("google") is not None
    clock.now += 0.2
    assert cache.get("google") is None


def test_an_invalidation_during_a_read_voids_the_fill() -> None:
    cache, _ = _cache()
    ticket = cache.begin("google")
    cache.invalidate(["google"])  # the set changed while we read the old one
    cache.finish("google", ticket, b"old", 1)
    assert cache.get("google") is None
    _fill(cache, "google", b"new", 2)  # a read begun afterwards is kept
    assert cache.get("google") is not None
    cache.invalidate(["microsoft", "google"])
    assert cache.get("google") is None


def test_nothing_is_kept_or_served_while_the_listener_is_not_subscribed() -> None:
    cache, _ = _cache()
    _fill(cache, "google")
    cache.active = False
    assert cache.get("google") is None
    _fill(cache, "microsoft")
    cache.active = True
    assert cache.get("microsoft") is None
    assert NearCache(0, 5.0).enabled is False


def test_the_least_recently_read_entries_go_first() -> None:
    cache, _ = _cache(entries=2)
    _fill(cache, "a")
    _fill(cache, "b")
    assert cache.get("a") is not None  # a is now the most recently read
    _fill(cache, "c")
    assert cache.get("b") is None
    assert cache.get("a") is not None and cache.get("c") is not None
    assert len(cache) == 2
    cache.clear()
    assert len(cache) == 0


def test_served_bytes_append_the_freshness_only_when_a_newer_graph_is_pending() -> None:
    stored = matching_pb2.RecommendationSet(
        name="clients/google/recommendations",
        versions=matching_pb2.SourceVersions(graph_version=3),
    ).SerializeToString()
    assert served_bytes([stored, b"3", None, None]) == stored
    assert served_bytes([stored, b"3", b"3", None]) == stored
    assert served_bytes([None, None, b"9", None]) is None
    stale = matching_pb2.RecommendationSet.FromString(served_bytes([stored, b"3", b"5", None]))
    assert stale.name == "clients/google/recommendations" and stale.versions.graph_version == 3
    assert stale.freshness.stale and stale.freshness.latest_graph_version == 5
    assert "graph version 5 is in progress" in stale.freshness.reason
    failed = served_bytes([stored, b"3", b"5", b"neutrality said no"])
    assert matching_pb2.RecommendationSet.FromString(failed).freshness.reason == (
        "neutrality said no"
    )
