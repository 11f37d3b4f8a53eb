"""The largest ownership chains from a group to a vendor, for the explanation only.

Best-first search over simple paths: products only shrink along a path, so
the first chains to reach the target come out largest first. The search is
bounded (chains below ``min_product`` and searches beyond ``max_expansions``
are cut), which is fine because the figures come from the exact solve, not
from here.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass

from dpm.neutrality.graph import OwnershipGraph


@dataclass(frozen=True)
class Chain:
    # Node indices from a group member down to the target.
    path: tuple[int, ...]
    # Product of the equity fractions along the path.
    product: float


def top_chains(
    graph: OwnershipGraph,
    group: set[int],
    target: int,
    k: int = 3,
    *,
    min_product: float = 1e-6,
    max_expansions: int = 20_000,
) -> list[Chain]:
    """At most k chains from members of ``group`` to ``target``, largest product first.

    A chain starts at a group member and passes only through nodes outside
    the group (the walks the integrated figure counts).
    """
    w = graph.equity
    heap: list[tuple[float, tuple[int, ...]]] = [(-1.0, (g,)) for g in sorted(group) if g != target]
    heapq.heapify(heap)
    found: list[Chain] = []
    expansions = 0
    while heap and len(found) < k and expansions < max_expansions:
        neg, path = heapq.heappop(heap)
        node = path[-1]
        if node == target and len(path) > 1:
            found.append(Chain(path, -neg))
            continue
        expansions += 1
        lo, hi = w.indptr[node], w.indptr[node + 1]
        for j, share in zip(w.indices[lo:hi], w.data[lo:hi], strict=True):
            j = int(j)
            product = -neg * float(share)
            if product < min_product or j in path or (j in group and j != target):
                continue
            heapq.heappush(heap, (-product, (*path, j)))
    return found
