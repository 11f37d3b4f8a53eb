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
