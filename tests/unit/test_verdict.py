"""Policy -> verdict, score and reasons, from the graph up (pure, no gRPC)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from dpm.neutrality.assess import assess
from dpm.neutrality.graph import Holding, OwnershipGraph, Tie, TieKind
from dpm.neutrality.verdict import (
    Exposure,
    Policy,
    UnknownOwnership,
    Verdict,
    decay_weight,
    judge,
    pct,
)

VECTORS = json.loads((Path(__file__).parents[1] / "data" / "ownership-vectors.json").read_text())
AS_OF = dt.date(2025, 7, 1)


def meta_scale(**extra: object) -> OwnershipGraph:
    holdings = [
        Holding("meta", "scale-ai", 0.49, 0.0),
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
        assert exposure.equity == pytest.approx(spec["exposure"], abs=1e-9)
        assert exposure.votes == 0.0
        assert not exposure.controls


def test_reason_names_competitor_figure_and_chain() -> None:
    policy = Policy(("meta",), 0.25, 0.25)
    result = assess(meta_scale(), "outlier", policy, AS_OF)
    assert result.verdict is Verdict.CONFLICTED
    assert result.score == 51
    assert result.reasons == (
        "meta holds 49% of the equity of outlier (meta → scale-ai → outlier; 0% of the votes), "
        "above the 25% limit",
    )
    assert result.exposures[0].chains[0].organizations == ("meta", "scale-ai", "outlier")


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
    assert "within the 50% limit" in result.reasons[0]


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
    # The group {meta, p} holds p's 20% in full: no double counting of meta's share in p.
    assert exposure.equity == pytest.approx(0.2)
    assert result.verdict is Verdict.CONFLICTED
    assert any("meta controls v" in r for r in result.reasons)


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
    exposures = [Exposure("a", 0.1, 0.3), Exposure("b", 0.2, 0.0)]
    result = judge("v", exposures, [], Policy(("a", "b"), 0.5, 0.5), AS_OF)
    assert result.score == 70
    assert result.verdict is Verdict.CAUTION


def test_pct() -> None:
    assert pct(0.49) == "49%"
    assert pct(15 / 23) == "65.22%"
    assert pct(0.0) == "0%"
