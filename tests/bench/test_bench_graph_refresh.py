"""What a recorded event costs the neutrality service before it can score the new graph.

    ./dev bench -k graph_refresh
    DPM_BENCH_GRAPH_SIZES=100000,1000000 ./dev bench -k graph_refresh

Per size (10^5 organizations by default, ~2 holdings each, the ledger
benchmark's layered register): the catalog is bulk-loaded (setup), then runs
as its own process (``dpmatch serve catalog``, as `dpmatch up` starts it), and
this process does what the neutrality service does (``GraphCache`` over
``StreamOwnershipGraph``):

- **whole**: read the whole graph as of a date and build it: what a cold
  start costs, and what every event cost before deltas;
- **delta**: after each of EVENTS stake events (0.1% between random
  organizations), ask with the etag held and ``accept_delta``: the catalog
  sends only the holdings of the organizations the events touched, and the
  held facts are changed and built again. Each graph built from a delta is
  checked against one built from the whole export (same holdings, same
  matrices).

The issue's target (7.4) is that neutrality gets changes as deltas by
version, not the whole graph; printed: seconds per refresh, and the ratio.
"""

from __future__ import annotations

import os
import random
import secrets
import statistics
import time
from pathlib import Path

import pytest

from dpm.catalog.v1 import catalog_pb2, catalog_pb2_grpc
from dpm.neutrality.graph import OwnershipGraph
from dpm.neutrality.graph_cache import GraphCache
from dpm.ownership.v1 import ownership_pb2
from dpm.platform import auth
from dpm.platform.grpc_client import open_channel
from tests.bench.test_bench_ledger import catalog_server, seed, synthetic_ledger

pytestmark = [pytest.mark.bench, pytest.mark.timeout(7200)]

SIZES = tuple(int(n) for n in os.environ.get("DPM_BENCH_GRAPH_SIZES", "100000").split(","))
EVENTS = 5
AS_OF = "2025-06-30"


def fetch(stub: catalog_pb2_grpc.CatalogServiceStub, etag: str) -> ownership_pb2.OwnershipGraph:
    merged = ownership_pb2.OwnershipGraph()
    request = catalog_pb2.ExportOwnershipGraphRequest(
        as_of=AS_OF, if_none_match=etag, accept_delta=bool(etag)
    )
    for part in stub.StreamOwnershipGraph(request, timeout=3600):
        merged.MergeFrom(part)
    return merged


def stake_event(n: int, rng: random.Random) -> catalog_pb2.RecordOwnershipEventRequest:
    event = ownership_pb2.OwnershipEvent(
        event_id=f"refresh-{time.time_ns()}", effective_date="2025-06-01"
    )
    holder, held = rng.sample(range(n), 2)
    event.stake_acquired.holder = f"organizations/org-{holder}"
    event.stake_acquired.held = f"organizations/org-{held}"
    event.stake_acquired.equity_fraction = 0.001
    return catalog_pb2.RecordOwnershipEventRequest(event=event)


def same_graph(a: OwnershipGraph, b: OwnershipGraph) -> bool:
    return (
        a.holdings == b.holdings
        and a.index == b.index
        and a.readings.keys() == b.readings.keys()
        and all((a.readings[k] != m).nnz == 0 for k, m in b.readings.items())
    )


def test_bench_graph_refresh(tmp_path: Path, redis_url: str) -> None:
    secret = secrets.token_urlsafe(32)
    rng = random.Random(5)
    rows = []
    for size in SIZES:
        url = f"sqlite:///{tmp_path / f'catalog-{size}.db'}"
        orgs, stakes = synthetic_ledger(size)
        seed_s = seed(url, orgs, stakes)
        del orgs, stakes
        log = tmp_path / f"catalog-{size}.log"
        with (
            catalog_server(url, secret, redis_url, f"benchgraph{size}", log) as address,
            open_channel(address, auth.admin_token(secret), 3600) as channel,
        ):
            stub = catalog_pb2_grpc.CatalogServiceStub(channel)
            started = time.perf_counter()
            whole = fetch(stub, "")
            read_s = time.perf_counter() - started
            cache = GraphCache(4)
            started = time.perf_counter()
            assert cache.get(whole) is not None
            build_s = time.perf_counter() - started
            refresh_s, delta_holdings = [], []
            for _ in range(EVENTS):
                stub.RecordOwnershipEvent(stake_event(size, rng), timeout=60)
                started = time.perf_counter()
                delta = fetch(stub, cache.etag_for(AS_OF))
                graph = cache.get(delta)
                refresh_s.append(time.perf_counter() - started)
                assert delta.delta_from and graph is not None
                delta_holdings.append(len(delta.holdings))
            assert cache.deltas == EVENTS
            check = GraphCache(1).get(fetch(stub, ""))
            assert check is not None and same_graph(graph, check)
        rows.append((size, len(whole.holdings), seed_s, read_s, build_s, refresh_s, delta_holdings))
    print(
        f"\n{'orgs':>9} {'holdings':>9} {'seed s':>7} | {'whole: read s':>13} {'build s':>8}"
        f" | {'delta: refresh ms (median / max)':>32} {'holdings sent':>14} | {'whole/delta':>11}"
    )
    for size, holdings, seed_s, read_s, build_s, refresh_s, sent in rows:
        median = statistics.median(refresh_s)
        print(
            f"{size:>9,} {holdings:>9,} {seed_s:>7.0f} | {read_s:>13.2f} {build_s:>8.2f}"
            f" | {median * 1000:>20.0f} / {max(refresh_s) * 1000:>9.0f}"
            f" {statistics.median(sent):>14.0f} | {(read_s + build_s) / median:>10.0f}x"
        )
    print(f"each delta refresh follows one stake event; {EVENTS} events per size")
