"""The ranking engine: hard filters, the score formula, weights and the order."""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dpm.catalog.v1 import catalog_pb2
from dpm.common.v1 import common_pb2
from dpm.matching import convert, engine
from dpm.matching.engine import rank
from dpm.matching.model import (
    Candidate,
    Capability,
    Certification,
    ExcludedVendor,
    ExclusionKind,
    ExclusionReason,
    Need,
    RankedVendor,
    Requirements,
    ScoreBreakdown,
    VendorNeutrality,
    VendorProfile,
    Verdict,
    Weights,
)
from dpm.matching.model import Modality as M
from dpm.matching.v1 import matching_pb2
from dpm.neutrality.v1 import neutrality_pb2
from dpm.platform.names import OrganizationName
from dpm.requirements.v1 import requirements_pb2

C = Certification
K = ExclusionKind
NEUTRAL = Verdict.NEUTRAL
CAUTION = Verdict.CAUTION
CONFLICTED = Verdict.CONFLICTED

Neutrality = dict[OrganizationName, VendorNeutrality]


def org(slug: str) -> OrganizationName:
    return OrganizationName(slug)


def cap(modality: M, capacity: int = 0, quality: float = 0.9, price: float = 1.0) -> Capability:
    return Capability(modality, monthly_capacity=capacity, quality=quality, unit_price_usd=price)


def vendor(
    slug: str,
    *caps: Capability,
    certs: Iterable[Certification] = (),
    workforce: Iterable[str] = ("US",),
    residency: Iterable[str] = (),
    clearance: bool = False,
) -> Candidate:
    profile = VendorProfile(
        capabilities=caps,
        certifications=tuple(certs),
        workforce_regions=tuple(workforce),
        data_residency_regions=tuple(residency),
        security_clearance=clearance,
    )
    return Candidate(org(slug), slug.replace("-", " ").title(), profile)


def need(modality: M, volume: int = 1000, min_quality: float = 0.0, max_price: float = 0.0) -> Need:
    return Need(
        modality, monthly_volume=volume, min_quality=min_quality, max_unit_price_usd=max_price
    )


def client(
    *needs: Need,
    certs: Iterable[Certification] = (),
    regions: Iterable[str] = (),
    clearance: bool = False,
    budget: float = 0.0,
    weights: tuple[float, float, float, float] = (0, 0, 0, 0),
) -> Requirements:
    return Requirements(
        needs=needs,
        required_certifications=tuple(certs),
        allowed_regions=tuple(regions),
        requires_security_clearance=clearance,
        monthly_budget_usd=budget,
        weights=Weights(*weights),
    )


def scores(vendors: Sequence[Candidate], overrides: Neutrality | None = None) -> Neutrality:
    """Every vendor NEUTRAL at 100 unless overridden."""
    out = {v.name: VendorNeutrality(NEUTRAL, 100) for v in vendors}
    out.update(overrides or {})
    return out


def nv(score: int, verdict: Verdict, *reasons: str) -> VendorNeutrality:
    return VendorNeutrality(verdict, score, reasons)


def excluded_reasons(
    excluded: Sequence[ExcludedVendor], slug: str
) -> list[tuple[ExclusionKind, str]]:
    for e in excluded:
        if e.vendor == org(slug):
            return [(r.kind, r.message) for r in e.reasons]
    raise AssertionError(f"{slug} not excluded")


def ranked_names(ranked: Sequence[RankedVendor]) -> list[str]:
    return [r.vendor.id for r in ranked]


# Hard filters -----------------------------------------------------------------


def test_a_vendor_covering_no_need_is_excluded_naming_the_modalities() -> None:
    c = client(need(M.RLHF), need(M.TEXT, min_quality=0.8), need(M.CODE, max_price=5.0))
    vendors = [
        vendor("images-only", cap(M.IMAGE)),
        # Text below the quality floor, code above the price ceiling: covers nothing.
        vendor("too-weak", cap(M.TEXT, quality=0.7), cap(M.CODE, price=6.0)),
        vendor("code-ok", cap(M.CODE, price=5.0)),
    ]
    ranked, excluded = rank(c, vendors, scores(vendors))
    message = "offers none of rlhf, text, code at the required quality and price"
    assert excluded_reasons(excluded, "images-only") == [(K.CAPABILITY, message)]
    assert excluded_reasons(excluded, "too-weak") == [(K.CAPABILITY, message)]
    assert ranked_names(ranked) == ["code-ok"]
    assert list(ranked[0].covered_modalities) == [M.CODE]


def test_a_missing_certification_excludes_and_names_it() -> None:
    c = client(need(M.TEXT), certs=[C.SOC2_TYPE_II, C.HIPAA])
    vendors = [
        vendor("plain-soc2", cap(M.TEXT), certs=[C.SOC2]),
        vendor("none", cap(M.TEXT)),
        vendor("both", cap(M.TEXT), certs=[C.HIPAA, C.SOC2_TYPE_II]),
    ]
    ranked, excluded = rank(c, vendors, scores(vendors))
    assert excluded_reasons(excluded, "plain-soc2") == [
        (K.CERTIFICATION, "lacks SOC 2 Type II, HIPAA")
    ]
    assert excluded_reasons(excluded, "none") == [(K.CERTIFICATION, "lacks SOC 2 Type II, HIPAA")]
    assert ranked_names(ranked) == ["both"]


def test_soc2_type_ii_satisfies_a_soc2_requirement() -> None:
    c = client(need(M.TEXT), certs=[C.SOC2])
    vendors = [
        vendor("type-ii", cap(M.TEXT), certs=[C.SOC2_TYPE_II]),
        vendor("plain", cap(M.TEXT), certs=[C.SOC2]),
        vendor("iso-only", cap(M.TEXT), certs=[C.ISO_27001]),
    ]
    ranked, excluded = rank(c, vendors, scores(vendors))
    assert sorted(ranked_names(ranked)) == ["plain", "type-ii"]
    assert excluded_reasons(excluded, "iso-only") == [(K.CERTIFICATION, "lacks SOC 2")]


def test_region_needs_workforce_or_residency_in_an_allowed_region() -> None:
    c = client(need(M.TEXT), regions=["US", "EU"])
    vendors = [
        vendor("offshore", cap(M.TEXT), workforce=["PH", "KE"], residency=["SG"]),
        vendor("us-data", cap(M.TEXT), workforce=["PH"], residency=["US"]),
        vendor("us-people", cap(M.TEXT), workforce=["US"], residency=[]),
        vendor("german", cap(M.TEXT), workforce=["DE"], residency=[]),
    ]
    ranked, excluded = rank(c, vendors, scores(vendors))
    assert excluded_reasons(excluded, "offshore") == [
        (K.REGION, "has neither workforce nor data residency in US, EU")
    ]
    assert sorted(ranked_names(ranked)) == ["german", "us-data", "us-people"]


def test_no_allowed_regions_means_anywhere() -> None:
    vendors = [vendor("offshore", cap(M.TEXT), workforce=["PH"])]
    ranked, _ = rank(client(need(M.TEXT)), vendors, scores(vendors))
    assert ranked_names(ranked) == ["offshore"]


def test_clearance_required_excludes_vendors_without_it() -> None:
    c = client(need(M.TEXT), clearance=True)
    vendors = [vendor("cleared", cap(M.TEXT), clearance=True), vendor("uncleared", cap(M.TEXT))]
    ranked, excluded = rank(c, vendors, scores(vendors))
    assert ranked_names(ranked) == ["cleared"]
    assert excluded_reasons(excluded, "uncleared") == [(K.CLEARANCE, "has no security clearance")]


def test_a_conflicted_vendor_is_excluded_with_the_neutrality_reasons() -> None:
    vendors = [vendor("scale-ai", cap(M.RLHF)), vendor("surge-ai", cap(M.RLHF))]
    conflicted = nv(
        10,
        CONFLICTED,
        "meta holds 49% of the equity (policy allows 10%)",
        "Alexandr Wang moved to meta on 2025-06-12",
    )
    ranked, excluded = rank(
        client(need(M.RLHF)),
        vendors,
        scores(vendors, {org("scale-ai"): conflicted}),
    )
    assert ranked_names(ranked) == ["surge-ai"]
    [(kind, message)] = excluded_reasons(excluded, "scale-ai")
    assert kind == K.NEUTRALITY
    assert message == (
        "meta holds 49% of the equity (policy allows 10%); "
        "Alexandr Wang moved to meta on 2025-06-12"
    )
    assert excluded[0].display_name == "Scale Ai"


def test_a_vendor_without_a_neutrality_score_is_excluded() -> None:
    vendors = [vendor("unknown", cap(M.TEXT)), vendor("known", cap(M.TEXT))]
    neutrality = scores(vendors)
    del neutrality[org("unknown")]
    ranked, excluded = rank(client(need(M.TEXT)), vendors, neutrality)
    assert ranked_names(ranked) == ["known"]
    [(kind, message)] = excluded_reasons(excluded, "unknown")
    assert kind == K.NEUTRALITY
    assert "not scored" in message


def test_every_failing_filter_is_listed() -> None:
    c = client(need(M.AUDIO), certs=[C.FEDRAMP], regions=["US"], clearance=True)
    vendors = [vendor("bad", cap(M.TEXT), workforce=["IN"])]
    _, excluded = rank(c, vendors, scores(vendors, {org("bad"): nv(0, CONFLICTED, "x")}))
    assert [kind for kind, _ in excluded_reasons(excluded, "bad")] == [
        K.CAPABILITY,
        K.CERTIFICATION,
        K.REGION,
        K.CLEARANCE,
        K.NEUTRALITY,
    ]


def test_excluded_vendors_are_sorted_by_name() -> None:
    vendors = [vendor(s, cap(M.IMAGE)) for s in ("zeta", "alpha", "mu")]
    _, excluded = rank(client(need(M.TEXT)), vendors, scores(vendors))
    assert [str(e.vendor) for e in excluded] == [
        "organizations/alpha",
        "organizations/mu",
        "organizations/zeta",
    ]


# The score -------------------------------------------------------------------


def two_vendor_example() -> tuple[list[Candidate], Neutrality]:
    vendors = [
        vendor(
            "acme",
            cap(M.TEXT, capacity=500, quality=0.8, price=2.0),
            cap(M.CODE, capacity=0, quality=0.7, price=4.0),
        ),
        vendor("budget", cap(M.TEXT, capacity=0, quality=0.6, price=1.0)),
    ]
    neutrality = scores(vendors, {org("acme"): nv(80, NEUTRAL)})
    return vendors, neutrality


EXAMPLE_NEEDS = (need(M.TEXT, 1000, min_quality=0.5), need(M.CODE, 3000))


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
    assert list(acme.covered_modalities) == [M.TEXT, M.CODE]
    assert list(budget.covered_modalities) == [M.TEXT]
    assert (acme.display_name, acme.verdict, acme.neutrality_score) == ("Acme", NEUTRAL, 80)


def test_weights_are_normalized() -> None:
    vendors, neutrality = two_vendor_example()
    ranked, _ = rank(client(*EXAMPLE_NEEDS, weights=(2, 0, 0, 2)), vendors, neutrality)
    by_name = {r.vendor: r.score for r in ranked}
    assert by_name[org("acme")] == pytest.approx(0.5 * 0.875 + 0.5 * 0.8)
    assert by_name[org("budget")] == pytest.approx(0.5 * 0.25 + 0.5 * 1.0)
    # The defaults, scaled by ten, give the same scores as no weights at all.
    scaled, _ = rank(client(*EXAMPLE_NEEDS, weights=(4, 3, 1, 2)), vendors, neutrality)
    default, _ = rank(client(*EXAMPLE_NEEDS), vendors, neutrality)
    assert scaled == default


def test_normalized_weights() -> None:
    normalized = engine.normalized_weights
    assert normalized(Weights(0, 0, 0, 0)) == engine.DEFAULT_WEIGHTS
    assert Weights(0.4, 0.3, 0.1, 0.2) == engine.DEFAULT_WEIGHTS
    assert normalized(Weights(1, 1, 1, 1)) == Weights(0.25, 0.25, 0.25, 0.25)
    assert normalized(Weights(fit=0, quality=0, price=-3, neutrality=5)) == Weights(0, 0, 0, 1)
    assert normalized(Weights(float("nan"), float("inf"), 0, 2)) == Weights(0, 0, 0, 1)


def test_a_weight_on_one_part_ranks_by_that_part() -> None:
    vendors, neutrality = two_vendor_example()
    by_price, _ = rank(client(*EXAMPLE_NEEDS, weights=(0, 0, 1, 0)), vendors, neutrality)
    assert ranked_names(by_price) == ["budget", "acme"]
    by_fit, _ = rank(client(*EXAMPLE_NEEDS, weights=(1, 0, 0, 0)), vendors, neutrality)
    assert ranked_names(by_fit) == ["acme", "budget"]


def test_ties_break_by_neutrality_score_then_name() -> None:
    vendors = [vendor(s, cap(M.TEXT)) for s in ("delta", "bravo", "charlie", "alpha")]
    neutrality = scores(vendors, {org("delta"): nv(95, NEUTRAL), org("charlie"): nv(90, NEUTRAL)})
    # Neutrality carries no weight: every score is equal.
    ranked, _ = rank(client(need(M.TEXT), weights=(1, 1, 1, 0)), vendors, neutrality)
    assert len({r.score for r in ranked}) == 1
    assert ranked_names(ranked) == ["alpha", "bravo", "delta", "charlie"]
    assert [r.rank for r in ranked] == [1, 2, 3, 4]


def test_caution_reasons_become_notes() -> None:
    vendors = [vendor("handshake", cap(M.EXPERT)), vendor("turing", cap(M.EXPERT))]
    caution = nv(70, CAUTION, "an undisclosed stake via a fund")
    neutrality = scores(vendors, {org("handshake"): caution})
    ranked, _ = rank(client(need(M.EXPERT)), vendors, neutrality)
    notes = {r.vendor: list(r.notes) for r in ranked}
    assert notes == {org("handshake"): ["an undisclosed stake via a fund"], org("turing"): []}


def test_over_budget_is_a_note_not_an_exclusion() -> None:
    vendors, neutrality = two_vendor_example()
    # acme costs 500 * 2 + 3000 * 4 = 13,000; budget 1000 * 1 = 1,000.
    ranked, excluded = rank(client(*EXAMPLE_NEEDS, budget=5000), vendors, neutrality)
    assert excluded == []
    notes = {r.vendor: list(r.notes) for r in ranked}
    assert notes[org("budget")] == []
    [note] = notes[org("acme")]
    assert "$13,000" in note and "$5,000" in note and "budget" in note


def test_duplicate_vendors_are_refused() -> None:
    vendors = [vendor("a", cap(M.TEXT)), vendor("a", cap(M.CODE))]
    with pytest.raises(ValueError, match="organizations/a"):
        rank(client(need(M.TEXT)), vendors, scores(vendors))


# Properties ------------------------------------------------------------------

MODALITIES = [M.TEXT, M.RLHF, M.CODE, M.IMAGE]
CERTS = [C.SOC2, C.SOC2_TYPE_II, C.HIPAA]
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
) -> tuple[Requirements, list[Candidate], Neutrality]:
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
    neutrality: Neutrality = {}
    for v in vendors:
        verdict = draw(st.sampled_from([None, NEUTRAL, NEUTRAL, CAUTION, CONFLICTED]))
        if verdict is not None:
            score = draw(st.sampled_from([0, 50, 90, 100]))
            neutrality[v.name] = nv(score, verdict, "some reason")
    return c, vendors, neutrality


@settings(max_examples=300, deadline=None)
@given(market=markets(), seed=st.integers(0, 2**32 - 1))
def test_ranking_properties(
    market: tuple[Requirements, list[Candidate], Neutrality],
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
        assert r.covered_modalities or not c.needs

    # Input order does not matter.
    shuffled = list(vendors)
    random.Random(seed).shuffle(shuffled)
    assert rank(c, shuffled, neutrality) == (ranked, excluded)


# The mapping from and to the wire ---------------------------------------------


def test_every_wire_enum_value_has_its_model_member() -> None:
    def known(values: Iterable[int]) -> set[int]:
        return set(values) - {0}  # UNSPECIFIED

    assert set(convert.MODALITIES) == known(common_pb2.Modality.values())
    assert set(convert.MODALITIES.values()) == set(M)
    assert set(convert.CERTIFICATIONS) == known(common_pb2.Certification.values())
    assert set(convert.CERTIFICATIONS.values()) == set(Certification)
    assert set(convert.VERDICTS) == known(neutrality_pb2.Verdict.values())
    assert set(convert.VERDICTS.values()) == set(Verdict)
    assert set(convert.EXCLUSION_KINDS) == set(ExclusionKind)
    assert set(convert.EXCLUSION_KINDS.values()) == known(matching_pb2.ExclusionKind.values())


def test_labels_are_the_ones_reasons_have_always_printed() -> None:
    assert [m.value for m in M] == [
        common_pb2.Modality.Name(p).removeprefix("MODALITY_").lower() for p in convert.MODALITIES
    ]
    assert [c.value for c in Certification] == [
        "SOC 2",
        "SOC 2 Type II",
        "ISO 27001",
        "HIPAA",
        "GDPR",
        "FedRAMP",
        "CCPA",
    ]


def test_the_inputs_are_read_from_their_protos() -> None:
    profile = catalog_pb2.VendorProfile(
        name="organizations/acme/vendorProfile",
        capabilities=[
            catalog_pb2.Capability(
                modality=common_pb2.MODALITY_LIDAR,
                monthly_capacity=500,
                quality=0.8,
                unit_price_usd=2.5,
            )
        ],
        certifications=[common_pb2.CERTIFICATION_HIPAA, common_pb2.CERTIFICATION_SOC2_TYPE_II],
        workforce_regions=["DE", "US"],
        data_residency_regions=["EU"],
        security_clearance=True,
    )
    assert convert.profile_from_proto(profile) == VendorProfile(
        capabilities=(Capability(M.LIDAR, 500, 0.8, 2.5),),
        certifications=(C.HIPAA, C.SOC2_TYPE_II),
        workforce_regions=("DE", "US"),
        data_residency_regions=("EU",),
        security_clearance=True,
    )
    requirements = requirements_pb2.Requirements(
        needs=[
            requirements_pb2.Need(
                modality=common_pb2.MODALITY_AUDIO,
                monthly_volume=3000,
                min_quality=0.6,
                max_unit_price_usd=4.0,
            )
        ],
        required_certifications=[
            common_pb2.CERTIFICATION_UNSPECIFIED,
            common_pb2.CERTIFICATION_GDPR,
        ],
        allowed_regions=["EU"],
        requires_security_clearance=True,
        monthly_budget_usd=5000,
        weights=requirements_pb2.RankingWeights(fit=1, quality=2, price=3, neutrality=4),
    )
    assert convert.requirements_from_proto(requirements) == Requirements(
        needs=(Need(M.AUDIO, 3000, 0.6, 4.0),),
        required_certifications=(C.GDPR,),  # UNSPECIFIED asks for nothing
        allowed_regions=("EU",),
        requires_security_clearance=True,
        monthly_budget_usd=5000,
        weights=Weights(1, 2, 3, 4),
    )
    verdicts = [
        neutrality_pb2.VendorNeutrality(
            vendor="organizations/acme",
            score=40,
            verdict=neutrality_pb2.VERDICT_CONFLICTED,
            reasons=["a", "b"],
        ),
        # No verdict: left out, so the engine excludes the vendor as not scored.
        neutrality_pb2.VendorNeutrality(vendor="organizations/beta", score=100),
    ]
    assert convert.neutrality_from_proto(verdicts) == {
        org("acme"): VendorNeutrality(CONFLICTED, 40, ("a", "b"))
    }


def test_a_client_need_of_an_unknown_modality_is_refused() -> None:
    unknown = requirements_pb2.Need(modality=99)  # type: ignore[arg-type]
    text = requirements_pb2.Need(modality=common_pb2.MODALITY_TEXT)
    requirements = requirements_pb2.Requirements(needs=[text, unknown])
    with pytest.raises(ValueError, match=r"needs\[1\]\.modality"):
        convert.requirements_from_proto(requirements)


def test_the_outputs_are_written_field_for_field() -> None:
    ranked = RankedVendor(
        rank=3,
        vendor=org("handshake"),
        display_name="Handshake",
        score=0.55,
        breakdown=ScoreBreakdown(fit=0.1, quality=0.2, price=0.3, neutrality=0.4),
        verdict=CAUTION,
        neutrality_score=70,
        covered_modalities=(M.RLHF, M.EXPERT),
        notes=("an undisclosed stake via a fund", "over budget"),
    )
    assert convert.ranked_to_proto(ranked) == matching_pb2.RankedVendor(
        rank=3,
        vendor="organizations/handshake",
        display_name="Handshake",
        score=0.55,
        breakdown=matching_pb2.ScoreBreakdown(fit=0.1, quality=0.2, price=0.3, neutrality=0.4),
        verdict=neutrality_pb2.VERDICT_CAUTION,
        neutrality_score=70,
        covered_modalities=[common_pb2.MODALITY_RLHF, common_pb2.MODALITY_EXPERT],
        notes=["an undisclosed stake via a fund", "over budget"],
    )
    excluded = ExcludedVendor(
        vendor=org("scale-ai"),
        display_name="Scale AI",
        reasons=tuple(ExclusionReason(kind, f"failed {kind}") for kind in ExclusionKind),
    )
    wire_reasons = [
        (matching_pb2.EXCLUSION_KIND_CAPABILITY, "failed CAPABILITY"),
        (matching_pb2.EXCLUSION_KIND_CERTIFICATION, "failed CERTIFICATION"),
        (matching_pb2.EXCLUSION_KIND_REGION, "failed REGION"),
        (matching_pb2.EXCLUSION_KIND_CLEARANCE, "failed CLEARANCE"),
        (matching_pb2.EXCLUSION_KIND_NEUTRALITY, "failed NEUTRALITY"),
    ]
    assert convert.excluded_to_proto(excluded) == matching_pb2.ExcludedVendor(
        vendor="organizations/scale-ai",
        display_name="Scale AI",
        reasons=[matching_pb2.ExclusionReason(kind=k, message=m) for k, m in wire_reasons],
    )
