"""Ranking many clients against one catalog: plain-Python ``engine.rank`` per client
against the vectorized ``ranking_arrays.rank_top`` (limit 50).

    ./dev bench -k ranking

What is measured, in one run:

- the catalog: 10^3 vendors, 3 to 6 capabilities each (qualities and prices
  continuous, capacities 0 = unknown for a fifth), 0 to 3 certifications,
  workforce and residency regions from 12 (EU members among them), 30% cleared;
- the clients: 2,000, each one of ~50 requirement templates (1 to 4 needs,
  certifications, regions, clearance, weights) and one of 10 neutrality
  results (3% of vendors unscored, 5% CONFLICTED, 10% CAUTION, scores varied);
- build ms: ``VendorTable.build`` and the 10 ``neutrality_column`` (once per
  catalog snapshot / per neutrality result: not counted per client);
- engine: ``engine.rank`` on the first 100 clients, extrapolated to 2,000
  (the cheapest-price scan and per-vendor work are per client);
- rank_top: all 2,000 clients, limit 50, from a fresh table (the templates
  are computed on first use inside the timing); once with the per-template
  cache of the engine's results per (vendor, verdict), once without it
  (``OUTCOME_CACHE_SIZE`` 0: every kept vendor is evaluated per client). With
  50 templates x 10 neutrality results, 2,000 clients share 500 combinations,
  so the cache hits often here; with a verdict per client it would not;
- pairs/s: client x vendor pairs ranked per second; the ratio; the projected
  seconds for 10^5 clients x 10^3 vendors on one process.

Asserted: rank_top equals ``truncate(rank(...), 50)`` on the 100 sampled clients.
"""

from __future__ import annotations

import random
import time

import pytest

from dpm.matching import engine, ranking_arrays
from dpm.matching.model import (
    Candidate,
    Capability,
    Certification,
    Modality,
    Need,
    Requirements,
    VendorNeutrality,
    VendorProfile,
    Verdict,
    Weights,
)
from dpm.matching.ranking_arrays import VendorTable, rank_top
from dpm.platform.names import OrganizationName

pytestmark = [pytest.mark.bench, pytest.mark.timeout(1800)]

VENDORS = 1_000
CLIENTS = 2_000
TEMPLATES = 50
COLUMNS = 10
SAMPLE = 100
LIMIT = 50
PROJECTED_CLIENTS = 100_000
REGIONS = ["US", "CA", "DE", "FR", "IE", "PL", "GB", "IN", "PH", "KE", "BR", "SG"]

Neutrality = dict[OrganizationName, VendorNeutrality]


def catalog(rng: random.Random) -> list[Candidate]:
    modalities = list(Modality)
    vendors = []
    for i in range(VENDORS):
        caps = tuple(
            Capability(
                modality,
                monthly_capacity=0 if rng.random() < 0.2 else rng.randrange(1_000, 200_000),
                quality=rng.uniform(0.4, 1.0),
                unit_price_usd=0.0 if rng.random() < 0.05 else rng.uniform(0.05, 20.0),
            )
            for modality in rng.sample(modalities, rng.randint(3, 6))
        )
        profile = VendorProfile(
            capabilities=caps,
            certifications=tuple(rng.sample(list(Certification), rng.randint(0, 3))),
            workforce_regions=tuple(rng.sample(REGIONS, rng.randint(1, 3))),
            data_residency_regions=tuple(rng.sample([*REGIONS, "EU"], rng.randint(0, 2))),
            security_clearance=rng.random() < 0.3,
        )
        vendors.append(Candidate(OrganizationName(f"vendor-{i}"), f"Vendor {i}", profile))
    return vendors


def template(rng: random.Random) -> Requirements:
    needs = tuple(
        Need(
            modality,
            monthly_volume=rng.choice([0, 5_000, 20_000, 100_000]),
            min_quality=rng.choice([0.0, 0.5, 0.7]),
            max_unit_price_usd=rng.choice([0.0, 0.0, 10.0]),
        )
        for modality in rng.sample(list(Modality), rng.randint(1, 4))
    )
    return Requirements(
        needs=needs,
        required_certifications=tuple(rng.sample(list(Certification), rng.choice([0, 0, 1]))),
        allowed_regions=tuple(rng.sample(["US", "EU", "IN", "GB"], rng.choice([0, 0, 1, 2]))),
        requires_security_clearance=rng.random() < 0.1,
        monthly_budget_usd=rng.choice([0.0, 50_000.0]),
        weights=Weights(*(rng.choice([0.0, 0.0, 1.0, 2.0]) for _ in range(4))),
    )


def neutrality(rng: random.Random, vendors: list[Candidate]) -> Neutrality:
    out: Neutrality = {}
    for v in vendors:
        if rng.random() < 0.03:
            continue
        verdict = rng.choices([Verdict.NEUTRAL, Verdict.CAUTION, Verdict.CONFLICTED], [85, 10, 5])
        out[v.name] = VendorNeutrality(
            verdict[0], rng.choice([100, 100, rng.randrange(101)]), ("a competitor's stake",)
        )
    return out


def timed_rank_top(
    vendors: list[Candidate], columns: list[Neutrality], clients: list[tuple[Requirements, int]]
) -> tuple[float, float, list[engine.RankedSet]]:
    """(build s, rank s, results) from a fresh table."""
    started = time.perf_counter()
    table = VendorTable.build(vendors)
    aligned = [table.neutrality_column(c) for c in columns]
    build_s = time.perf_counter() - started
    started = time.perf_counter()
    got = [rank_top(table, req, aligned[k], LIMIT) for req, k in clients]
    return build_s, time.perf_counter() - started, got


def test_bench_ranking(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = random.Random(17)
    vendors = catalog(rng)
    templates = [template(rng) for _ in range(TEMPLATES)]
    columns = [neutrality(rng, vendors) for _ in range(COLUMNS)]
    clients = [(rng.choice(templates), rng.randrange(COLUMNS)) for _ in range(CLIENTS)]

    started = time.perf_counter()
    expected = [engine.rank(req, vendors, columns[k]) for req, k in clients[:SAMPLE]]
    engine_s = (time.perf_counter() - started) / SAMPLE * CLIENTS

    build_s, ours_s, got = timed_rank_top(vendors, columns, clients)
    with monkeypatch.context() as patch:
        patch.setattr(ranking_arrays, "OUTCOME_CACHE_SIZE", 0)
        _, uncached_s, uncached = timed_rank_top(vendors, columns, clients)

    for (ranked, excluded), result, again in zip(expected, got, uncached, strict=False):
        assert result == again == engine.truncate(ranked, excluded, LIMIT)

    pairs = CLIENTS * VENDORS
    rows = [
        ("engine.rank per client", f"{engine_s:.2f}", engine_s, f"sampled {SAMPLE}"),
        ("rank_top, limit 50", f"{ours_s:.2f}", ours_s, f"build {build_s * 1000:.0f} ms"),
        ("rank_top, no outcome cache", f"{uncached_s:.2f}", uncached_s, ""),
    ]
    header = ("method", f"{CLIENTS:,} clients s", "pairs/s", "per client ms", "10^5 clients s", "")
    lines = [header]
    for label, seconds, s, note in rows:
        lines.append(
            (
                label,
                seconds,
                f"{pairs / s:,.0f}",
                f"{s / CLIENTS * 1000:.2f}",
                f"{s / CLIENTS * PROJECTED_CLIENTS:,.0f}",
                note,
            )
        )
    widths = [max(len(r[k]) for r in lines) for k in range(len(header))]
    print()
    for r in lines:
        print("  ".join(cell.rjust(width) for cell, width in zip(r, widths, strict=True)))
    print(
        f"rank_top is {engine_s / ours_s:.1f}x engine.rank ({engine_s / uncached_s:.1f}x "
        f"without the outcome cache); {len(templates)} templates, "
        f"{COLUMNS} neutrality results; equal to truncate(rank()) on {SAMPLE} clients"
    )
