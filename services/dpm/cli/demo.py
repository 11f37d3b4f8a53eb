"""`dpmatch demo`: the Scale AI scenario against a running, seeded stack.

Shows each lab's recommendations, records Meta's 49% stake in Scale AI as
the admin, waits (without asking anyone to recompute) until the workers have
re-matched the labs, and shows what changed and why.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any

import grpc
from google.protobuf import json_format

from dpm.catalog.v1 import catalog_pb2, catalog_pb2_grpc
from dpm.cli.seed import load_demo_data
from dpm.cli.stackfile import Stack
from dpm.cli.tables import print_table
from dpm.matching.v1 import matching_pb2, matching_pb2_grpc
from dpm.neutrality.v1 import neutrality_pb2, neutrality_pb2_grpc
from dpm.ownership.v1 import ownership_pb2
from dpm.platform.names import ClientName, OrganizationName, RecommendationsName

WAIT_SECONDS = 30.0
VERDICT = {1: "neutral", 2: "caution", 3: "CONFLICTED"}


def short(name: str) -> str:
    return name.rpartition("/")[2]


def recommendations(stack: Stack, lab: str) -> matching_pb2.RecommendationSet:
    with stack.channel("matching", stack.client_tokens[lab]) as channel:
        return matching_pb2_grpc.MatchingServiceStub(channel).GetRecommendations(
            matching_pb2.GetRecommendationsRequest(name=str(RecommendationsName(lab)))
        )


def print_ranked(rec: matching_pb2.RecommendationSet, limit: int = 12) -> None:
    print_table(
        ("#", "vendor", "score", "fit", "qual", "price", "neutr", "verdict"),
        (
            (
                r.rank,
                short(r.vendor),
                f"{r.score:.3f}",
                f"{r.breakdown.fit:.2f}",
                f"{r.breakdown.quality:.2f}",
                f"{r.breakdown.price:.2f}",
                f"{r.breakdown.neutrality:.2f}",
                f"{VERDICT.get(r.verdict, '?')} ({r.neutrality_score})",
            )
            for r in rec.ranked[:limit]
        ),
        sys.stdout,
        right=("#", "score", "fit", "qual", "price", "neutr"),
    )
    if len(rec.ranked) > limit:
        print(f"      ... and {len(rec.ranked) - limit} more")
    v = rec.versions
    print(
        f"  computed from graph v{v.graph_version}, catalog v{v.catalog_version}, "
        f"requirements r{v.requirements_revision}"
    )
    if rec.freshness.stale:
        print(f"  ! stale: {rec.freshness.reason}")
    if rec.unresolved_parties:
        names = ", ".join(short(p) for p in rec.unresolved_parties)
        print(f"  ! not in the catalog, not checked against: {names}")


def print_excluded(rec: matching_pb2.RecommendationSet, kinds: set[int]) -> None:
    for excluded in rec.excluded:
        for reason in excluded.reasons:
            if reason.kind in kinds:
                print(f"  x {short(excluded.vendor):<22} {reason.message}")


def where(rec: matching_pb2.RecommendationSet, vendor: str) -> str:
    for r in rec.ranked:
        if short(r.vendor) == vendor:
            return f"ranked #{r.rank} ({VERDICT.get(r.verdict, '?')})"
    for e in rec.excluded:
        if short(e.vendor) == vendor:
            return "EXCLUDED: " + "; ".join(reason.message for reason in e.reasons)
    return "not listed"


# Fields of an event's change that name an organization (the demo data holds bare ids).
ORGANIZATION_FIELDS = (
    "holder",
    "held",
    "acquirer",
    "target",
    "from_organization",
    "to_organization",
    "organization",
    "counterparty",
)


def record(stack: Stack, event: dict[str, Any]) -> ownership_pb2.OwnershipEvent:
    """Record a scenario event; its organizations are given by id."""
    kind = next(k for k, v in event.items() if isinstance(v, dict))
    change = {
        k: str(OrganizationName(v)) if k in ORGANIZATION_FIELDS else v
        for k, v in event[kind].items()
    }
    message = json_format.ParseDict({**event, kind: change}, ownership_pb2.OwnershipEvent())
    with stack.channel("catalog") as channel:
        return catalog_pb2_grpc.CatalogServiceStub(channel).RecordOwnershipEvent(
            catalog_pb2.RecordOwnershipEventRequest(event=message)
        )


def wait_until(check: Callable[[], bool], what: str) -> float:
    started = time.monotonic()
    while not check():
        if time.monotonic() - started > WAIT_SECONDS:
            raise SystemExit(f"dpmatch demo: {what} did not happen within {WAIT_SECONDS:.0f}s")
        time.sleep(0.1)
    return time.monotonic() - started


def excluded(stack: Stack, lab: str, vendor: str) -> bool:
    return any(short(e.vendor) == vendor for e in recommendations(stack, lab).excluded)


def play(stack: Stack) -> None:
    _, demo = load_demo_data()
    labs = list(demo["labs"])
    stake, move = demo["scenario"]
    print("=" * 78)
    print("BEFORE: the catalog as of 2025-06-01. Google's recommended vendors")
    print("=" * 78)
    before = recommendations(stack, "google")
    print_ranked(before)
    for lab in labs:
        print(f"  {lab:<10} scale-ai: {where(recommendations(stack, lab), 'scale-ai')}")

    print(f"\n>>> admin records {stake['effective_date']}: {stake['summary']}")
    recorded = record(stack, stake)
    print(f"    ledger: graph version {recorded.graph_version}")
    took = wait_until(
        lambda: all(excluded(stack, lab, "scale-ai") for lab in labs),
        "re-matching every lab",
    )
    print(
        f"    workers re-matched every lab's cached recommendations in {took:.1f}s "
        "(no one asked them to)"
    )

    print("\n" + "=" * 78)
    print("AFTER: Google's recommended vendors")
    print("=" * 78)
    after = recommendations(stack, "google")
    print_ranked(after)
    print("  excluded for neutrality:")
    print_excluded(after, {matching_pb2.EXCLUSION_KIND_NEUTRALITY})
    for lab in labs:
        print(f"  {lab:<10} scale-ai: {where(recommendations(stack, lab), 'scale-ai')[:90]}")

    print(f"\n>>> admin records {move['effective_date']}: {move['summary']}")
    record(stack, move)
    # The labs' policies pin the date their recommendations are computed as
    # of, so the explanation (a leadership move's weight decays with age) reads
    # the same every day; it is read as of that date too.
    as_of = demo["lab_policy"]["as_of"]
    with stack.channel("neutrality", stack.client_tokens["google"]) as channel:
        stub = neutrality_pb2_grpc.NeutralityServiceStub(channel)
        deadline = time.monotonic() + WAIT_SECONDS
        while True:
            scored = stub.ScoreVendors(
                neutrality_pb2.ScoreVendorsRequest(
                    client=str(ClientName("google")),
                    vendors=[str(OrganizationName("scale-ai"))],
                    as_of=as_of,
                )
            ).vendors[0]
            if scored.ties or time.monotonic() > deadline:
                break
            time.sleep(0.2)
    print(
        f"\nScale AI for Google: {VERDICT.get(scored.verdict, '?')}, "
        f"neutrality score {scored.score}/100. Why:"
    )
    for reason in scored.reasons:
        print(f"  - {reason}")
    print("\nThe ledger refuses a replayed event id with different content:")
    try:
        record(
            stack, {**stake, "stake_acquired": {**stake["stake_acquired"], "equity_fraction": 0.5}}
        )
    except grpc.RpcError as exc:
        print(f"  {exc.code().name}: {exc.details()}")
