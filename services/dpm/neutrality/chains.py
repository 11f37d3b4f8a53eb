"""Chains of holdings from a competitor to a vendor: the largest ones for the
explanation, and the weakest-link figure.

Best-first search over simple paths: products only shrink along a path, so
the first chains to reach the target come out largest first. The search is
bounded (chains below ``min_product`` and searches beyond ``max_expansions``
are cut), which is fine because the figures come from the exact solve, not
from here.

Weakest link (control rights, La Porta et al.; Claessens, Djankov and Lang):
along one chain, the smallest vote fraction; over several chains, the sum of
their weakest links (ownership-vectors.json: 0.3 + min(0.5, 0.4) = 0.7 for
b_two_paths). Chains that share a holding share its size instead of counting
it once per chain, which makes the figure the maximum flow of votes from the
competitor to the vendor (holdings as capacities): equal to the sum of
weakest links for chains with no holding in common, never above the votes
the vendor's holders have, and computed in polynomial time instead of by
enumerating chains.
"""

from __future__ import annotations

import heapq
import itertools
from collections import deque
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import maximum_flow

from dpm.neutrality.graph import OwnershipGraph, Reading

# Max flow runs on integer capacities: fractions in units of 1e-8 (int32 holds
# 21 whole columns of them); the figure is exact to 1e-8 per holding.
FLOW_UNITS = 100_000_000


@dataclass(frozen=True)
class Chain:
    # Node indices from the competitor down to the target.
    path: tuple[int, ...]
    # Product of the fractions along the path (of the matrix searched).
    product: float


def top_chains(
    graph: OwnershipGraph,
    group: set[int],
    target: int,
    k: int = 3,
    *,
    matrix: sp.csr_matrix | None = None,
    within: set[int] | None = None,
    min_product: float = 1e-6,
    max_expansions: int = 20_000,
) -> list[Chain]:
    """At most k chains from members of ``group`` to ``target``, largest product first.

    A chain starts at a group member and passes only through nodes outside
    the group (the walks the integrated figure counts). ``matrix`` defaults to
    the equity matrix (LOW reading); ``within``, when given, holds every node a
    chain may use (those between the group and the target: see ``between``),
    which keeps the search off the rest of a large graph.
    """
    w = graph.equity if matrix is None else matrix
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
            if within is not None and j not in within:
                continue
            heapq.heappush(heap, (-product, (*path, j)))
    return found


def between(graph: OwnershipGraph, descendants: np.ndarray, target: int) -> set[int]:
    """The nodes on some chain to ``target`` from the node whose ``descendants`` are given
    (a mask): those descendants that reach the target, over holdings of any size and kind."""
    if not descendants[target]:
        return set()
    ups = (graph.transposed("equity", Reading.FULL), graph.transposed("votes", Reading.FULL))
    seen = {target}
    queue = deque([target])
    while queue:
        j = queue.popleft()
        for t in ups:
            for i in t.indices[t.indptr[j] : t.indptr[j + 1]]:
                i = int(i)
                if i not in seen and descendants[i]:
                    seen.add(i)
                    queue.append(i)
    return seen


def weakest_link(votes: sp.csr_matrix, source: int, target: int, nodes: set[int]) -> float:
    """The maximum flow of votes from ``source`` to ``target`` (see the module docstring).

    The flow runs on ``nodes`` only (those between the two: see ``between``),
    without holdings into the source (chains do not come back to it) or out
    of the target.
    """
    if source == target or source not in nodes or target not in nodes:
        return 0.0
    ordered = sorted(nodes)
    local = {node: k for k, node in enumerate(ordered)}
    sub = votes[ordered][:, ordered].tocoo()
    s, t = local[source], local[target]
    keep = (sub.col != s) & (sub.row != t) & (sub.row != sub.col)
    capacity = np.rint(sub.data[keep] * FLOW_UNITS).astype(np.int32)
    size = len(ordered)
    network = sp.csr_matrix(
        (capacity, (sub.row[keep], sub.col[keep])), shape=(size, size), dtype=np.int32
    )
    network.sum_duplicates()
    network.eliminate_zeros()
    if network.nnz == 0:
        return 0.0
    return float(maximum_flow(network, s, t).flow_value) / FLOW_UNITS


def chain_weakest_link(votes: sp.csr_matrix, path: tuple[int, ...]) -> float:
    """The smallest vote fraction along one chain."""
    return min((float(votes[a, b]) for a, b in itertools.pairwise(path)), default=0.0)
