"""The ranking engine: hard filters, the score formula, weights and the order."""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dpm.catalog.v1 import catalog_pb2
from dpm.common.v1 import common_pb2
from dpm.matching import engine
from dpm.matching.engine import Candidate, rank
from dpm.matching.v1 import matching_pb2
from dpm.neutrality.v1 import neutrality_pb2
from dpm.requirements.v1 import requirements_pb2

M = common_pb2
K = matching_pb2
NEUTRAL = neutrality_pb2.VERDICT_NEUTRAL
CAUTION = neutrality_pb2.VERDICT_CAUTION
CONFLICTED = neutrality_pb2.VERDICT_CONFLICTED


def cap(
    modality: int, capacity: int = 0, quality: float = 0.9, price: float = 1.0
) -> catalog_pb2.Capability:
    return catalog_pb2.Capability(
        modality=modality,  # type: ignore[arg-type]
        monthly_capacity=capacity,
        quality=quality,
        unit_price_usd=price,
    )


def vendor(
    slug: str,
    *caps: catalog_pb2.Capability,
    certs: Iterable[int] = (),
    workforce: Iterable[str] = ("US",),
    residency: Iterable[str] = (),
    clearance: bool = False,
) -> Candidate:
    profile = catalog_pb2.VendorProfile(
        name=f"organizations/{slug}/vendorProfile",
        capabilities=caps,
        certifications=certs,  # type: ignore[arg-type]
        workforce_regions=workforce,
        data_residency_regions=residency,
        security_clearance=clearance,
    )
    return Candidate(f"organizations/{slug}", slug.replace("-", " ").title(), profile)


def need(
    modality: int, volume: int = 1000, min_quality: float = 0.0, max_price: float = 0.0
) -> requirements_pb2.Need:
    return requirements_pb2.Need(
        modality=modality,  # type: ignore[arg-type]
        monthly_volume=volume,
        min_quality=min_quality,
        max_unit_price_usd=max_price,
    )


def client(
    *needs: requirements_pb2.Need,
    certs: Iterable[int] = (),
    regions: Iterable[str] = (),
    clearance: bool = False,
    budget: float = 0.0,
    weights: tuple[float, float, float, float] = (0, 0, 0, 0),
) -> requirements_pb2.Client:
    fit, quality, price, neutrality = weights
    return requirements_pb2.Client(
        name="clients/google",
        requirements=requirements_pb2.Requirements(
            needs=needs,
            required_certifications=certs,  # type: ignore[arg-type]
            allowed_regions=regions,
            requires_security_clearance=clearance,
            monthly_budget_usd=budget,
            weights=requirements_pb2.RankingWeights(
                fit=fit, quality=quality, price=price, neutrality=neutrality
            ),
        ),
    )


def scores(
    vendors: Sequence[Candidate],
    overrides: dict[str, neutrality_pb2.VendorNeutrality] | None = None,
) -> dict[str, neutrality_pb2.VendorNeutrality]:
    """Every vendor NEUTRAL at 100 unless overridden."""
    out = {
        v.name: neutrality_pb2.VendorNeutrality(vendor=v.name, score=100, verdict=NEUTRAL)
        for v in vendors
    }
    out.update(overrides or {})
    return out


def nv(slug: str, score: int, verdict: int, *reasons: str) -> neutrality_pb2.VendorNeutrality:
    return neutrality_pb2.VendorNeutrality(
        vendor=f"organizations/{slug}",
        score=score,
        verdict=verdict,  # type: ignore[arg-type]
        reasons=reasons,
    )


def excluded_reasons(
    excluded: Sequence[matching_pb2.ExcludedVendor], slug: str
) -> list[tuple[int, str]]:
    for e in excluded:
        if e.vendor == f"organizations/{slug}":
            return [(r.kind, r.message) for r in e.reasons]
    raise AssertionError(f"{slug} not excluded")


def ranked_names(ranked: Sequence[matching_pb2.RankedVendor]) -> list[str]:
    return [r.vendor.removeprefix("organizations/") for r in ranked]


# Hard filters -----------------------------------------------------------------


def test_a_vendor_covering_no_need_is_excluded_naming_the_modalities() -> None:
    c = client(
        need(M.MODALITY_RLHF),
        need(M.MODALITY_TEXT, min_quality=0.8),
        need(M.MODALITY_CODE, max_price=5.0),
    )
    vendors = [
        vendor("images-only", cap(M.MODALITY_IMAGE)),
        # Text below the quality floor, code above the price ceiling: covers nothing.
        vendor("too-weak", cap(M.MODALITY_TEXT, quality=0.7), cap(M.MODALITY_CODE, price=6.0)),
        vendor("code-ok", cap(M.MODALITY_CODE, price=5.0)),
    ]
    ranked, excluded = rank(c, vendors, scores(vendors))
    message = "offers none of rlhf, text, code at the required quality and price"
    assert excluded_reasons(excluded, "images-only") == [(K.EXCLUSION_KIND_CAPABILITY, message)]
    assert excluded_reasons(excluded, "too-weak") == [(K.EXCLUSION_KIND_CAPABILITY, message)]
    assert ranked_names(ranked) == ["code-ok"]
    assert list(ranked[0].covered_modalities) == [M.MODALITY_CODE]


def test_a_missing_certification_excludes_and_names_it() -> None:
    c = client(need(M.MODALITY_TEXT), certs=[M.CERTIFICATION_SOC2_TYPE_II, M.CERTIFICATION_HIPAA])
    vendors = [
        vendor("plain-soc2", cap(M.MODALITY_TEXT), certs=[M.CERTIFICATION_SOC2]),
        vendor("none", cap(M.MODALITY_TEXT)),
        vendor(
            "both",
            cap(M.MODALITY_TEXT),
            certs=[M.CERTIFICATION_HIPAA, M.CERTIFICATION_SOC2_TYPE_II],
        ),
    ]
    ranked, excluded = rank(c, vendors, scores(vendors))
    assert excluded_reasons(excluded, "plain-soc2") == [
        (K.EXCLUSION_KIND_CERTIFICATION, "lacks SOC 2 Type II, HIPAA")
    ]
    assert excluded_reasons(excluded, "none") == [
        (K.EXCLUSION_KIND_CERTIFICATION, "lacks SOC 2 Type II, HIPAA")
    ]
    assert ranked_names(ranked) == ["both"]


def test_soc2_type_ii_satisfies_a_soc2_requirement() -> None:
    c = client(need(M.MODALITY_TEXT), certs=[M.CERTIFICATION_SOC2])
    vendors = [
        vendor("type-ii", cap(M.MODALITY_TEXT), certs=[M.CERTIFICATION_SOC2_TYPE_II]),
        vendor("plain", cap(M.MODALITY_TEXT), certs=[M.CERTIFICATION_SOC2]),
        vendor("iso-only", cap(M.MODALITY_TEXT), certs=[M.CERTIFICATION_ISO_27001]),
    ]
    ranked, excluded = rank(c, vendors, scores(vendors))
    assert sorted(ranked_names(ranked)) == ["plain", "type-ii"]
    assert excluded_reasons(excluded, "iso-only") == [
        (K.EXCLUSION_KIND_CERTIFICATION, "lacks SOC 2")
    ]


def test_region_needs_workforce_or_residency_in_an_allowed_region() -> None:
    c = client(need(M.MODALITY_TEXT), regions=["US", "EU"])
    vendors = [
        vendor("offshore", cap(M.MODALITY_TEXT), workforce=["PH", "KE"], residency=["SG"]),
        vendor("us-data", cap(M.MODALITY_TEXT), workforce=["PH"], residency=["US"]),
        vendor("us-people", cap(M.MODALITY_TEXT), workforce=["US"], residency=[]),
        vendor("german", cap(M.MODALITY_TEXT), workforce=["DE"], residency=[]),
    ]
    ranked, excluded = rank(c, vendors, scores(vendors))
    assert excluded_reasons(excluded, "offshore") == [
        (K.EXCLUSION_KIND_REGION, "has neither workforce nor data residency in US, EU")
    ]
    assert sorted(ranked_names(ranked)) == ["german", "us-data", "us-people"]


def test_no_allowed_regions_means_anywhere() -> None:
    vendors = [vendor("offshore", cap(M.MODALITY_TEXT), workforce=["PH"])]
    ranked, _ = rank(client(need(M.MODALITY_TEXT)), vendors, scores(vendors))
    assert ranked_names(ranked) == ["offshore"]


def test_clearance_required_excludes_vendors_without_it() -> None:
    c = client(need(M.MODALITY_TEXT), clearance=True)
    vendors = [
        vendor("cleared", cap(M.MODALITY_TEXT), clearance=True),
        vendor("uncleared", cap(M.MODALITY_TEXT)),
    ]
    ranked, excluded = rank(c, vendors, scores(vendors))
    assert ranked_names(ranked) == ["cleared"]
    assert excluded_reasons(excluded, "uncleared") == [
        (K.EXCLUSION_KIND_CLEARANCE, "has no security clearance")
    ]


def test_a_conflicted_vendor_is_excluded_with_the_neutrality_reasons() -> None:
    vendors = [vendor("scale-ai", cap(M.MODALITY_RLHF)), vendor("surge-ai", cap(M.MODALITY_RLHF))]
    conflicted = nv(
        "scale-ai",
        10,
        CONFLICTED,
        "meta holds 49% of the equity (policy allows 10%)",
        "Alexandr Wang moved to meta on 2025-06-12",
    )
    ranked, excluded = rank(
        client(need(M.MODALITY_RLHF)),
        vendors,
        scores(vendors, {"organizations/scale-ai": conflicted}),
    )
    assert ranked_names(ranked) == ["surge-ai"]
    [(kind, message)] = excluded_reasons(excluded, "scale-ai")
    assert kind == K.EXCLUSION_KIND_NEUTRALITY
    assert message == (
        "meta holds 49% of the equity (policy allows 10%); "
        "Alexandr Wang moved to meta on 2025-06-12"
    )
    assert excluded[0].display_name == "Scale Ai"


def test_a_vendor_without_a_neutrality_score_is_excluded() -> None:
    vendors = [vendor("unknown", cap(M.MODALITY_TEXT)), vendor("known", cap(M.MODALITY_TEXT))]
    neutrality = scores(vendors)
    del neutrality["organizations/unknown"]
    ranked, excluded = rank(client(need(M.MODALITY_TEXT)), vendors, neutrality)
    assert ranked_names(ranked) == ["known"]
    [(kind, message)] = excluded_reasons(excluded, "unknown")
    assert kind == K.EXCLUSION_KIND_NEUTRALITY
    assert "not scored" in message


def test_every_failing_filter_is_listed() -> None:
    c = client(
        need(M.MODALITY_AUDIO),
        certs=[M.CERTIFICATION_FEDRAMP],
        regions=["US"],
        clearance=True,
    )
    vendors = [vendor("bad", cap(M.MODALITY_TEXT), workforce=["IN"])]
    _, excluded = rank(
        c, vendors, scores(vendors, {"organizations/bad": nv("bad", 0, CONFLICTED, "x")})
    )
    assert [kind for kind, _ in excluded_reasons(excluded, "bad")] == [
        K.EXCLUSION_KIND_CAPABILITY,
        K.EXCLUSION_KIND_CERTIFICATION,
        K.EXCLUSION_KIND_REGION,
        K.EXCLUSION_KIND_CLEARANCE,
        K.EXCLUSION_KIND_NEUTRALITY,
    ]


def test_excluded_vendors_are_sorted_by_name() -> None:
    vendors = [vendor(s, cap(M.MODALITY_IMAGE)) for s in ("zeta", "alpha", "mu")]
    _, excluded = rank(client(need(M.MODALITY_TEXT)), vendors, scores(vendors))
    assert [e.vendor for e in excluded] == [
        "organizations/alpha",
        "organizations/mu",
        "organizations/zeta",
    ]


# The score -------------------------------------------------------------------


def two_vendor_example() -> tuple[list[Candidate], dict[str, neutrality_pb2.VendorNeutrality]]:
    vendors = [
        vendor(
            "acme",
            cap(M.MODALITY_TEXT, capacity=500, quality=0.8, price=2.0),
            cap(M.MODALITY_CODE, capacity=0, quality=0.7, price=4.0),
        ),
        vendor("budget", cap(M.MODALITY_TEXT, capacity=0, quality=0.6, price=1.0)),
    ]
    neutrality = scores(vendors, {"organizations/acme": nv("acme", 80, NEUTRAL)})
    return vendors, neutrality


EXAMPLE_NEEDS = (need(M.MODALITY_TEXT, 1000, min_quality=0.5), need(M.MODALITY_CODE, 3000))


def test_the_score_on_a_hand_computed_example() -> None:
    vendors, neutrality = two_vendor_example()
    ranked, excluded = rank(client(*EXAMPLE_NEEDS), vendors, neutrality)
    assert excluded == []
    acme, budget = ranked
    # acme: text 500 of 1000 (capacity), code all 3000 (capacity unknown).
    assert acme.breakdown.fit == pytest.approx((500 + 3000) / 4000)  # 0.875
    assert acme.breakdown.quality == pytest.approx((1000 * 0.8 + 3000 * 0.7) / 4000)  # 0.725
    # cheapest text is budget's 1.0 vs acme's 2.0; acme is the only code vendor.
    assert acme.breakdown.price == pytest.approx((1000 * 0.5 + 3000 * 1.0) / 4000)  # 0.875
    assert acme.breakdown.neutrality == pytest.approx(0.8)
    assert acme.score == pytest.approx(0.4 * 0.875 + 0.3 * 0.725 + 0.1 * 0.875 + 0.2 * 0.8)
    assert acme.score == 0.815
    # budget: text only, all of it, at the lowest price.
    assert (budget.breakdown.fit, budget.breakdown.quality) == (0.25, 0.6)
    assert (budget.breakdown.price, budget.breakdown.neutrality) == (1.0, 1.0)
    assert budget.score == 0.58
    assert [r.rank for r in ranked] == [1, 2]
    assert list(acme.covered_modalities) == [M.MODALITY_TEXT, M.MODALITY_CODE]
    assert list(budget.covered_modalities) == [M.MODALITY_TEXT]
    assert (acme.display_name, acme.verdict, acme.neutrality_score) == ("Acme", NEUTRAL, 80)


def test_weights_are_normalized() -> None:
    vendors, neutrality = two_vendor_example()
    ranked, _ = rank(client(*EXAMPLE_NEEDS, weights=(2, 0, 0, 2)), vendors, neutrality)
    by_name = {r.vendor: r.score for r in ranked}
    assert by_name["organizations/acme"] == pytest.approx(0.5 * 0.875 + 0.5 * 0.8)
    assert by_name["organizations/budget"] == pytest.approx(0.5 * 0.25 + 0.5 * 1.0)
    # The defaults, scaled by ten, give the same scores as no weights at all.
    scaled, _ = rank(client(*EXAMPLE_NEEDS, weights=(4, 3, 1, 2)), vendors, neutrality)
    default, _ = rank(client(*EXAMPLE_NEEDS), vendors, neutrality)
    assert scaled == default


def test_normalized_weights() -> None:
    w = requirements_pb2.RankingWeights
    assert engine.normalized_weights(w()) == engine.DEFAULT_WEIGHTS
    assert engine.Weights(0.4, 0.3, 0.1, 0.2) == engine.DEFAULT_WEIGHTS
    assert engine.normalized_weights(w(fit=1, quality=1, price=1, neutrality=1)) == (
        engine.Weights(0.25, 0.25, 0.25, 0.25)
    )
    assert engine.normalized_weights(w(price=-3, neutrality=5)) == engine.Weights(0, 0, 0, 1)


def test_a_weight_on_one_part_ranks_by_that_part() -> None:
    vendors, neutrality = two_vendor_example()
    by_price, _ = rank(client(*EXAMPLE_NEEDS, weights=(0, 0, 1, 0)), vendors, neutrality)
    assert ranked_names(by_price) == ["budget", "acme"]
    by_fit, _ = rank(client(*EXAMPLE_NEEDS, weights=(1, 0, 0, 0)), vendors, neutrality)
    assert ranked_names(by_fit) == ["acme", "budget"]


def test_ties_break_by_neutrality_score_then_name() -> None:
    vendors = [vendor(s, cap(M.MODALITY_TEXT)) for s in ("delta", "bravo", "charlie", "alpha")]
    neutrality = scores(
        vendors,
        {
            "organizations/delta": nv("delta", 95, NEUTRAL),
            "organizations/charlie": nv("charlie", 90, NEUTRAL),
        },
    )
    # Neutrality carries no weight: every score is equal.
    ranked, _ = rank(client(need(M.MODALITY_TEXT), weights=(1, 1, 1, 0)), vendors, neutrality)
    assert len({r.score for r in ranked}) == 1
    assert ranked_names(ranked) == ["alpha", "bravo", "delta", "charlie"]
    assert [r.rank for r in ranked] == [1, 2, 3, 4]


def test_caution_reasons_become_notes() -> None:
    vendors = [
        vendor("handshake", cap(M.MODALITY_EXPERT)),
        vendor("turing", cap(M.MODALITY_EXPERT)),
    ]
    neutrality = scores(
        vendors,
        {
            "organizations/handshake": nv(
                "handshake", 70, CAUTION, "an undisclosed stake via a fund"
            )
        },
    )
    ranked, _ = rank(client(need(M.MODALITY_EXPERT)), vendors, neutrality)
    notes = {r.vendor: list(r.notes) for r in ranked}
    assert notes == {
        "organizations/handshake": ["an undisclosed stake via a fund"],
        "organizations/turing": [],
    }


def test_over_budget_is_a_note_not_an_exclusion() -> None:
    vendors, neutrality = two_vendor_example()
    # acme costs 500 * 2 + 3000 * 4 = 13,000; budget 1000 * 1 = 1,000.
    ranked, excluded = rank(client(*EXAMPLE_NEEDS, budget=5000), vendors, neutrality)
    assert excluded == []
    notes = {r.vendor: list(r.notes) for r in ranked}
    assert notes["organizations/budget"] == []
    [note] = notes["organizations/acme"]
    assert "$13,000" in note and "$5,000" in note and "budget" in note


def test_duplicate_vendors_are_refused() -> None:
    vendors = [vendor("a", cap(M.MODALITY_TEXT)), vendor("a", cap(M.MODALITY_CODE))]
    with pytest.raises(ValueError, match="organizations/a"):
        rank(client(need(M.MODALITY_TEXT)), vendors, scores(vendors))


# Properties ------------------------------------------------------------------

MODALITIES = [M.MODALITY_TEXT, M.MODALITY_RLHF, M.MODALITY_CODE, M.MODALITY_IMAGE]
CERTS = [M.CERTIFICATION_SOC2, M.CERTIFICATION_SOC2_TYPE_II, M.CERTIFICATION_HIPAA]
REGIONS = ["US", "EU", "DE", "IN"]

capabilities = st.builds(
    cap,
    st.sampled_from(MODALITIES),
    capacity=st.sampled_from([0, 100, 500, 2000]),
    quality=st.sampled_from([0.5, 0.7, 0.9, 1.0]),
    price=st.sampled_from([0.0, 1.0, 2.5, 4.0]),
)


@st.composite
def markets(
    draw: st.DrawFn,
) -> tuple[requirements_pb2.Client, list[Candidate], dict[str, neutrality_pb2.VendorNeutrality]]:
    needs = draw(
        st.lists(
            st.builds(
                need,
                st.sampled_from(MODALITIES),
                volume=st.sampled_from([0, 100, 1000]),
                min_quality=st.sampled_from([0.0, 0.6, 0.8]),
                max_price=st.sampled_from([0.0, 2.5]),
            ),
            max_size=3,
        )
    )
    c = client(
        *needs,
        certs=draw(st.lists(st.sampled_from(CERTS), max_size=1)),
        regions=draw(st.lists(st.sampled_from(REGIONS), max_size=2)),
        clearance=draw(st.booleans()),
        budget=draw(st.sampled_from([0.0, 1000.0])),
        weights=draw(st.tuples(*[st.sampled_from([0.0, 1.0, 2.0])] * 4)),
    )
    slugs = draw(st.lists(st.from_regex(r"[a-e]{1,2}", fullmatch=True), max_size=8, unique=True))
    vendors = [
        vendor(
            slug,
            *draw(st.lists(capabilities, max_size=3)),
            certs=draw(st.lists(st.sampled_from(CERTS), max_size=2)),
            workforce=draw(st.lists(st.sampled_from(REGIONS), max_size=2)),
            residency=draw(st.lists(st.sampled_from(REGIONS), max_size=1)),
            clearance=draw(st.booleans()),
        )
        for slug in slugs
    ]
    neutrality: dict[str, neutrality_pb2.VendorNeutrality] = {}
    for v in vendors:
        verdict = draw(st.sampled_from([None, NEUTRAL, NEUTRAL, CAUTION, CONFLICTED]))
        if verdict is not None:
            score = draw(st.sampled_from([0, 50, 90, 100]))
            neutrality[v.name] = neutrality_pb2.VendorNeutrality(
                vendor=v.name, score=score, verdict=verdict, reasons=["some reason"]
            )
    return c, vendors, neutrality


@settings(max_examples=300, deadline=None)
@given(market=markets(), seed=st.integers(0, 2**32 - 1))
def test_ranking_properties(
    market: tuple[
        requirements_pb2.Client, list[Candidate], dict[str, neutrality_pb2.VendorNeutrality]
    ],
    seed: int,
) -> None:
    c, vendors, neutrality = market
    ranked, excluded = rank(c, vendors, neutrality)

    # A permutation of the vendors not excluded; nobody is both or neither.
    all_names = sorted(v.name for v in vendors)
    excluded_names = [e.vendor for e in excluded]
    assert excluded_names == sorted(excluded_names)
    assert sorted([r.vendor for r in ranked] + excluded_names) == all_names
    assert all(e.reasons for e in excluded)
    assert [r.rank for r in ranked] == list(range(1, len(ranked) + 1))

    # Best first, with the full deterministic tie-break.
    keys = [(-r.score, -r.neutrality_score, r.vendor) for r in ranked]
    assert keys == sorted(keys)
    for r in ranked:
        b = r.breakdown
        assert all(0.0 <= x <= 1.0 for x in (r.score, b.fit, b.quality, b.price, b.neutrality))
        assert r.verdict in (NEUTRAL, CAUTION)
        assert r.covered_modalities or not c.requirements.needs

    # Input order does not matter.
    shuffled = list(vendors)
    random.Random(seed).shuffle(shuffled)
    assert rank(c, shuffled, neutrality) == (ranked, excluded)
