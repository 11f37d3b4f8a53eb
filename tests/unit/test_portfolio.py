"""PlanPortfolio's math against every subset of vendors, at small scale."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog

from dpm.matching import portfolio
from dpm.matching.model import Candidate, Capability, Modality, Need, VendorProfile
from dpm.matching.portfolio import Eligible, Plan, plan_portfolio
from dpm.platform.names import OrganizationName

MODALITIES = [Modality.TEXT, Modality.RLHF, Modality.CODE]


def vendor(name: str, owner: str, *caps: tuple[Modality, int, float, float]) -> Eligible:
    capabilities = tuple(Capability(m, cap, quality, price) for m, cap, quality, price in caps)
    org = OrganizationName(name)
    return Eligible(Candidate(org, name, VendorProfile(capabilities=capabilities)), owner)


def units_by_need(plan: Plan, needs: int) -> list[int]:
    totals = [0] * needs
    for member in plan.members:
        for a in member.assignments:
            totals[a.need] += a.units
    return totals


def test_one_vendor_when_one_suffices() -> None:
    needs = [Need(Modality.TEXT, 1000), Need(Modality.RLHF, 500)]
    vendors = [
        vendor("small", "small", (Modality.TEXT, 600, 0.9, 1.0)),
        vendor("big", "big", (Modality.TEXT, 5000, 0.9, 2.0), (Modality.RLHF, 5000, 0.9, 3.0)),
    ]
    plan = plan_portfolio(needs, vendors, max_vendors=3)
    assert plan.feasible and plan.optimal and plan.lower_bound == 1
    assert [str(m.vendor.candidate.name) for m in plan.members] == ["organizations/big"]
    assert units_by_need(plan, 2) == [1000, 500]
    assert plan.monthly_cost_usd == pytest.approx(1000 * 2.0 + 500 * 3.0)


def test_members_with_one_owner_are_avoided() -> None:
    needs = [Need(Modality.TEXT, 1000)]
    vendors = [
        vendor("a1", "group", (Modality.TEXT, 600, 0.9, 1.0)),
        vendor("a2", "group", (Modality.TEXT, 600, 0.9, 1.0)),
        vendor("b", "b", (Modality.TEXT, 500, 0.9, 5.0)),
    ]
    plan = plan_portfolio(needs, vendors, max_vendors=2)
    owners = sorted(m.vendor.owner for m in plan.members)
    assert owners == ["b", "group"] and plan.shared_owners == 0
    # The work spread as evenly as capacities allow: 500 each.
    assert max(plan.owner_shares().values()) == pytest.approx(0.5)


def test_no_plan_says_why() -> None:
    needs = [Need(Modality.TEXT, 1000), Need(Modality.CODE, 100)]
    vendors = [vendor("a", "a", (Modality.TEXT, 400, 0.9, 1.0))]
    plan = plan_portfolio(needs, vendors, max_vendors=2)
    assert not plan.feasible
    assert any("needs[0] (text)" in p and "400" in p for p in plan.problems)
    assert any("needs[1] (code)" in p for p in plan.problems)


def test_too_few_members_allowed_or_too_little_budget() -> None:
    needs = [Need(Modality.TEXT, 1000)]
    vendors = [vendor(f"v{i}", f"v{i}", (Modality.TEXT, 300, 0.9, 2.0)) for i in range(5)]
    plan = plan_portfolio(needs, vendors, max_vendors=3)
    assert not plan.feasible and "at least 4 vendors" in plan.problems[0]
    plan = plan_portfolio(needs, vendors, max_vendors=4, budget=1500)
    assert not plan.feasible and "$2,000.00" in " ".join(plan.problems)


def test_greedy_stands_in_with_a_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    needs = [Need(Modality.TEXT, 1000)]
    vendors = [vendor(f"v{i}", f"v{i}", (Modality.TEXT, 300 + 50 * i, 0.9, 1.0)) for i in range(6)]
    real = portfolio._solve

    def nothing_in_time(program, stage, constraints, time_limit):
        result = real(program, stage, constraints, time_limit)
        if stage == "members" and len(constraints) == 1 and time_limit < 5.0:
            result.x = None
        return result

    monkeypatch.setattr(portfolio, "_solve", nothing_in_time)
    plan = plan_portfolio(needs, vendors, max_vendors=5, time_limit=1.0)
    assert plan.method == "greedy" and not plan.optimal and plan.feasible
    assert units_by_need(plan, 1) == [1000]
    assert plan.lower_bound <= len(plan.members)


def _best_by_subsets(
    needs: list[Need], vendors: list[Eligible], k: int, budget: float
) -> tuple[int, float] | None:
    """(members, preference objective) of the best subset of the fewest members, by one
    LP per subset: SHARED per shared owner + SHARE x largest owner share + cost / scale."""
    total = float(sum(n.monthly_volume for n in needs))
    scale = portfolio._Program(needs, vendors).cost_scale
    for size in range(1, k + 1):
        best = None
        for subset in itertools.combinations(range(len(vendors)), size):
            pairs = [
                (v, n, c.unit_price_usd)
                for v in subset
                for c in vendors[v].candidate.profile.capabilities
                for n, need in enumerate(needs)
                if c.modality == need.modality
                and c.quality >= need.min_quality
                and (need.max_unit_price_usd == 0 or c.unit_price_usd <= need.max_unit_price_usd)
            ]
            if not pairs:
                continue
            owners = sorted({vendors[v].owner for v in subset})
            # variables: x per pair, then s
            a_ub: list[list[float]] = []
            b_ub: list[float] = []
            for n, need in enumerate(needs):
                a_ub.append([-1.0 if p[1] == n else 0.0 for p in pairs] + [0.0])
                b_ub.append(-need.monthly_volume)
            for v in subset:
                for c in vendors[v].candidate.profile.capabilities:
                    row = [float(p[0] == v and needs[p[1]].modality == c.modality) for p in pairs]
                    if any(row):
                        cap = c.monthly_capacity or sum(
                            n.monthly_volume for n in needs if n.modality == c.modality
                        )
                        a_ub.append([*row, 0.0])
                        b_ub.append(cap)
            if budget > 0:
                a_ub.append([p[2] for p in pairs] + [0.0])
                b_ub.append(budget)
            for owner in owners:
                a_ub.append([float(vendors[p[0]].owner == owner) for p in pairs] + [-total])
                b_ub.append(0.0)
            bounds = [(0, None)] * len(pairs) + [(0, 1)]
            objective = [p[2] / scale for p in pairs] + [portfolio.SHARE]
            solved = linprog(objective, A_ub=a_ub, b_ub=b_ub, bounds=bounds)
            if solved.status != 0:
                continue
            value = portfolio.SHARED * (size - len(owners)) + solved.fun
            best = value if best is None or value < best else best
        if best is not None:
            return size, best
    return None


@st.composite
def instances(draw: st.DrawFn) -> tuple[list[Need], list[Eligible], int, float]:
    needs = [
        Need(m, draw(st.sampled_from([100, 400, 1000])), draw(st.sampled_from([0.0, 0.8])))
        for m in draw(st.lists(st.sampled_from(MODALITIES), min_size=1, max_size=3, unique=True))
    ]
    vendors = []
    for i in range(draw(st.integers(1, 7))):
        caps = [
            (
                m,
                draw(st.sampled_from([0, 150, 300, 450])),
                draw(st.sampled_from([0.7, 0.9])),
                draw(st.sampled_from([1.0, 1.0, 2.5])),
            )
            for m in draw(st.lists(st.sampled_from(MODALITIES), max_size=3, unique=True))
        ]
        vendors.append(vendor(f"v{i}", draw(st.sampled_from(["o1", "o2", f"v{i}"])), *caps))
    return needs, vendors, draw(st.integers(1, 4)), draw(st.sampled_from([0.0, 1500.0, 4000.0]))


@settings(max_examples=400, deadline=None)
@given(instances())
def test_the_plan_is_the_best_subset(case: tuple[list[Need], list[Eligible], int, float]) -> None:
    needs, vendors, k, budget = case
    plan = plan_portfolio(needs, vendors, max_vendors=k, budget=budget)
    best = _best_by_subsets(needs, vendors, k, budget)
    if best is None:
        assert not plan.feasible
        return
    assert plan.feasible and plan.optimal and plan.preferences_proven, plan.problems
    members, value = best
    assert len(plan.members) == members
    share = max(plan.owner_shares().values())
    scale = portfolio._Program(needs, vendors).cost_scale
    got = portfolio.SHARED * plan.shared_owners + portfolio.SHARE * share
    got += plan.monthly_cost_usd / scale
    # Whole units move the figures by a unit or two per member.
    assert got == pytest.approx(value, abs=1e-3 + 3 * len(plan.members) * (1 / 900 + 2.5 / scale))
    assert units_by_need(plan, len(needs)) == [n.monthly_volume for n in needs]
    if budget:
        assert plan.monthly_cost_usd <= budget + 3 * len(plan.members)
    assert np.isfinite(plan.monthly_cost_usd)
