"""Event-to-fresh and full-recompute benchmark on the processes a user runs (`dpmatch up
--seed`: the four servers, a worker with two processes, Redis as cache and broker).

    ./dev bench -k rematch     # DPM_BENCH_LABS labs (default 100,000), DPM_BENCH_VENDORS (1,000)

Setup (timed, not the measured path): N vendors join the demo catalog
through the API (organization and profile: 3-6 capabilities, varied
certifications and regions), three fresh investors A, B, C are created, and
the labs are bulk-loaded into the requirements database
(``dpm.requirements.seeding``: nothing is announced). Every lab names C as a
competitor, one in ten also B, one in a hundred also A; their requirements
come from 50 templates.

Measured:

1. **Full recompute**: a reconciliation (the periodic task) computes every
   lab from nothing; client x vendor pairs per second.
2. **Event to fresh**: one small stake by A, B and C in a vendor, so 1%,
   10% and 100% of the labs are affected: seconds from RecordOwnershipEvent's
   answer until every affected lab's cached set is from the new graph
   version, and whether the labs not affected were left alone. The 100% row
   is the same-run baseline of the others.

At the end, a sample of 200 labs is recomputed from scratch and must equal
what the cache holds. Targets (issue 7, at 10^5 labs x 10^3 vendors):
reconcile <= 60 s; 10% affected in <= 5 s; 1% affected >= 20x faster than
100%. Correctness is asserted, the targets are printed.
"""

from __future__ import annotations

import os
import random
import time
from pathlib import Path

import pytest
import redis
from celery import Celery

from dpm.catalog.seeding import text_progress
from dpm.catalog.v1 import catalog_pb2, catalog_pb2_grpc
from dpm.cli.stackfile import Stack
from dpm.common.v1 import common_pb2
from dpm.matching.cache import RecommendationCache
from dpm.matching.compute import RecommendationBuilder
from dpm.matching.rematch import RECONCILE
from dpm.matching.upstreams import SERVICES, Upstreams
from dpm.ownership.v1 import ownership_pb2
from dpm.platform import db
from dpm.platform.config import DEFAULT_DEPLOYMENT
from dpm.platform.events import Queue
from dpm.platform.names import ClientName
from dpm.requirements import seeding
from dpm.requirements.store import MIGRATIONS_DIR
from dpm.requirements.v1 import requirements_pb2
from tests.bench.stack import cpu_used, dpmatch_up, stack_cpu, stack_rss

pytestmark = [pytest.mark.bench, pytest.mark.timeout(3600)]

LABS = int(os.environ.get("DPM_BENCH_LABS", "100000"))
VENDORS = int(os.environ.get("DPM_BENCH_VENDORS", "1000"))
TEMPLATES = 50
RECONCILE_TARGET_SECONDS = 60.0
TEN_PERCENT_TARGET_SECONDS = 5.0
INCREMENTAL_TARGET = 20.0
# Investor -> which labs name it (by index).
NAMED_BY = {
    "bench-a": lambda i: i % 100 == 0,
    "bench-b": lambda i: i % 10 == 0,
    "bench-c": lambda i: True,
}
MODALITIES = [m for m in common_pb2.Modality.values() if m != common_pb2.MODALITY_UNSPECIFIED]
CERTIFICATIONS = [
    c for c in common_pb2.Certification.values() if c != common_pb2.CERTIFICATION_UNSPECIFIED
]
REGIONS = ["US", "EU", "DE", "FR", "GB", "IN", "PH", "KE", "BR", "CA"]


def lab_id(i: int) -> str:
    return f"bench-lab-{i:06d}"


def vendor_id(i: int) -> str:
    return f"bench-vendor-{i:04d}"


def vendor_profile(i: int, rng: random.Random) -> catalog_pb2.VendorProfile:
    return catalog_pb2.VendorProfile(
        name=f"organizations/{vendor_id(i)}/vendorProfile",
        service_model=catalog_pb2.SERVICE_MODEL_MANAGED_WORKFORCE,
        capabilities=[
            catalog_pb2.Capability(
                modality=m,
                monthly_capacity=rng.choice([0, 5_000, 20_000, 100_000]),
                quality=round(rng.uniform(0.6, 0.99), 3),
                unit_price_usd=round(rng.uniform(0.05, 5.0), 2),
            )
            for m in rng.sample(MODALITIES, rng.randint(3, 6))
        ],
        certifications=rng.sample(CERTIFICATIONS, rng.randint(0, 3)),
        workforce_regions=rng.sample(REGIONS, rng.randint(1, 3)),
        data_residency_regions=rng.sample(REGIONS, rng.randint(1, 2)),
        security_clearance=rng.random() < 0.1,
    )


def requirement_templates(rng: random.Random) -> list[requirements_pb2.Requirements]:
    templates = []
    for _ in range(TEMPLATES):
        templates.append(
            requirements_pb2.Requirements(
                needs=[
                    requirements_pb2.Need(
                        modality=m,
                        monthly_volume=rng.choice([1_000, 10_000, 50_000]),
                        min_quality=round(rng.uniform(0.5, 0.85), 2),
                        max_unit_price_usd=rng.choice([0.0, 2.0, 4.0]),
                    )
                    for m in rng.sample(MODALITIES, rng.randint(1, 3))
                ],
                required_certifications=rng.sample(CERTIFICATIONS, rng.randint(0, 1)),
                allowed_regions=rng.choice([[], ["US"], ["EU"], ["US", "GB"]]),
                monthly_budget_usd=rng.choice([0.0, 50_000.0]),
            )
        )
    return templates


def lab(i: int, templates: list[requirements_pb2.Requirements]) -> requirements_pb2.Client:
    competitors = [f"organizations/{o}" for o, names in NAMED_BY.items() if names(i)]
    return requirements_pb2.Client(
        display_name=f"Lab {i}",
        requirements=templates[i % len(templates)],
        neutrality_policy=requirements_pb2.NeutralityPolicy(
            competitors=competitors,
            max_competitor_equity=0.25,
            max_competitor_voting=0.25,
            board_seat_disqualifies=True,
            as_of="2025-06-30",
        ),
    )


def add_catalog(stack: Stack) -> None:
    rng = random.Random(7)
    with stack.channel("catalog", timeout=60) as channel:
        catalog = catalog_pb2_grpc.CatalogServiceStub(channel)
        for investor in NAMED_BY:
            catalog.CreateOrganization(
                catalog_pb2.CreateOrganizationRequest(
                    organization_id=investor,
                    organization=catalog_pb2.Organization(
                        display_name=investor, kind=catalog_pb2.ORGANIZATION_KIND_INVESTOR
                    ),
                )
            )
        for i in range(VENDORS):
            catalog.CreateOrganization(
                catalog_pb2.CreateOrganizationRequest(
                    organization_id=vendor_id(i),
                    organization=catalog_pb2.Organization(
                        display_name=f"Vendor {i}", kind=catalog_pb2.ORGANIZATION_KIND_VENDOR
                    ),
                )
            )
            catalog.UpdateVendorProfile(
                catalog_pb2.UpdateVendorProfileRequest(
                    vendor_profile=vendor_profile(i, rng), allow_missing=True
                )
            )


def add_labs(data_dir: Path) -> None:
    templates = requirement_templates(random.Random(11))
    database = db.Database.open(f"sqlite:///{data_dir / 'requirements.db'}", MIGRATIONS_DIR)
    try:
        seeding.load_clients(
            database,
            [(ClientName(lab_id(i)), lab(i, templates)) for i in range(LABS)],
            text_progress(f"loading {LABS:,} labs"),
        )
    finally:
        database.close()


# Labs looked at per poll: polling all 10^5 every 50 ms would load Redis and this
# process's core as much as the system measured.
POLL_WINDOW = 2000


def wait_until(ids: list[str], cache: RecommendationCache, at_least: int, limit: float) -> float:
    """Seconds until every one of ``ids`` has a cached set from graph >= ``at_least``.

    Polls a window of the labs not yet seen fresh, and moves on as soon as all
    of it is (a set never goes back to an older version: compare-and-set)."""
    started = time.perf_counter()
    pending = ids
    while pending:
        window, rest = pending[:POLL_WINDOW], pending[POLL_WINDOW:]
        versions = cache.graph_versions(window)
        stale = [c for c, g in zip(window, versions, strict=True) if g is None or g < at_least]
        pending = stale + rest
        elapsed = time.perf_counter() - started
        assert elapsed < limit, f"{len(pending)} of {len(ids)} labs still not fresh"
        if stale:
            time.sleep(0.05)
    return time.perf_counter() - started


def drain(broker: redis.Redis, limit: float) -> None:
    """Wait until the worker has nothing queued or in hand for a whole second."""
    queue = Queue.REMATCH.in_deployment(DEFAULT_DEPLOYMENT)
    deadline, quiet_since = time.monotonic() + limit, None
    while True:
        busy = broker.llen(queue) or broker.hlen(f"{DEFAULT_DEPLOYMENT}.unacked")
        now = time.monotonic()
        assert now < deadline, "the worker did not drain its queue"
        if busy:
            quiet_since = None
        elif quiet_since is None:
            quiet_since = now
        elif now - quiet_since >= 1.0:
            return
        time.sleep(0.1)


def record_stake(stack: Stack, investor: str, vendor: str) -> int:
    event = ownership_pb2.OwnershipEvent(
        event_id=f"{investor}-in-{vendor}", effective_date="2025-06-01"
    )
    event.stake_acquired.holder = f"organizations/{investor}"
    event.stake_acquired.held = f"organizations/{vendor}"
    event.stake_acquired.equity_fraction = 0.001
    with stack.channel("catalog") as channel:
        return int(
            catalog_pb2_grpc.CatalogServiceStub(channel)
            .RecordOwnershipEvent(catalog_pb2.RecordOwnershipEventRequest(event=event))
            .graph_version
        )


def test_bench_rematch(tmp_path: Path) -> None:
    data_dir = tmp_path / "stack"
    with dpmatch_up(data_dir, concurrency=2) as (stack, root):
        cache = RecommendationCache(redis.Redis.from_url(stack.redis_url), f"{DEFAULT_DEPLOYMENT}:")
        broker = redis.Redis.from_url(stack.redis_url)
        started = time.perf_counter()
        add_catalog(stack)
        drain(broker, 600)  # the catalog changes re-match the demo labs
        catalog_seconds = time.perf_counter() - started
        started = time.perf_counter()
        add_labs(data_dir)
        labs_seconds = time.perf_counter() - started
        ids = [lab_id(i) for i in range(LABS)]

        # 1. The full recompute: the reconciliation fills every lab's set.
        cpu_before = stack_cpu(root)
        Celery(broker=stack.redis_url).send_task(
            RECONCILE, queue=Queue.REMATCH.in_deployment(DEFAULT_DEPLOYMENT)
        )
        reconciled = wait_until(ids, cache, 0, 3000)
        reconcile_cpu = cpu_used(cpu_before, stack_cpu(root))
        drain(broker, 600)

        # 2. Events affecting 1%, 10% and 100% of the labs.
        rows = []
        event_cpu = []
        for investor, vendor in zip(NAMED_BY, map(vendor_id, range(3)), strict=True):
            affected = [lab_id(i) for i in range(LABS) if NAMED_BY[investor](i)]
            others = sorted(set(ids) - set(affected))
            before = dict(zip(others, cache.graph_versions(others), strict=True))
            cpu_before = stack_cpu(root)
            version = record_stake(stack, investor, vendor)
            seconds = wait_until(affected, cache, version, 3000)
            event_cpu.append(cpu_used(cpu_before, stack_cpu(root)))
            time.sleep(1.0)  # a stray re-match of an unaffected lab would show by now
            after = dict(zip(others, cache.graph_versions(others), strict=True))
            touched = sum(1 for c in others if after[c] != before[c])
            rows.append((investor, len(affected), seconds, touched, len(others)))
            drain(broker, 3000)
        rss = stack_rss(root)
        sizes = [rec.ByteSize() for rec in cache.get_many(ids[:100]) if rec is not None]
        checked = equal_to_a_full_recompute(stack, cache, ids[:: max(1, LABS // 200)])

    full = rows[-1][2]
    pairs = LABS * VENDORS
    print(
        f"\n{LABS:,} labs x {VENDORS:,} vendors, dpmatch up (worker: 2 processes); setup: "
        f"catalog {catalog_seconds:.0f} s, labs bulk-loaded {labs_seconds:.0f} s; "
        f"stored set {sum(sizes) / len(sizes) / 1024:.1f} KiB on average"
    )
    print(
        f"full recompute (reconcile): {reconciled:.1f} s, {pairs / reconciled:,.0f} pairs/s, "
        f"{LABS / reconciled:,.0f} labs/s (target <= {RECONCILE_TARGET_SECONDS:.0f} s)"
    )
    print(f"{'event by':<10} {'affected':>9} {'seconds':>9} {'labs/s':>8} {'vs 100%':>8} untouched")
    for investor, count, seconds, touched, others in rows:
        print(
            f"{investor:<10} {count:>9} {seconds:>9.2f} {count / seconds:>8.0f} "
            f"{full / seconds:>7.1f}x {others - touched}/{others}"
        )
    print(f"CPU seconds by process: reconcile: {reconcile_cpu}")
    for (investor, *_), used in zip(rows, event_cpu, strict=True):
        print(f"  event by {investor}: {used}")
    print("RSS MB: " + " ".join(f"{n}={v / 2**20:.0f}" for (n, _), v in sorted(rss.items())))
    ten_percent, one_percent = rows[1][2], rows[0][2]
    targets = {
        f"reconcile <= {RECONCILE_TARGET_SECONDS:.0f} s": reconciled <= RECONCILE_TARGET_SECONDS,
        f"10% <= {TEN_PERCENT_TARGET_SECONDS:.0f} s": ten_percent <= TEN_PERCENT_TARGET_SECONDS,
        f"1% >= {INCREMENTAL_TARGET:.0f}x faster than 100%": full / one_percent
        >= INCREMENTAL_TARGET,
    }
    print(
        "targets: " + "; ".join(f"{t}: {'met' if ok else 'NOT MET'}" for t, ok in targets.items())
    )
    print(f"{checked} sampled labs' cached sets equal a full recompute")
    # Correctness is asserted; the targets are printed (machines differ).
    assert all(touched == 0 for *_, touched, _ in rows), "labs not affected were re-matched"


def equal_to_a_full_recompute(stack: Stack, cache: RecommendationCache, labs: list[str]) -> int:
    """Recompute ``labs`` from scratch (a fresh builder) and compare with their cached sets."""
    channels = {name: stack.channel(name, timeout=60) for name in SERVICES}
    upstreams = Upstreams.from_channels(channels, own=True)
    try:
        fresh = RecommendationBuilder(upstreams).build_many(labs).sets
    finally:
        upstreams.close()
    for lab, cached in zip(labs, cache.get_many(labs), strict=True):
        assert cached is not None, lab
        assert fresh[lab].versions == cached.versions, lab
        assert list(fresh[lab].ranked) == list(cached.ranked), lab
        assert list(fresh[lab].excluded) == list(cached.excluded), lab
        assert (fresh[lab].ranked_total, fresh[lab].excluded_total) == (
            cached.ranked_total,
            cached.excluded_total,
        ), lab
    return len(labs)
