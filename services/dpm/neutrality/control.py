"""Control by the majority rule, as a least fixed point.

c controls j iff the votes c holds in j directly, plus the votes in j of every
entity c controls, exceed half of j's votes (strictly). Starting from "c
controls nothing" and adding every j whose commanded votes pass one half until
nothing changes gives the least fixed point; each newly controlled entity adds
its own row of votes once, so the work is proportional to the edges it touches.

The commanded votes of c in j are c's *directed votes* in j. The fixed point
is well defined on any graph (closed vote cycles included), so control reads
the raw vote matrix of the requested reading.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.sparse import csgraph

from dpm.neutrality.graph import OwnershipGraph, Reading

# Commanded votes must exceed one half by more than float noise.
MAJORITY = 0.5
EPSILON = 1e-12


@dataclass(frozen=True)
class Control:
    controller: int
    # Controlled node index -> the node whose control made it controlled
    # (the controller itself for a direct majority).
    via: dict[int, int]
    # Node index -> votes the controller commands in it (its own plus its controlled entities').
    commanded: dict[int, float]

    @property
    def controlled(self) -> set[int]:
        return set(self.via)

    def path_to(self, node: int) -> list[int]:
        """Controller -> ... -> node along the links that gave control."""
        path = [node]
        while path[-1] != self.controller:
            path.append(self.via[path[-1]])
        return path[::-1]


def control_of(graph: OwnershipGraph, controller: int, reading: Reading = Reading.LOW) -> Control:
    v = graph.matrix("votes", reading)
    commanded: dict[int, float] = {}
    via: dict[int, int] = {}
    queue = deque([controller])
    while queue:
        k = queue.popleft()
        lo, hi = v.indptr[k], v.indptr[k + 1]
        for j, share in zip(v.indices[lo:hi], v.data[lo:hi], strict=True):
            j = int(j)
            commanded[j] = commanded.get(j, 0.0) + float(share)
            if j != controller and j not in via and commanded[j] > MAJORITY + EPSILON:
                via[j] = k
                queue.append(j)
    return Control(controller, via, commanded)


def controls(graph: OwnershipGraph, controller: str, held: str) -> bool:
    if controller not in graph.index or held not in graph.index:
        return False
    return graph.index[held] in control_of(graph, graph.index[controller]).via


def commanded_votes(graph: OwnershipGraph, controller: str, held: str) -> float:
    if controller not in graph.index or held not in graph.index:
        return 0.0
    return control_of(graph, graph.index[controller]).commanded.get(graph.index[held], 0.0)


def ultimate_controller(graph: OwnershipGraph, node: int, reading: Reading = Reading.LOW) -> int:
    """The entity at the top of ``node``'s chain of control: the one that controls
    ``node`` (majority rule, directly or through entities it controls) and that no one
    controls; ``node`` itself when no one controls it.

    A holder's votes count for the top of its own chain, so the votes each top entity
    directs in ``node`` are the sum over the holders it tops. Holders are resolved
    first (depth first, without recursion: a chain can be as long as the register);
    the members of a ring of holdings together, by rounds from "no one controls" until
    nothing changes. Memoised per graph."""
    memo: dict[int, int] = graph.memo.setdefault(("ultimate_controller", reading), {})
    if node in memo:
        return memo[node]
    holders = graph.transposed("votes", reading)
    rings = _rings(graph, reading)
    stack = [node]
    while stack:
        j = stack[-1]
        if j in memo:
            stack.pop()
            continue
        unit = rings.get(j, (j,))
        pending = [
            int(i)
            for x in unit
            for i in holders.indices[holders.indptr[x] : holders.indptr[x + 1]]
            if int(i) not in memo and int(i) not in unit
        ]
        if pending:
            stack.extend(pending)
            continue
        memo.update(_resolve(holders, unit, memo))
        stack.pop()
    return memo[node]


def _rings(graph: OwnershipGraph, reading: Reading) -> dict[int, tuple[int, ...]]:
    """Node -> the members of its ring of vote holdings (strong component of two or more)."""
    key = ("vote_rings", graph.canonical("votes", reading))
    if key not in graph.memo:
        count, labels = csgraph.connected_components(
            graph.matrix("votes", reading), directed=True, connection="strong"
        )
        sizes = np.bincount(labels, minlength=count)
        rings: dict[int, list[int]] = {}
        for j in np.flatnonzero(sizes[labels] > 1):
            rings.setdefault(int(labels[j]), []).append(int(j))
        graph.memo[key] = {j: tuple(members) for members in rings.values() for j in members}
    found: dict[int, tuple[int, ...]] = graph.memo[key]
    return found


def _resolve(holders: sp.csr_matrix, unit: tuple[int, ...], memo: dict[int, int]) -> dict[int, int]:
    """The tops of ``unit`` (one node, or one ring), every holder outside it resolved."""
    tops = {x: x for x in unit}
    for _ in range(len(unit) + 1):
        changed = False
        for x in unit:
            lo, hi = holders.indptr[x], holders.indptr[x + 1]
            directed: dict[int, float] = {}
            for i, share in zip(holders.indices[lo:hi], holders.data[lo:hi], strict=True):
                t = tops[int(i)] if int(i) in tops else memo[int(i)]
                directed[t] = directed.get(t, 0.0) + float(share)
            best = max(directed, key=lambda t: (directed[t], -t), default=x)
            new = best if best != x and directed[best] > MAJORITY + EPSILON else x
            seen = {x}
            while new in tops and tops[new] != new and new not in seen:  # its own top
                seen.add(new)
                new = tops[new]
            if new != tops[x]:
                tops[x] = new
                changed = True
        if not changed:
            break
    return tops
