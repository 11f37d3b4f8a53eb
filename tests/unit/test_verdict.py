"""Policy -> verdict, score and reasons, from the graph up (pure, no gRPC)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from dpm.neutrality.assess import assess
from dpm.neutrality.graph import Holding, OwnershipGraph, Provenance, Share, Tie, TieKind
from dpm.neutrality.verdict import (
    Bound,
    Exposure,
    Figure,
    Policy,
    UnknownOwnership,
    Verdict,
    decay_weight,
    judge,
    pct,
    share_text,
)

VECTORS = json.loads((Path(__file__).parents[1] / "data" / "ownership-vectors.json").read_text())
AS_OF = dt.date(2025, 7, 1)


META_SOURCE = Provenance(
    "https://example.com/meta-scale", "official register", "Companies House", "2025-06-12"
)


def meta_scale(**extra: object) -> OwnershipGraph:
    holdings = [
        Holding("meta", "scale-ai", 0.49, 0.0, provenance=META_SOURCE),
        Holding("scale-ai", "outlier", 1.0, 1.0),
    ]
    ties = [
        Tie(
            TieKind.LEADERSHIP_MOVE,
            "scale-ai",
            "meta",
            dt.date(2025, 6, 13),
            person="Alexandr Wang",
            role="CEO",
        )
    ]
    return OwnershipGraph.build(
        holdings,
        ["meta", "google", "scale-ai", "outlier", "labelbox"],
        ties if extra.get("ties") else [],
    )


def test_vector_d_meta_scale_for_google() -> None:
    v = next(x for x in VECTORS["vectors"] if x["id"] == "d_meta_scale")
    spec = v["expected"]["neutrality_for_client_Google"]
    holdings = [Holding(e["holder"], e["held"], e["equity"], e.get("votes")) for e in v["edges"]]
    graph = OwnershipGraph.build(holdings, v["nodes"])
    policy = Policy(
        competitors=tuple(spec["competitors"]),
        max_competitor_equity=spec["policy"]["max_equity"],
        max_competitor_voting=spec["policy"]["max_votes"],
    )
    for vendor in ("ScaleAI", "ScaleSub"):
        result = assess(graph, vendor, policy, AS_OF)
        assert result.score == spec["score_0_100"]
        assert result.verdict == Verdict(spec["verdict"])
        (exposure,) = result.exposures
        assert exposure.look_through_equity.value == pytest.approx(spec["exposure"], abs=1e-9)
        assert exposure.directed_votes.value == 0.0
        assert exposure.look_through_votes.value == 0.0
        assert not exposure.controls


def test_reason_names_competitor_figure_and_chain() -> None:
    policy = Policy(("meta",), 0.25, 0.25)
    result = assess(meta_scale(), "outlier", policy, AS_OF)
    assert result.verdict is Verdict.CONFLICTED
    assert result.score == 51
    assert result.reasons == (
        "meta's look-through equity in outlier is 49% (meta → scale-ai → outlier), "
        "above the 25% equity limit",
        "meta's look-through votes in outlier are 0% against 49% of look-through equity "
        "(wedge 0.00: its stake carries no votes)",
        "meta holds 49% of the equity of scale-ai and none of its votes "
        "(source: https://example.com/meta-scale; official register, asserted by Companies "
        "House, 2025-06-12)",
        "scale-ai holds 100% of the equity and votes of outlier",
    )
    assert result.exposures[0].chains[0].organizations == ("meta", "scale-ai", "outlier")
    assert result.exposures[0].wedge == 0.0


def test_issue_chain_states_each_figure_under_its_own_name() -> None:
    """a -> b 60%, b -> c 50%: a directs 50% of c's votes; its look-through equity is 30%."""
    graph = OwnershipGraph.build([Holding("a", "b", 0.6), Holding("b", "c", 0.5)])
    result = assess(graph, "c", Policy(("a",), 0.5, 0.6), AS_OF)
    (e,) = result.exposures
    assert e.look_through_equity.is_exact
    assert e.look_through_equity.value == pytest.approx(0.3)
    assert e.directed_votes.value == pytest.approx(0.5)
    assert not e.controls
    assert e.weakest_link.value == pytest.approx(0.5)
    assert e.chains[0].equity == pytest.approx(0.3)  # the product along the chain
    assert e.chains[0].weakest_link == pytest.approx(0.5)
    assert result.reasons[:3] == (
        "a's look-through equity in c is 30% (a → b → c), within the 50% equity limit",
        "a controls b (60% of its votes), which holds 50% of c's votes: a directs 50% of "
        "c's votes, within the 60% voting limit",
        "the weakest link of a's chains to c is 50% (no chain carries more votes than its "
        "smallest holding)",
    )
    assert result.verdict is Verdict.CAUTION


def test_diamond_reports_control_not_a_group_percentage() -> None:
    """A controls B and C, which hold 30% and 25% of D: A controls D (55% of its votes);
    its look-through equity is 0.6 * 0.3 + 0.7 * 0.25 = 35.5%."""
    graph = OwnershipGraph.build(
        [
            Holding("a", "b", 0.6),
            Holding("a", "c", 0.7),
            Holding("b", "d", 0.3),
            Holding("c", "d", 0.25),
        ]
    )
    result = assess(graph, "d", Policy(("a",), 1.0, 1.0), AS_OF)
    (e,) = result.exposures
    assert e.look_through_equity.value == pytest.approx(0.355)
    assert e.directed_votes.value == pytest.approx(0.55)
    assert e.controls
    assert result.verdict is Verdict.CONFLICTED
    assert result.reasons[0] == (
        "a controls b (60% of its votes), which holds 30% of d's votes; a controls c (70% of "
        "its votes), which holds 25% of d's votes: a directs 55% of d's votes, more than "
        "half, so a controls d"
    )


def test_cross_holding_competitors_never_share_more_than_the_whole() -> None:
    graph = OwnershipGraph.build(
        [
            Holding("a", "b", 0.6),
            Holding("b", "c", 0.4),
            Holding("c", "b", 0.2),
            Holding("fb", "b", 0.2),
            Holding("fc", "c", 0.6),
        ]
    )
    for vendor in ("b", "c"):
        result = assess(graph, vendor, Policy(("a", "fb", "fc"), 1.0, 1.0), AS_OF)
        total = sum(e.look_through_equity.value for e in result.exposures)
        assert total == pytest.approx(1.0)
        # b's own cross-holding is not counted back into b.
        assert all(e.look_through_equity.value <= 1.0 for e in result.exposures)


def test_unrelated_vendor_is_neutral() -> None:
    result = assess(meta_scale(), "labelbox", Policy(("meta",), 0.25, 0.25), AS_OF)
    assert result.verdict is Verdict.NEUTRAL
    assert result.score == 100
    assert result.exposures == ()
    assert "meta" in result.reasons[0]


def test_exposure_within_limits_is_caution() -> None:
    result = assess(meta_scale(), "scale-ai", Policy(("meta",), 0.5, 0.5), AS_OF)
    assert result.verdict is Verdict.CAUTION
    assert result.score == 51
    assert "within the 50% equity limit" in result.reasons[0]


def test_zero_limit_tolerates_no_equity_at_all() -> None:
    graph = OwnershipGraph.build([Holding("meta", "v", 0.001)])
    result = assess(graph, "v", Policy(("meta",), 0.0, 0.0), AS_OF)
    assert result.verdict is Verdict.CONFLICTED
    assert result.score == 100


def test_control_of_the_vendor_conflicts_even_with_high_limits() -> None:
    graph = OwnershipGraph.build([Holding("meta", "p", 0.3, 0.6), Holding("p", "v", 0.2, 0.9)])
    result = assess(graph, "v", Policy(("meta",), 1.0, 1.0), AS_OF)
    (exposure,) = result.exposures
    assert exposure.controls
    assert exposure.control_path == ("meta", "p", "v")
    # Economic interest: 30% of p's 20%; what meta directs is p's 90% of the votes.
    assert exposure.look_through_equity.value == pytest.approx(0.06)
    assert exposure.directed_votes.value == pytest.approx(0.9)
    assert exposure.voting_power is None  # a majority needs no Banzhaf index
    assert result.verdict is Verdict.CONFLICTED
    assert result.score == 10
    assert result.reasons[0] == (
        "meta controls p (60% of its votes), which holds 90% of v's votes: meta directs 90% "
        "of v's votes, more than half, so meta controls v"
    )


def test_vendor_that_is_the_competitor_is_controlled_not_a_percentage() -> None:
    result = assess(meta_scale(), "meta", Policy(("meta",), 1.0, 1.0), AS_OF)
    (exposure,) = result.exposures
    assert exposure.is_competitor and exposure.controls
    assert result.score == 0
    assert result.reasons == ("meta is the competitor meta itself",)


def test_leadership_move_penalty_decays_and_disqualifies_within_window() -> None:
    graph = meta_scale(ties=True)
    lenient = Policy(("meta",), 1.0, 1.0)
    result = assess(graph, "labelbox", lenient, AS_OF)
    assert result.ties == ()  # labelbox has no tie to meta
    result = assess(graph, "outlier", lenient, AS_OF)
    (tie,) = result.ties
    assert tie.description == "Alexandr Wang (CEO) moved from scale-ai to meta on 2025-06-13"
    assert tie.weight == pytest.approx(0.5 ** (18 / 365))
    assert result.score == round(51 - 10 * tie.weight)
    assert result.verdict is Verdict.CAUTION
    strict = Policy(("meta",), 1.0, 1.0, leadership_move_disqualifies=True)
    assert assess(graph, "scale-ai", strict, AS_OF).verdict is Verdict.CONFLICTED
    short = Policy(
        ("meta",), 1.0, 1.0, leadership_move_disqualifies=True, leadership_move_window_days=10
    )
    assert assess(graph, "scale-ai", short, AS_OF).verdict is Verdict.CAUTION
    assert decay_weight(dt.date(2024, 1, 1), dt.date(2024, 12, 31)) == pytest.approx(0.5)


def test_board_seat_penalty_and_disqualification() -> None:
    graph = OwnershipGraph.build([Holding("meta", "v", 0.1, board_seats=2)])
    result = assess(graph, "v", Policy(("meta",), 0.25, 0.25), AS_OF)
    assert result.score == 90 - 20
    assert result.verdict is Verdict.CAUTION
    assert result.exposures[0].board_seats == 2
    strict = Policy(("meta",), 0.25, 0.25, board_seat_disqualifies=True)
    result = assess(graph, "v", strict, AS_OF)
    assert result.verdict is Verdict.CONFLICTED
    assert any("2 board seats on v" in r for r in result.reasons)


@pytest.mark.parametrize(
    ("unknown", "verdict"),
    [
        (UnknownOwnership.CAUTION, Verdict.CAUTION),
        (UnknownOwnership.CONFLICTED, Verdict.CONFLICTED),
        (UnknownOwnership.IGNORE, Verdict.NEUTRAL),
    ],
)
def test_undisclosed_stake_follows_policy(unknown: UnknownOwnership, verdict: Verdict) -> None:
    graph = OwnershipGraph.build([Holding("meta", "p", None), Holding("p", "v", 1.0)])
    result = assess(graph, "v", Policy(("meta",), 0.25, 0.25, unknown_ownership=unknown), AS_OF)
    assert result.verdict is verdict
    assert result.exposures[0].undisclosed_stake


def test_contract_tie_with_a_competitor_subsidiary_is_caution() -> None:
    graph = OwnershipGraph.build(
        [Holding("google", "deepmind", 1.0), Holding("parent", "v", 0.6)],
        ties=[Tie(TieKind.EXCLUSIVE_CONTRACT, "parent", "deepmind", dt.date(2024, 3, 1))],
    )
    result = assess(graph, "v", Policy(("google",), 0.25, 0.25), AS_OF)
    assert result.verdict is Verdict.CAUTION
    assert result.reasons == ("parent has an exclusive contract with deepmind since 2024-03-01",)
    assert result.ties[0].competitor == "google"


def test_worst_competitor_sets_the_score() -> None:
    exposures = [
        Exposure("a", Figure.exact(0.1), directed_votes=Figure.exact(0.3)),
        Exposure("b", Figure.exact(0.2)),
    ]
    result = judge("v", exposures, [], Policy(("a", "b"), 0.5, 0.5), AS_OF)
    assert result.score == 70
    assert result.verdict is Verdict.CAUTION


def test_pct() -> None:
    assert pct(0.49) == "49%"
    assert pct(15 / 23) == "65.22%"
    assert pct(0.0) == "0%"


# ---- ranges, undisclosed stakes, provenance --------------------------------------------


@pytest.mark.parametrize(
    ("bound", "verdict", "words"),
    [
        (Bound.UPPER, Verdict.CONFLICTED, "above the 25% equity limit at its upper bound"),
        (Bound.LOWER, Verdict.CAUTION, "within the 25% equity limit at its lower bound"),
    ],
)
def test_decisive_bound_of_a_range(bound: Bound, verdict: Verdict, words: str) -> None:
    graph = OwnershipGraph.build([Holding("a", "v", Share(0.2, 0.3), 0.0)])
    result = assess(graph, "v", Policy(("a",), 0.25, 0.25, decisive_bound=bound), AS_OF)
    assert result.verdict is verdict
    (e,) = result.exposures
    assert (e.look_through_equity.lower, e.look_through_equity.upper) == (0.2, 0.3)
    assert e.look_through_equity.value == (0.3 if bound is Bound.UPPER else 0.2)
    assert (
        result.reasons[0] == f"a's look-through equity in v is between 20% and 30% (a → v), {words}"
    )
    assert "a holds between 20% and 30% of the equity of v and none of its votes" in result.reasons


def test_undisclosed_stake_reports_its_upper_bound() -> None:
    graph = OwnershipGraph.build(
        [Holding("meta", "s", 0.49, 0.0), Holding("amazon", "s", None)], ["labelbox"]
    )
    result = assess(graph, "s", Policy(("amazon",), 0.25, 0.25), AS_OF)
    assert result.verdict is Verdict.CAUTION
    (e,) = result.exposures
    assert (e.look_through_equity.value, e.look_through_equity.lower) == (0.0, 0.0)
    assert e.look_through_equity.upper == pytest.approx(0.51)
    assert e.could_control and not e.controls
    assert result.reasons[0] == (
        "amazon holds a stake of undisclosed size on a chain to s: its look-through equity in "
        "s could be up to 51% and it could control s"
    )
    # 49% of s is accounted for for sure; the undisclosed stake may account for the rest.
    unknown = result.unknown_ownership
    assert (unknown.value, unknown.lower, unknown.upper) == pytest.approx((0.51, 0.0, 0.51))


def test_share_text_follows_the_source() -> None:
    assert share_text(Share(0.25, 0.5)) == "between 25% and 50%"
    assert share_text(Share(0.25, 0.5, exclusive_lower=True)) == "more than 25% and at most 50%"
    assert share_text(Share(0.5, 1.0, exclusive_lower=True)) == "more than 50%"
    assert share_text(Share(0.0, 0.25)) == "at most 25%"
    assert share_text(Share.exact(0.49)) == "49%"
    assert share_text(Share.undisclosed()) == "an undisclosed part"


def test_tie_reason_shows_its_source() -> None:
    graph = OwnershipGraph.build(
        [],
        ["v", "meta"],
        [
            Tie(
                TieKind.LEADERSHIP_MOVE,
                "v",
                "meta",
                dt.date(2025, 6, 13),
                "Alexandr Wang",
                "CEO",
                Provenance("https://example.com/move", "third party", "Reuters", "2025-06-13"),
            )
        ],
    )
    result = assess(graph, "v", Policy(("meta",)), AS_OF)
    assert result.reasons == (
        "Alexandr Wang (CEO) moved from v to meta on 2025-06-13 (source: "
        "https://example.com/move; third party, asserted by Reuters, 2025-06-13)",
    )
    assert result.ties[0].description == "Alexandr Wang (CEO) moved from v to meta on 2025-06-13"


# ---- voting power, restricted parties, graph problems ---------------------------------


def test_voting_power_limit_for_a_competitor_without_a_majority() -> None:
    graph = OwnershipGraph.build(
        [Holding("a", "v", 0.3), Holding("x", "v", 0.4), Holding("y", "v", 0.3)]
    )
    lenient = Policy(("a",), 0.35, 0.35)
    result = assess(graph, "v", lenient, AS_OF)
    (e,) = result.exposures
    assert e.voting_power is not None
    # a turns {x} and {y} from losing into winning: 2 of the 4 coalitions.
    assert e.voting_power.index.value == 0.5
    assert e.voting_power.other_holders == 2
    assert result.verdict is Verdict.CAUTION
    strict = Policy(("a",), 0.35, 0.35, max_competitor_voting_power=0.4)
    result = assess(graph, "v", strict, AS_OF)
    assert result.verdict is Verdict.CONFLICTED
    assert result.reasons[0] == (
        "a's voting power in v is 50% (Banzhaf index: the share of the coalitions of the 2 "
        "other recorded holders that a's votes turn from losing into winning), above the 40% "
        "voting-power limit"
    )


def test_restricted_parties_block_under_the_ofac_rule() -> None:
    graph = OwnershipGraph.build(
        [Holding("a", "b", 0.6), Holding("b", "c", 0.5), Holding("a", "d", 0.3)], ["e"]
    )
    policy = Policy((), restricted_parties=("a",))
    c = assess(graph, "c", policy, AS_OF)
    assert c.verdict is Verdict.CONFLICTED
    assert c.restricted is not None and c.restricted.blocked
    assert c.restricted.aggregate.value == 0.5
    assert c.reasons == (
        "c is blocked under the OFAC 50 Percent Rule: restricted parties and the entities they "
        "block own 50% of its equity in aggregate (b 50%, blocked through a → b), 50% or more",
    )
    d = assess(graph, "d", policy, AS_OF)
    assert d.verdict is Verdict.CAUTION
    assert d.reasons[0].startswith("restricted parties and the entities they block own 30%")
    assert assess(graph, "a", policy, AS_OF).reasons == (
        "a is a restricted party named by the policy",
    )
    assert assess(graph, "e", policy, AS_OF).verdict is Verdict.NEUTRAL


def test_only_vendors_depending_on_a_closed_cycle_get_caution() -> None:
    graph = OwnershipGraph.build(
        [
            Holding("x", "y", 0.5, 1.0),
            Holding("y", "x", 0.5, 1.0),
            Holding("y", "dep", 0.3),
            Holding("meta", "free", 0.1),
        ],
        ["alone"],
    )
    policy = Policy(("meta",), 0.25, 0.25)
    dep = assess(graph, "dep", policy, AS_OF)
    assert dep.verdict is Verdict.CAUTION
    assert dep.reasons == (
        "dep cannot be fully assessed: closed ownership cycle among x, y: every one of them has "
        "all of its votes held inside the cycle, with no outside owner, so look-through figures "
        "through it are undefined; dep is held through it, and its figures leave it out",
    )
    assert [p.organizations for p in dep.problems] == [("x", "y")]
    free = assess(graph, "free", policy, AS_OF)
    assert free.verdict is Verdict.CAUTION and not free.problems
    assert "meta's look-through equity in free is 10%" in free.reasons[0]
    assert assess(graph, "alone", policy, AS_OF).verdict is Verdict.NEUTRAL


def test_figures_that_cannot_be_computed_degrade_only_that_vendor() -> None:
    # a's holders own 180% of it: walks around the a <-> b cycle no longer converge.
    graph = OwnershipGraph.build(
        [
            Holding("c", "a", 0.9, 0.0),
            Holding("a", "b", 0.9),
            Holding("b", "a", 0.9),
            Holding("c", "other", 0.1),
        ]
    )
    policy = Policy(("c",), 0.25, 0.25)
    b = assess(graph, "b", policy, AS_OF)
    assert b.verdict is Verdict.CAUTION
    assert b.reasons == (
        "c's exposure in b could not be computed: its look-through figures depend on ownership "
        "data that is inconsistent",
        "b cannot be fully assessed: the recorded holders of a own at least 180% of its equity, "
        "more than all of it; b is held through it, and its figures leave it out",
    )
    # c's other stake does not pass through the inconsistent part: scored as usual.
    other = assess(graph, "other", policy, AS_OF)
    assert (
        other.reasons[0]
        == "c's look-through equity in other is 10% (c → other), within the 25% equity limit"
    )
    assert not other.problems
