"""Exposure at register scale: all competitor groups in one sweep, and one event at a time.

    ./dev bench -k exposure

What is measured, per size (10^4, 10^5, 10^6 organizations, ~2 holdings each):

- the register: heavy-tailed degrees (each organization has 1 + a geometric
  number of holders, mostly older and bigger ones; 40 hubs take 5% of all
  holdings, so a few hold thousands) and ~3% of organizations in small
  cross-holding rings; every company leaks at least 10% to outsiders;
- build s: ``OwnershipGraph.build`` from the list of holdings (the load);
- 10 groups s: look-through equity of 10 competitors (hubs and smaller
  holders) with ``exposure.look_through_many``, structure included (the
  level structure is built on first use after the load), wall clock, best
  of 3 (each from scratch: the structure is dropped before each);
- per group ms: that divided by 10; "integrated, 1 group" is the per-group
  path as it was (``exposure.integrated``) for the competitor that reaches
  most, and its max difference from ours is the "max error" column;
- peak MiB: the process's peak RSS (``resource.getrusage``) once the
  holdings are generated, the graph built, the 10 groups solved and the 40
  events applied, before the checks (monotone over the run, so it includes
  the smaller sizes and the generator);
- event ms: ``walks.WalkRows.change`` for 40 recorded events (20 stakes changed
  or divested, 20 new stakes, at random) updating all 10 groups' rows, median
  / max, then "top": one event at the top of the register (a stake in o1,
  which reaches ~90% of it: a sweep over nearly everything); afterwards the
  rows are checked against a fresh solve of the changed matrix;
- the peer a data scientist would write, at 10^4 only: networkx
  ``all_simple_paths`` from one competitor to every node with a depth cap of
  6 and 8, summing the products along each path; its time for that one
  group, its ratio to our per-group time, its max error against ours
  (percentage points) and the share of o5's total look-through (summed over
  every node) it misses: simple paths miss both longer chains and the walks
  around cycles.

Asserted (the issue's target 2): at 10^6 all 10 groups in <= 2 s after the
load, peak RSS <= 1.5 GiB, and the median event in <= 20 ms. Not met, and
printed as such: an event whose held company reaches most of the register
(the "top" event) costs a sweep over it, ~100 ms at 10^6. Also asserted:
ours equals ``integrated`` (1e-9) and the incremental rows equal a fresh
solve (1e-9).
"""

from __future__ import annotations

import functools
import itertools
import math
import resource
import time
from collections.abc import Callable
from typing import Any

import networkx as nx
import numpy as np
import pytest
from scipy.sparse import csgraph

from dpm.neutrality.exposure import integrated, look_through_many, walk_levels
from dpm.neutrality.graph import Holding, OwnershipGraph, Reading
from dpm.neutrality.walks import WalkLevels, WalkRows

pytestmark = [pytest.mark.bench, pytest.mark.timeout(1800)]

SIZES = (10_000, 100_000, 1_000_000)
HUBS = 40
EVENTS = 40
PEER_DEPTHS = (6, 8)
TARGET_GROUPS_S = 2.0
# The 10 groups are timed this many times, the best kept (the machine is shared).
REPEAT = 3
TARGET_PEAK_MIB = 1536.0
TARGET_EVENT_MS = 20.0


def register_edges(n: int, seed: int = 7) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(holder, held, fraction) of a register-like graph of n organizations (see above)."""
    rng = np.random.default_rng(seed)
    counts = np.minimum(rng.geometric(0.5, size=n), 20)
    counts[0] = 0
    held = np.repeat(np.arange(n), counts)
    # Mostly older (smaller index) organizations, strongly skewed towards the first ones.
    holder = np.floor(held * rng.random(held.size) ** 3).astype(np.int64)
    hub = rng.random(held.size) < 0.05
    holder[hub] = rng.integers(0, HUBS, size=int(hub.sum()))
    holder = np.minimum(holder, np.maximum(held - 1, 0))
    keep = holder != held
    held, holder = held[keep], holder[keep]
    share = rng.random(held.size) + 0.05
    total = np.bincount(held, weights=share, minlength=n)
    share = share / total[held] * 0.85 * rng.uniform(0.3, 1.0, size=n)[held]
    # Rings of 2 to 5 organizations, each holding 5% of the next.
    ringed = rng.permutation(np.arange(HUBS, n))[: int(0.03 * n)]
    rows, cols = [holder], [held]
    at = 0
    while at + 2 <= ringed.size:
        ring = ringed[at : at + int(rng.integers(2, 6))]
        rows.append(ring)
        cols.append(np.roll(ring, -1))
        at += ring.size
    tail = np.concatenate(rows)
    head = np.concatenate(cols)
    return tail, head, np.concatenate([share, np.full(tail.size - share.size, 0.05)])


def register(n: int) -> list[Holding]:
    tail, head, fraction = register_edges(n)
    names = [f"o{i}" for i in range(n)]
    return [
        Holding(names[a], names[b], x)
        for a, b, x in zip(tail.tolist(), head.tolist(), fraction.tolist(), strict=True)
    ]


def competitors(n: int) -> list[str]:
    return [f"o{i}" for i in (0, 1, 2, 3, 4, 5, n // 100, n // 20, n // 10, n // 5)]


def solve_all(graph: OwnershipGraph, ids: list[int]) -> dict[int, np.ndarray]:
    """All groups from scratch: the level structure is dropped first (not the load)."""
    graph.memo.pop(("walk-levels", "equity", Reading.LOW), None)
    return look_through_many(graph, ids)


def timed(call: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = call()
    return time.perf_counter() - started, result


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def peer(graph: nx.DiGraph, source: int, depth: int, n: int) -> np.ndarray:
    """What a data scientist would write: sum the products over simple paths up to ``depth``."""
    out = np.zeros(n)
    for path in nx.all_simple_paths(graph, source, set(graph) - {source}, cutoff=depth):
        out[path[-1]] += math.prod(graph[a][b]["weight"] for a, b in itertools.pairwise(path))
    return out


def events(graph: OwnershipGraph, rng: np.random.Generator) -> list[tuple[int, int, float]]:
    """20 stakes changed (halved) or divested, then 20 new 1% stakes."""
    w = graph.matrix("equity", Reading.LOW, solvable=True).tocoo()
    out = []
    for k in rng.choice(w.nnz, size=EVENTS // 2, replace=False):
        fraction = 0.0 if rng.random() < 0.25 else float(w.data[k]) / 2
        out.append((int(w.row[k]), int(w.col[k]), fraction))
    n = len(graph)
    while len(out) < EVENTS:
        i, j = (int(v) for v in rng.integers(0, n, size=2))
        if i != j and graph.equity[i, j] == 0.0:
            out.append((i, j, 0.01))
    return out


def test_bench_exposure() -> None:
    rows: list[tuple[str, ...]] = []
    at_1m: dict[str, float] = {}
    for n in SIZES:
        holdings = register(n)
        build_s, graph = timed(lambda h=holdings: OwnershipGraph.build(h))
        assert isinstance(graph, OwnershipGraph)
        w = graph.equity
        count, labels = csgraph.connected_components(w, directed=True, connection="strong")
        ringed = np.bincount(labels, minlength=count)[labels] > 1
        hub = int(np.diff(w.indptr).max())
        ids = [graph.index[c] for c in competitors(n)]
        groups_s, ours = min(
            (timed(functools.partial(solve_all, graph, ids)) for _ in range(REPEAT)),
            key=lambda timing: timing[0],
        )
        levels = walk_levels(graph, "equity", Reading.LOW)
        assert isinstance(levels, WalkLevels), "the register has a level structure"
        state = WalkRows(levels, ids, levels.rows(np.asarray(ids)))
        times = []
        for i, j, fraction in events(graph, np.random.default_rng(11)):
            started = time.perf_counter()
            state.change(i, j, fraction)
            times.append(time.perf_counter() - started)
        event_ms = np.array(times) * 1000
        # The worst kind: a stake in o1, which reaches most of the register, is halved.
        top = graph.index["o1"]
        holders_of_top = graph.transposed("equity")
        holder = int(holders_of_top.indices[holders_of_top.indptr[top]])
        started = time.perf_counter()
        state.change(holder, top, state.fraction(holder, top) / 2)
        top_s = time.perf_counter() - started
        # The load, the 10 groups and the kept rows; the checks below are not counted.
        peak = peak_mib()
        fresh = WalkLevels.of(state.matrix()).rows(np.asarray(ids))
        drift = float(np.abs(fresh - state.rows).max())
        assert drift <= 1e-9
        alone_s, alone = timed(lambda g=graph, c=ids[0]: integrated(g, {c}))
        error = float(np.abs(alone - ours[ids[0]]).max())
        assert error <= 1e-9
        for c in ids[1:3]:
            assert np.abs(integrated(graph, {c}) - ours[c]).max() <= 1e-9
        label = f"{n:,}"
        rows.append(
            (
                label,
                f"{len(holdings):,}",
                "ours: one sweep, all 10",
                f"{build_s:.2f}",
                f"{groups_s:.3f}",
                f"{groups_s * 100:.1f}",
                f"{peak:.0f}",
                f"{np.median(event_ms):.2f} / {event_ms.max():.1f} / {top_s * 1000:.0f}",
                f"{error:.1e}",
                f"rings {ringed.mean():.1%}, top hub holds {hub:,}",
            )
        )
        rows.append(
            (label, "", "integrated, 1 group", "", "", f"{alone_s * 1000:.1f}", "", "", "", "")
        )
        if n == SIZES[0]:
            coo = w.tocoo()
            digraph = nx.DiGraph()
            digraph.add_weighted_edges_from(
                zip(coo.row.tolist(), coo.col.tolist(), coo.data.tolist(), strict=True)
            )
            # o5: a hub, but not the largest (from o0, depth 8 takes minutes).
            source = graph.index["o5"]
            mine = ours[source]
            for depth in PEER_DEPTHS:
                peer_s, got = timed(functools.partial(peer, digraph, source, depth, n))
                off = float(np.abs(got - mine).max())
                # What the peer misses of o5's total look-through (every node summed).
                missed = 1.0 - float(got[np.arange(n) != source].sum()) / float(
                    mine[np.arange(n) != source].sum()
                )
                rows.append(
                    (
                        label,
                        "",
                        f"networkx paths <= {depth}, o5",
                        "",
                        "",
                        f"{peer_s * 1000:.0f} ({peer_s / (groups_s / 10):,.0f}x ours)",
                        "",
                        "",
                        f"{off * 100:.2f} pp",
                        f"misses {missed:.2%} of o5's total",
                    )
                )
        if n == 1_000_000:
            at_1m = {
                "groups": groups_s,
                "peak": peak,
                "median": float(np.median(event_ms)),
                "max": float(event_ms.max()),
                "top": top_s * 1000,
            }
        del holdings, graph, ours, state, levels, fresh

    header = (
        "organizations",
        "holdings",
        "method",
        "build s",
        "10 groups s",
        "per group ms",
        "peak MiB",
        "event ms med/max/top",
        "max error",
        "register",
    )
    widths = [max(len(r[k]) for r in (header, *rows)) for k in range(len(header))]
    print()
    for r in (header, *rows):
        print("  ".join(cell.rjust(width) for cell, width in zip(r, widths, strict=True)))
    if at_1m:
        print(
            f"target at 10^6: 10 groups <= {TARGET_GROUPS_S:.0f} s (got {at_1m['groups']:.2f} s, "
            f"{at_1m['groups'] / TARGET_GROUPS_S:.0%} of it); peak <= {TARGET_PEAK_MIB:.0f} MiB "
            f"(got {at_1m['peak']:.0f}, {at_1m['peak'] / TARGET_PEAK_MIB:.0%}); event <= "
            f"{TARGET_EVENT_MS:.0f} ms (median {at_1m['median']:.2f} ms, "
            f"{at_1m['median'] / TARGET_EVENT_MS:.0%}; max {at_1m['max']:.1f} ms, "
            f"{at_1m['max'] / TARGET_EVENT_MS:.0%}; an event at the top, o1: "
            f"{at_1m['top']:.0f} ms, {at_1m['top'] / TARGET_EVENT_MS:.0%}: not met)"
        )
        assert at_1m["groups"] <= TARGET_GROUPS_S
        assert at_1m["peak"] <= TARGET_PEAK_MIB
        assert at_1m["median"] <= TARGET_EVENT_MS
