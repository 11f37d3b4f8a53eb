"""Vectorized ranking: ``rank_top`` returns exactly ``truncate(rank(...))``, and truncate's rule."""

from __future__ import annotations

import random
from collections.abc import Sequence

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dpm.matching import engine, ranking_arrays
from dpm.matching.engine import truncate
from dpm.matching.model import (
    Candidate,
    Certification,
    ExcludedVendor,
    ExclusionKind,
    ExclusionReason,
    Need,
    RankedVendor,
    Requirements,
    ScoreBreakdown,
    VendorNeutrality,
    Verdict,
    Weights,
)
from dpm.matching.model import Modality as M
from dpm.matching.ranking_arrays import (
    NeutralityColumn,
    VendorTable,
    approximate_scores,
    rank_top,
)
from tests.unit.test_engine import Neutrality, cap, org, vendor

C = Certification
K = ExclusionKind
NEUTRAL, CAUTION, CONFLICTED = Verdict.NEUTRAL, Verdict.CAUTION, Verdict.CONFLICTED


def expected(
    requirements: Requirements, vendors: Sequence[Candidate], neutrality: Neutrality, limit: int
) -> engine.RankedSet:
    return truncate(*engine.rank(requirements, vendors, neutrality), limit)


def ours(
    requirements: Requirements, vendors: Sequence[Candidate], neutrality: Neutrality, limit: int
) -> engine.RankedSet:
    table = VendorTable.build(vendors)
    return rank_top(table, requirements, table.neutrality_column(neutrality), limit)


# truncate ---------------------------------------------------------------------


def ranked_vendor(rank: int, slug: str) -> RankedVendor:
    return RankedVendor(
        rank=rank,
        vendor=org(slug),
        display_name=slug,
        score=1.0 / rank,
        breakdown=ScoreBreakdown(1.0, 1.0, 1.0, 1.0),
        verdict=NEUTRAL,
        neutrality_score=100,
        covered_modalities=(M.TEXT,),
        notes=(),
    )


def excluded_vendor(slug: str, *kinds: ExclusionKind) -> ExcludedVendor:
    return ExcludedVendor(org(slug), slug, tuple(ExclusionReason(k, "x") for k in kinds))


EXCLUDED = [
    excluded_vendor("alpha", K.CAPABILITY),
    excluded_vendor("bravo", K.REGION, K.NEUTRALITY),
    excluded_vendor("charlie", K.CLEARANCE),
    excluded_vendor("delta", K.NEUTRALITY),
    excluded_vendor("echo", K.CERTIFICATION),
]


def test_truncate_keeps_the_best_and_puts_neutrality_exclusions_first() -> None:
    ranked = [ranked_vendor(i, s) for i, s in enumerate(["x", "y", "z"], start=1)]
    got = truncate(ranked, EXCLUDED, 2)
    assert got.ranked == ranked[:2]
    assert [e.vendor.id for e in got.excluded] == ["bravo", "delta"]
    assert (got.ranked_total, got.excluded_total) == (3, 5)
    # Then the others, by name; the input order does not matter.
    got = truncate(ranked, list(reversed(EXCLUDED)), 4)
    assert [e.vendor.id for e in got.excluded] == ["bravo", "delta", "alpha", "charlie"]
    assert [r.rank for r in got.ranked] == [1, 2, 3]


def test_truncate_without_a_limit_keeps_everything() -> None:
    ranked = [ranked_vendor(i, s) for i, s in enumerate(["x", "y"], start=1)]
    for limit in (0, -1, 10):
        got = truncate(ranked, EXCLUDED, limit)
        assert got.ranked == ranked
        assert [e.vendor.id for e in got.excluded] == [
            "bravo",
            "delta",
            "alpha",
            "charlie",
            "echo",
        ]
        assert (got.ranked_total, got.excluded_total) == (2, 5)


def test_truncate_at_one() -> None:
    got = truncate([], [EXCLUDED[0], EXCLUDED[2]], 1)
    assert (got.ranked, [e.vendor.id for e in got.excluded]) == ([], ["alpha"])
    assert (got.ranked_total, got.excluded_total) == (0, 2)


# rank_top equals truncate(rank()) ---------------------------------------------

MODALITIES = [M.TEXT, M.RLHF, M.CODE]
CERTS = [C.SOC2, C.SOC2_TYPE_II, C.HIPAA]
REGIONS = ["US", "EU", "DE", " fr ", "IN", ""]
# Values whose sums tie after rounding without being equal floats (0.1 + 0.2).
QUALITIES = [0.0, 0.1, 0.2, 0.3, 0.6, 0.7, 0.9, 1.0, 1.2]
PRICES = [0.0, 0.1, 0.2, 0.3, 1.0, 2.5, -1.0]

capabilities = st.builds(
    cap,
    st.sampled_from(MODALITIES),
    capacity=st.sampled_from([0, -5, 100, 300, 1000, 2000]),
    quality=st.sampled_from(QUALITIES),
    price=st.sampled_from(PRICES),
)

needs = st.builds(
    Need,
    st.sampled_from(MODALITIES),
    monthly_volume=st.sampled_from([0, -10, 100, 300, 1000]),
    min_quality=st.sampled_from([0.0, 0.2, 0.6, 0.8]),
    max_unit_price_usd=st.sampled_from([0.0, 0.2, 2.5]),
)

requirements = st.builds(
    Requirements,
    needs=st.lists(needs, max_size=3).map(tuple),
    required_certifications=st.lists(st.sampled_from(CERTS), max_size=2).map(tuple),
    allowed_regions=st.lists(st.sampled_from(REGIONS), max_size=2).map(tuple),
    requires_security_clearance=st.booleans(),
    monthly_budget_usd=st.sampled_from([0.0, 500.0]),
    weights=st.builds(Weights, *[st.sampled_from([0.0, 1.0, 2.0, 0.1])] * 4),
)


@st.composite
def catalogs(draw: st.DrawFn) -> list[Candidate]:
    slugs = draw(st.lists(st.from_regex(r"[a-f]{1,2}", fullmatch=True), max_size=25, unique=True))
    # A few profiles shared by several vendors: exact score ties.
    profiles = draw(st.lists(st.lists(capabilities, max_size=4), min_size=1, max_size=4))
    return [
        vendor(
            slug,
            *draw(st.sampled_from(profiles) | st.lists(capabilities, max_size=4)),
            certs=draw(st.lists(st.sampled_from(CERTS), max_size=2)),
            workforce=draw(st.lists(st.sampled_from(REGIONS), max_size=2)),
            residency=draw(st.lists(st.sampled_from(REGIONS), max_size=1)),
            clearance=draw(st.booleans()),
        )
        for slug in slugs
    ]


@st.composite
def verdicts(draw: st.DrawFn, vendors: Sequence[Candidate]) -> Neutrality:
    out: Neutrality = {}
    for v in vendors:
        verdict = draw(st.sampled_from([None, NEUTRAL, NEUTRAL, CAUTION, CONFLICTED]))
        if verdict is not None:
            score = draw(st.sampled_from([0, 50, 90, 100]))
            reasons = draw(st.sampled_from([(), ("a stake",), ("a stake", "a board seat")]))
            out[v.name] = VendorNeutrality(verdict, score, reasons)
    # A verdict on a vendor outside the catalog is ignored by both.
    out[org("zz-outside")] = VendorNeutrality(CONFLICTED, 0)
    return out


@settings(max_examples=400, deadline=None)
@given(data=st.data())
def test_rank_top_equals_truncated_rank(data: st.DataObject) -> None:
    vendors = data.draw(catalogs())
    table = VendorTable.build(vendors)
    columns = [data.draw(verdicts(vendors)) for _ in range(2)]
    # Several clients against one table: the requirements cache is shared.
    for _ in range(3):
        client = data.draw(requirements)
        neutrality = data.draw(st.sampled_from(columns))
        limit = data.draw(st.sampled_from([0, 1, 2, 3, 5, 8, 30, -1]))
        column = table.neutrality_column(neutrality)
        got = rank_top(table, client, column, limit)
        assert got == expected(client, vendors, neutrality, limit)
        check_approximation(table, client, column, neutrality)


def check_approximation(
    table: VendorTable, client: Requirements, column: NeutralityColumn, neutrality: Neutrality
) -> None:
    """The arrays pass exactly the vendors the engine ranks, each within rounding of its
    score: a wrong approximation only shows in rank_top when it drops a vendor that
    belongs in the set, which small catalogs seldom make happen."""
    passing, scores = approximate_scores(table, client, column)
    ranked, _ = engine.rank(client, table.candidates, neutrality)
    by_name = {r.vendor: r.score for r in ranked}
    assert {table.candidates[i].name for i in np.flatnonzero(passing)} == set(by_name)
    for i in np.flatnonzero(passing).tolist():
        exact = by_name[table.candidates[i].name]
        assert abs(float(scores[i]) - exact) <= 0.5 * 10.0**-engine.SCORE_DIGITS + 1e-12


def seeded_catalog(n: int, seed: int) -> tuple[list[Candidate], list[Requirements]]:
    """n vendors with continuous values and some identical profiles; 10 clients."""
    rng = random.Random(seed)
    modalities = list(M)
    shared = [
        tuple(cap(rng.choice(modalities), 500, rng.choice([0.5, 0.8]), 1.0) for _ in range(3))
        for _ in range(5)
    ]
    vendors = []
    for i in range(n):
        caps = (
            rng.choice(shared)
            if rng.random() < 0.1
            else tuple(
                cap(
                    rng.choice(modalities),
                    rng.choice([0, rng.randrange(100, 50_000)]),
                    round(rng.random(), rng.choice([1, 3, 9])),
                    rng.choice([0.0, round(rng.uniform(0.05, 10), 2)]),
                )
                for _ in range(rng.randint(0, 6))
            )
        )
        vendors.append(
            vendor(
                f"v{i}",
                *caps,
                certs=rng.sample(list(C), rng.randint(0, 3)),
                workforce=rng.sample(["US", "DE", "FR", "IN", "PH", "BR"], rng.randint(0, 2)),
                residency=rng.sample(["US", "EU", "IE", "SG"], rng.randint(0, 1)),
                clearance=rng.random() < 0.3,
            )
        )
    clients = [
        Requirements(
            needs=tuple(
                Need(
                    rng.choice(modalities),
                    rng.choice([0, 1000, 20_000]),
                    rng.choice([0.0, 0.3, 0.6]),
                    rng.choice([0.0, 5.0]),
                )
                for _ in range(rng.randint(0, 4))
            ),
            required_certifications=tuple(rng.sample(list(C), rng.randint(0, 1))),
            allowed_regions=tuple(rng.sample(["US", "EU", "IN"], rng.randint(0, 2))),
            requires_security_clearance=rng.random() < 0.1,
            monthly_budget_usd=rng.choice([0.0, 10_000.0]),
            weights=Weights(*(rng.choice([0.0, 1.0, 0.3]) for _ in range(4))),
        )
        for _ in range(10)
    ]
    return vendors, clients


def seeded_verdicts(vendors: Sequence[Candidate], seed: int) -> Neutrality:
    rng = random.Random(seed)
    out: Neutrality = {}
    for v in vendors:
        if rng.random() < 0.03:
            continue
        verdict = rng.choices([NEUTRAL, CAUTION, CONFLICTED], [0.85, 0.1, 0.05])[0]
        out[v.name] = VendorNeutrality(verdict, rng.choice([100, 100, 90, rng.randrange(101)]))
    return out


def test_a_thousand_vendors() -> None:
    vendors, clients = seeded_catalog(1000, seed=3)
    table = VendorTable.build(list(reversed(vendors)))
    neutrality = seeded_verdicts(vendors, seed=4)
    column = table.neutrality_column(neutrality)
    for client in clients:
        ranked, excluded = engine.rank(client, vendors, neutrality)
        for limit in (50, 1, 0):
            assert rank_top(table, client, column, limit) == truncate(ranked, excluded, limit)


def test_many_equal_scores_break_by_neutrality_then_name() -> None:
    vendors = [vendor(f"v{i:02}", cap(M.TEXT)) for i in range(40)]
    neutrality = {v.name: VendorNeutrality(NEUTRAL, 90 + i % 3) for i, v in enumerate(vendors)}
    client = Requirements(needs=(Need(M.TEXT, 1000),), weights=Weights(1, 0, 0, 0))
    got = ours(client, vendors, neutrality, 5)
    assert [r.vendor.id for r in got.ranked] == ["v02", "v05", "v08", "v11", "v14"]
    assert got == expected(client, vendors, neutrality, 5)


def test_scores_that_round_alike_tie_even_when_numpy_orders_them() -> None:
    # Fit 0.50000049 and 0.49999951 both round to 0.5 (almost 1e-6 apart): the
    # higher neutrality score wins although its unrounded score is lower; the
    # selection must keep both.
    vendors = [
        vendor("a", cap(M.TEXT, capacity=50_000_049)),
        vendor("b", cap(M.TEXT, capacity=49_999_951)),
    ]
    neutrality = {org("a"): VendorNeutrality(NEUTRAL, 90), org("b"): VendorNeutrality(NEUTRAL, 95)}
    client = Requirements(needs=(Need(M.TEXT, 100_000_000),), weights=Weights(1, 0, 0, 0))
    got = ours(client, vendors, neutrality, 1)
    assert [(r.vendor.id, r.score) for r in got.ranked] == [("b", 0.5)]
    assert got == expected(client, vendors, neutrality, 1)


def test_scores_one_rounding_step_apart() -> None:
    # Fit 0.5, 0.500001, ... 0.500005: the cut falls between neighbouring buckets.
    vendors = [vendor(f"v{k}", cap(M.TEXT, capacity=50_000_000 + 100 * k)) for k in range(6)]
    neutrality = {v.name: VendorNeutrality(NEUTRAL, 100) for v in vendors}
    client = Requirements(needs=(Need(M.TEXT, 100_000_000),), weights=Weights(1, 0, 0, 0))
    for limit in range(1, 7):
        got = ours(client, vendors, neutrality, limit)
        assert [r.vendor.id for r in got.ranked] == [f"v{k}" for k in range(5, 5 - limit, -1)]
        assert got == expected(client, vendors, neutrality, limit)


def test_the_capability_used_for_a_need_is_the_engines() -> None:
    # Ties on covered fraction then quality go to the cheaper one; the price part
    # of the score then uses that price.
    vendors = [
        vendor(
            "a",
            cap(M.TEXT, capacity=500, quality=0.7, price=2.0),
            cap(M.TEXT, capacity=800, quality=0.7, price=4.0),
            cap(M.TEXT, capacity=500, quality=0.7, price=1.0),
            cap(M.TEXT, capacity=500, quality=0.6, price=0.5),
        ),
        vendor("b", cap(M.TEXT, capacity=100, quality=0.9, price=0.25)),
    ]
    neutrality = {v.name: VendorNeutrality(NEUTRAL, 100) for v in vendors}
    table = VendorTable.build(vendors)
    column = table.neutrality_column(neutrality)
    for volume in (400, 1000, 0):
        client = Requirements(needs=(Need(M.TEXT, volume),), weights=Weights(1, 1, 1, 0))
        check_approximation(table, client, column, neutrality)


def test_a_nan_quality_is_ranked_by_the_engine_itself() -> None:
    vendors = [
        vendor("a", cap(M.TEXT, quality=float("nan"))),
        vendor("b", cap(M.TEXT, quality=0.5, price=float("nan"))),
        vendor("c", cap(M.TEXT, quality=0.7)),
    ]
    neutrality = {v.name: VendorNeutrality(NEUTRAL, 100) for v in vendors}
    client = Requirements(needs=(Need(M.TEXT, 1000),))
    for limit in (0, 1, 2):
        assert ours(client, vendors, neutrality, limit) == expected(
            client, vendors, neutrality, limit
        )


def test_duplicate_vendors_are_refused() -> None:
    with pytest.raises(ValueError, match="organizations/a"):
        VendorTable.build([vendor("a", cap(M.TEXT)), vendor("a", cap(M.CODE))])


def test_a_column_of_another_table_is_refused() -> None:
    vendors = [vendor("a", cap(M.TEXT))]
    column = VendorTable.build(vendors).neutrality_column({})
    with pytest.raises(ValueError, match="another table"):
        rank_top(VendorTable.build(vendors), Requirements(), column, 5)


def test_verdicts_numbered_afresh_still_rank_right(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ranking_arrays, "VERDICT_NUMBERS_SIZE", 2)
    vendors, clients = seeded_catalog(60, seed=5)
    table = VendorTable.build(vendors)
    for seed in range(4):
        neutrality = seeded_verdicts(vendors, seed=seed)
        column = table.neutrality_column(neutrality)
        for client in clients[:3]:
            assert rank_top(table, client, column, 5) == expected(client, vendors, neutrality, 5)


def test_identical_requirements_share_their_arrays() -> None:
    vendors = [vendor("a", cap(M.TEXT)), vendor("b", cap(M.CODE))]
    table = VendorTable.build(vendors)
    first = Requirements(needs=(Need(M.TEXT, 10),), allowed_regions=("US",))
    second = Requirements(needs=(Need(M.TEXT, 10),), allowed_regions=("US",))
    assert table.template(first) is table.template(second)
    assert table.template(first) is not table.template(Requirements())
