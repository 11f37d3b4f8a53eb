"""The OFAC 50 Percent Rule on a policy's restricted parties.

An entity is blocked when one or more blocked persons own 50% or more of it
in aggregate, directly or indirectly. Indirect ownership counts through
entities that are themselves blocked, in full (a blocked entity's stake is
a blocked stake, whatever share of it the restricted party owns): so the
blocked set is the least fixed point of

    blocked = restricted parties + {j : sum of W[k, j] over blocked k >= 0.5}

and an entity's aggregate blocked share is that sum. For a -> b 60%, b -> c 50%
with a restricted: b is blocked (60%), c is blocked (50%, at the threshold:
the rule is "50% or more"). Like control, the fixed point is found by adding
each newly blocked node's row once.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass

from dpm.neutrality.graph import OwnershipGraph, Reading

THRESHOLD = 0.5
EPSILON = 1e-12


@dataclass(frozen=True)
class Blocking:
    # Node index -> the blocked node whose stake blocked it (itself for a restricted party).
    via: dict[int, int]
    # Node index -> sum of the direct equity stakes blocked holders have in it.
    aggregate: dict[int, float]

    @property
    def blocked(self) -> set[int]:
        return set(self.via)

    def path_to(self, node: int) -> list[int]:
        """A restricted party -> ... -> node along the stakes that blocked each step."""
        path = [node]
        while self.via[path[-1]] != path[-1]:
            path.append(self.via[path[-1]])
        return path[::-1]


def blocking(
    graph: OwnershipGraph, parties: Iterable[str], reading: Reading = Reading.LOW
) -> Blocking:
    w = graph.matrix("equity", reading)
    via: dict[int, int] = {}
    aggregate: dict[int, float] = {}
    queue: deque[int] = deque()
    for name in parties:
        if name in graph.index and graph.index[name] not in via:
            i = graph.index[name]
            via[i] = i
            queue.append(i)
    while queue:
        k = queue.popleft()
        lo, hi = w.indptr[k], w.indptr[k + 1]
        for j, share in zip(w.indices[lo:hi], w.data[lo:hi], strict=True):
            j = int(j)
            aggregate[j] = aggregate.get(j, 0.0) + float(share)
            if j not in via and aggregate[j] >= THRESHOLD - EPSILON:
                via[j] = k
                queue.append(j)
    return Blocking(via, aggregate)
