"""``what_if.compare``: the vendor-by-vendor difference of two recommendation sets."""

from __future__ import annotations

from dpm.matching.v1 import matching_pb2
from dpm.matching.what_if import compare

NEUTRALITY = matching_pb2.ExclusionReason(
    kind=matching_pb2.EXCLUSION_KIND_NEUTRALITY, message="meta holds 30%"
)


def ranked(*vendors: tuple[str, int]) -> list[matching_pb2.RankedVendor]:
    return [
        matching_pb2.RankedVendor(rank=i + 1, vendor=f"organizations/{v}", neutrality_score=score)
        for i, (v, score) in enumerate(vendors)
    ]


def test_entered_left_and_moved_with_the_reasons_that_apply() -> None:
    before = matching_pb2.RecommendationSet(
        ranked=ranked(("a", 100), ("b", 100), ("c", 90)),
        excluded=[matching_pb2.ExcludedVendor(vendor="organizations/d", reasons=[NEUTRALITY])],
    )
    after = matching_pb2.RecommendationSet(
        ranked=ranked(("a", 100), ("c", 90), ("d", 80)),
        excluded=[matching_pb2.ExcludedVendor(vendor="organizations/b", reasons=[NEUTRALITY])],
    )
    changes = {c.vendor.split("/")[1]: c for c in compare(before, after)}
    assert set(changes) == {"b", "c", "d"}  # a kept its place: not listed
    assert changes["b"].kind == matching_pb2.CHANGE_KIND_LEFT
    assert (changes["b"].rank_before, changes["b"].rank_after) == (2, 0)
    assert list(changes["b"].reasons) == [NEUTRALITY]  # why it is excluded now
    assert changes["c"].kind == matching_pb2.CHANGE_KIND_MOVED
    assert (changes["c"].rank_before, changes["c"].rank_after) == (3, 2)
    assert changes["d"].kind == matching_pb2.CHANGE_KIND_ENTERED
    assert changes["d"].neutrality_score_after == 80
    assert list(changes["d"].reasons) == [NEUTRALITY]  # why it was excluded before


def test_a_changed_score_at_the_same_rank_is_a_move_and_equal_sets_have_none() -> None:
    before = matching_pb2.RecommendationSet(ranked=ranked(("a", 100)))
    after = matching_pb2.RecommendationSet(ranked=ranked(("a", 70)))
    (change,) = compare(before, after)
    assert change.kind == matching_pb2.CHANGE_KIND_MOVED
    assert (change.neutrality_score_before, change.neutrality_score_after) == (100, 70)
    assert compare(before, before) == []
    # Fell out of the ranked set's size, excluded by nothing: no reason to give.
    (gone,) = compare(before, matching_pb2.RecommendationSet())
    assert gone.kind == matching_pb2.CHANGE_KIND_LEFT and not gone.reasons
