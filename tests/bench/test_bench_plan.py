"""PlanPortfolio's solver over 10^3 vendors: exact plans for k <= 5 against a greedy one.

    ./dev bench -k plan

What is measured, in one run (the pure solver, as the matching server calls it):

- the catalog: 10^3 vendors, 2 to 4 of 10 modalities each, capacities 5,000 to
  60,000 units a month (so a lab needs several vendors), prices 0.5 to 20 $/unit,
  quality 0.6 to 1; 15% of vendors under 40 holding companies (shared owners);
- the labs: 20, each with 3 to 5 needs of 50,000 to 200,000 units, min quality
  0.7, half with a budget 1.3x a rough cheapest cover; k = 3, 5 and 10;
- exact: ``plan_portfolio`` (HiGHS, four lexicographic stages); greedy: most
  remaining volume first, then the cheapest allocation of those members (what a
  spreadsheet would do, and the solver's own fallback);
- per k: labs with a plan, solver seconds p50 / max (time limit 1 s, the target),
  plans whose fewest members is proven ("fewest") and whose preferences are proven
  best among plans of that size ("prefs"; else the best found in the time), and how
  often greedy needs more vendors or finds none where the solver finds one.

Asserted: every plan for k <= 5 has its fewest members proven (the target's
"exact"), and no greedy plan has fewer vendors than the exact one.
"""

from __future__ import annotations

import random
import statistics
import time

import pytest

from dpm.matching import portfolio
from dpm.matching.model import Candidate, Capability, Modality, Need, VendorProfile
from dpm.matching.portfolio import Eligible, plan_portfolio
from dpm.platform.names import OrganizationName

pytestmark = [pytest.mark.bench, pytest.mark.timeout(1800)]

VENDORS = 1_000
LABS = 20
TARGET_SECONDS = 1.0


def catalog(rng: random.Random) -> list[Eligible]:
    modalities = list(Modality)
    holdings = [f"organizations/holding-{i}" for i in range(40)]
    vendors = []
    for i in range(VENDORS):
        caps = tuple(
            Capability(
                m,
                monthly_capacity=rng.randrange(5_000, 60_000),
                quality=rng.uniform(0.6, 1.0),
                unit_price_usd=round(rng.uniform(0.5, 20.0), 2),
            )
            for m in rng.sample(modalities, rng.randint(2, 4))
        )
        name = OrganizationName(f"vendor-{i:04d}")
        owner = rng.choice(holdings) if rng.random() < 0.15 else str(name)
        vendors.append(Eligible(Candidate(name, name.id, VendorProfile(capabilities=caps)), owner))
    return vendors


def labs(rng: random.Random) -> list[tuple[list[Need], float]]:
    modalities = list(Modality)
    cases = []
    for i in range(LABS):
        needs = [
            Need(m, rng.randrange(50_000, 200_000), min_quality=0.7)
            for m in rng.sample(modalities, rng.randint(3, 5))
        ]
        budget = 1.3 * sum(n.monthly_volume * 4.0 for n in needs) if i % 2 else 0.0
        cases.append((needs, budget))
    return cases


def greedy(needs: list[Need], vendors: list[Eligible], k: int, budget: float) -> portfolio.Plan:
    program = portfolio._Program(needs, vendors)
    return portfolio._greedy(program, k, budget, time.monotonic() + TARGET_SECONDS)


def test_plans_over_a_thousand_vendors() -> None:
    rng = random.Random(7)
    vendors = catalog(rng)
    cases = labs(rng)
    rows = []
    for k in (3, 5, 10):
        seconds, greedy_seconds = [], []
        planned = optimal = preferred = greedy_worse = greedy_none = 0
        for needs, budget in cases:
            started = time.perf_counter()
            exact = plan_portfolio(needs, vendors, k, budget, time_limit=TARGET_SECONDS)
            seconds.append(time.perf_counter() - started)
            started = time.perf_counter()
            rough = greedy(needs, vendors, k, budget)
            greedy_seconds.append(time.perf_counter() - started)
            if not exact.feasible:
                assert not rough.feasible
                continue
            planned += 1
            optimal += exact.optimal
            preferred += exact.preferences_proven
            if k <= 5:
                assert exact.optimal, (k, needs)
            if not rough.feasible:
                greedy_none += 1
            elif len(rough.members) > len(exact.members):
                greedy_worse += 1
            assert not rough.feasible or len(rough.members) >= len(exact.members)
        rows.append(
            (
                k,
                planned,
                statistics.median(seconds),
                max(seconds),
                optimal,
                preferred,
                statistics.median(greedy_seconds),
                greedy_worse,
                greedy_none,
            )
        )
    print(
        f"\nPlanPortfolio solver, {VENDORS} vendors, {LABS} labs (target: exact, <= 1 s for k <= 5)"
    )
    print(
        f"{'k':>3} {'planned':>8} {'exact p50 s':>12} {'exact max s':>12} {'fewest':>7} "
        f"{'prefs':>6} "
        f"{'greedy p50 s':>13} {'greedy more':>12} {'greedy none':>12}"
    )
    for k, planned, p50, worst, optimal, preferred, g50, worse, none in rows:
        print(
            f"{k:>3} {planned:>8} {p50:>12.3f} {worst:>12.3f} {optimal:>7} {preferred:>6} "
            f"{g50:>13.3f} {worse:>12} {none:>12}"
        )
    assert any(planned for _, planned, *_ in rows), "the labs must have plans to measure"
