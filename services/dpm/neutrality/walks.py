"""Walk sums of many holders at once, level by level over the condensation, and kept up to date.

Row c of Z = (I - W)^-1 holds the sum, over every walk from c to j (revisits
included), of the product of the fractions along it. It solves
(I - W^T) z = e_c. Ordered by the strongly connected components of the graph
(the cross-holding cycles) and by *level* (the length of the longest chain of
components above a node), that system is block lower triangular, and one
level depends only on the levels before it. :class:`WalkLevels` keeps that
structure for one matrix; :meth:`WalkLevels.rows` then solves any block of
right-hand sides in one sweep: per level one sparse product with what the
earlier levels hold, and a small LU for the cycles inside the level. Work
starts at the first level a holder is on, so a sweep propagates only
downward from the holders.

The look-through figure of c divides row c by its diagonal (walks that come
back to c are factored out): see ``exposure.look_through_many``.

:class:`WalkRows` keeps the rows of a few holders and updates them when one
holding changes (W' = W + delta e_i e_j^T), by Sherman-Morrison:

    z'_c = z_c + delta z_c[i] y / (1 - delta y[i]),    y = row j of Z,

where row j is found by a sweep over what j reaches only, corrected by the
changes already applied (each one a rank-1 term, kept in order). Only the
nodes j reaches change.

Pure: no gRPC, no graph objects, only matrices (rows = holders, columns = held).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
from scipy.linalg import blas
from scipy.sparse import csgraph
from scipy.sparse.linalg import splu

# More levels than this (long chains) make the per-level sweep slower than one
# sparse LU: the caller then solves per group.
LEVEL_LIMIT = 20_000
# A cycle block larger than this would fill in when factorised (exposure.DIRECT_BLOCK_LIMIT).
CYCLE_BLOCK_LIMIT = 2000
# A row that reaches more than this share of the nodes is solved by a full sweep.
WIDE_REACH = 0.1
# After this many changes the kept rows are recomputed from a fresh structure.
CHANGE_LIMIT = 64


class NoLevels(ValueError):
    """The matrix has no usable level structure (too deep, a giant cycle, a singular cycle)."""


@dataclass(frozen=True)
class _Cycles:
    # The members of the level's cross-holding cycles.
    members: np.ndarray
    # LU of I - W^T among them.
    lu: object


@dataclass(frozen=True)
class WalkLevels:
    """The level structure of one matrix, built once and shared by every solve on it."""

    size: int
    # node -> level; node -> rank within its level; level k is nodes[bounds[k]:bounds[k + 1]].
    level: np.ndarray
    rank: np.ndarray
    nodes: np.ndarray
    bounds: np.ndarray
    # Per level: the rows of W^T of its nodes (in ``nodes`` order), holdings from earlier levels.
    inflow: list[sp.csr_matrix]
    # Per level: its cycles, or None when the level is acyclic.
    cycles: list[_Cycles | None]
    # W itself (rows = holders): what a node reaches.
    forward: sp.csr_matrix = field(repr=False)

    @classmethod
    def of(
        cls, matrix: sp.csr_matrix, components: tuple[int, np.ndarray] | None = None
    ) -> WalkLevels:
        """The structure of ``matrix``; raises NoLevels when it cannot be used.

        ``components`` are its strong components (count, labels) when already known.
        """
        matrix = sp.csr_matrix(matrix)
        n = matrix.shape[0]
        if components is None:
            components = csgraph.connected_components(matrix, directed=True, connection="strong")
        count, labels = components
        sizes = np.bincount(labels, minlength=count)
        if count and sizes.max() > CYCLE_BLOCK_LIMIT:
            raise NoLevels(f"a cross-holding cycle of {int(sizes.max())} organizations")
        level = _levels(matrix, labels, sizes)[labels] if n else np.zeros(0, np.int64)
        # Levels fit in 16 bits (LEVEL_LIMIT), so NumPy sorts them by radix.
        nodes = np.argsort(level.astype(np.int16), kind="stable")
        depth = int(level.max()) + 1 if n else 0
        bounds = np.searchsorted(level[nodes], np.arange(depth + 1))
        rank = np.empty(n, dtype=np.int64)
        rank[nodes] = np.arange(n) - np.repeat(bounds[:-1], np.diff(bounds))
        # The holdings grouped by the level of the held node (a radix sort), split into
        # those from earlier levels and those inside a level (within a cycle).
        holder = np.repeat(np.arange(n), np.diff(matrix.indptr))
        held = matrix.indices.astype(np.int64)
        held_level = level[held]
        by_level = np.argsort(held_level.astype(np.int16), kind="stable")
        holder, held, value, held_level = (
            holder[by_level],
            held[by_level],
            matrix.data[by_level],
            held_level[by_level],
        )
        cross = level[holder] < held_level
        edges = np.searchsorted(held_level, np.arange(depth + 1))
        cyclic = sizes[labels] > 1
        inflow: list[sp.csr_matrix] = []
        cycles: list[_Cycles | None] = []
        local = np.full(n, -1, dtype=np.int64)
        for k in range(depth):
            here = nodes[bounds[k] : bounds[k + 1]]
            part = slice(int(edges[k]), int(edges[k + 1]))
            take = cross[part]
            inflow.append(
                sp.csr_matrix(
                    (value[part][take], (rank[held[part][take]], holder[part][take])),
                    shape=(here.size, n),
                )
            )
            members = here[cyclic[here]]
            if not members.size:
                cycles.append(None)
                continue
            local[members] = np.arange(members.size)
            take = ~take
            block = sp.csc_matrix(
                (
                    value[part][take],
                    (local[held[part][take]], local[holder[part][take]]),
                ),
                shape=(members.size, members.size),
            )
            try:
                lu = splu((sp.identity(members.size, format="csc") - block).tocsc())
            except RuntimeError as exc:  # exactly singular: a closed cycle
                raise NoLevels(f"a cross-holding cycle is singular: {exc}") from None
            cycles.append(_Cycles(members, lu))
        return cls(n, level, rank, nodes, bounds, inflow, cycles, matrix)

    @property
    def depth(self) -> int:
        return len(self.inflow)

    def rows(self, holders: np.ndarray) -> np.ndarray:
        """Rows ``holders`` of (I - W)^-1 as the columns of an (n, len(holders)) array.

        One sweep from the first level a holder is on.
        """
        holders = np.asarray(holders, dtype=np.int64)
        x = np.zeros((self.size, holders.size))
        if not holders.size:
            return x
        x[holders, np.arange(holders.size)] = 1.0
        for k in range(int(self.level[holders].min()), self.depth):
            here = self.nodes[self.bounds[k] : self.bounds[k + 1]]
            inflow = self.inflow[k]
            if inflow.nnz:
                x[here] += inflow @ x
            cycles = self.cycles[k]
            if cycles is not None:
                x[cycles.members] = cycles.lu.solve(x[cycles.members])  # type: ignore[attr-defined]
        return x

    def row(self, holder: int) -> tuple[np.ndarray, np.ndarray]:
        """Row ``holder`` of (I - W)^-1 as (nodes ascending, values): a sweep over what
        ``holder`` reaches only."""
        reach = csgraph.breadth_first_order(
            self.forward, int(holder), directed=True, return_predecessors=False
        )
        if reach.size > self.size * WIDE_REACH:
            # Most of the graph: one full sweep is cheaper than picking rows level by level.
            full = self.rows(np.array([holder]))[:, 0]
            found = np.flatnonzero(full)
            return found, full[found]
        levels = self.level[reach]
        by_level = np.argsort(levels.astype(np.int16), kind="stable")
        reach, levels = reach[by_level], levels[by_level]
        x = np.zeros(self.size)
        x[holder] = 1.0
        cuts = np.flatnonzero(np.diff(levels)) + 1
        for group, k in zip(np.split(reach, cuts), levels[np.r_[0, cuts]], strict=True):
            inflow = self.inflow[int(k)]
            if inflow.nnz:
                x[group] += inflow[self.rank[group]] @ x
            cycles = self.cycles[int(k)]
            if cycles is not None:
                x[cycles.members] = cycles.lu.solve(x[cycles.members])  # type: ignore[attr-defined]
        reach.sort()
        values = x[reach]
        keep = values != 0.0
        return reach[keep], values[keep]


def _levels(matrix: sp.csr_matrix, labels: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """Level of each component: the longest chain of components above it (Kahn, vectorised).

    Works on the nodes' own rows of ``matrix`` (no component graph is built):
    a component is ready when every holding into it from another component
    has been counted; then its members' holdings are counted in turn.
    """
    count = sizes.size
    holder_label = np.repeat(labels, np.diff(matrix.indptr))
    held_label = labels[matrix.indices]
    waiting = np.bincount(held_label[holder_label != held_label], minlength=count)
    # Members of the cycles, grouped by component.
    cyclic = np.flatnonzero(sizes[labels] > 1)
    cyclic = cyclic[np.argsort(labels[cyclic], kind="stable")]
    cyclic_labels = labels[cyclic]
    single = np.empty(count, dtype=np.int64)
    single[labels] = np.arange(labels.size)
    level = np.full(count, -1, dtype=np.int64)
    slot = np.zeros(count, dtype=np.int64)
    front = np.flatnonzero(waiting == 0)
    depth = 0
    while front.size:
        if depth >= LEVEL_LIMIT:
            raise NoLevels(f"more than {LEVEL_LIMIT} levels of holdings")
        level[front] = depth
        depth += 1
        big = sizes[front] > 1
        members = single[front[~big]]
        if big.any():
            lo = np.searchsorted(cyclic_labels, front[big], side="left")
            hi = np.searchsorted(cyclic_labels, front[big], side="right")
            members = np.concatenate([members, cyclic[_ranges(lo, hi)]])
        starts = matrix.indptr[members]
        below = labels[matrix.indices[_ranges(starts, matrix.indptr[members + 1])]]
        below = below[level[below] < 0]
        if not below.size:
            break
        np.subtract.at(waiting, below, 1)
        ready = below[waiting[below] == 0]
        # Each ready component once (the last of its copies keeps its slot).
        slot[ready] = np.arange(ready.size)
        front = ready[slot[ready] == np.arange(ready.size)]
    return level


def _ranges(starts: np.ndarray, stops: np.ndarray) -> np.ndarray:
    """The concatenation of arange(start, stop) for each pair."""
    lengths = stops - starts
    total = int(lengths.sum())
    offsets = np.repeat(starts - np.cumsum(lengths) + lengths, lengths)
    out: np.ndarray = offsets + np.arange(total)
    return out


@dataclass
class _Change:
    holder: int
    held: int
    delta: float
    # Row ``held`` of (I - W)^-1 before this change, as (nodes, values); and 1 - delta y[holder].
    nodes: np.ndarray
    values: np.ndarray
    denominator: float


@dataclass
class WalkRows:
    """Rows of (I - W)^-1 for a few holders, kept up to date as single holdings change.

    ``figure(t, j)`` is holders[t]'s look-through figure in j (walks that do
    not come back to it) and costs O(1); ``figures(t)`` materialises the vector.
    """

    levels: WalkLevels
    holders: list[int]
    # rows[:, t] = row holders[t] of the current (I - W)^-1 (node order).
    rows: np.ndarray
    # (holder, held) -> fraction of the holdings changed since ``levels`` was built.
    changed: dict[tuple[int, int], float] = field(default_factory=dict)
    changes: list[_Change] = field(default_factory=list, repr=False)

    @classmethod
    def solve(cls, matrix: sp.csr_matrix, holders: list[int]) -> WalkRows:
        levels = WalkLevels.of(matrix)
        return cls(levels, list(holders), levels.rows(np.asarray(holders, dtype=np.int64)))

    def figures(self, t: int) -> np.ndarray:
        """Look-through figures of holders[t] in every node."""
        z = self.rows[:, t]
        c = self.holders[t]
        out: np.ndarray = np.clip(z / z[c], 0.0, 1.0)
        out[c] = min(max(1.0 - 1.0 / z[c], 0.0), 1.0)
        return out

    def figure(self, t: int, j: int) -> float:
        z = self.rows[:, t]
        c = self.holders[t]
        if j == c:
            return min(max(1.0 - 1.0 / float(z[c]), 0.0), 1.0)
        return min(max(float(z[j]) / float(z[c]), 0.0), 1.0)

    def fraction(self, holder: int, held: int) -> float:
        """The current W[holder, held]."""
        if (holder, held) in self.changed:
            return self.changed[(holder, held)]
        return float(self.levels.forward[holder, held])

    def current_row(self, node: int) -> tuple[np.ndarray, np.ndarray]:
        """Row ``node`` of the current (I - W)^-1 as (nodes, values), nodes ascending."""
        nodes, values = self.levels.row(node)
        if not self.changes:
            return nodes, values
        y = np.zeros(self.levels.size)
        y[nodes] = values
        touched = [nodes]
        for change in self.changes:
            coefficient = change.delta * y[change.holder] / change.denominator
            if coefficient:
                y[change.nodes] += coefficient * change.values
                touched.append(change.nodes)
        if sum(part.size for part in touched) > self.levels.size * WIDE_REACH:
            at = np.flatnonzero(y)
        else:
            at = np.unique(np.concatenate(touched))
        return at, y[at]

    def change(self, holder: int, held: int, fraction: float) -> None:
        """Set W[holder, held] to ``fraction`` and update the kept rows.

        Raises NoLevels, the rows unchanged, when the change makes the walks
        diverge (it closes or over-allocates a cycle). Every CHANGE_LIMIT changes
        the structure is rebuilt from the current matrix (a full solve).
        """
        if holder == held:
            raise ValueError("a self-holding is not a walk")
        delta = fraction - self.fraction(holder, held)
        if delta == 0.0:
            return
        if len(self.changes) >= CHANGE_LIMIT:
            self.changed[(holder, held)] = fraction
            self._restart()
            return
        nodes, values = self.current_row(held)
        at = int(np.searchsorted(nodes, holder))
        y_holder = float(values[at]) if at < nodes.size and nodes[at] == holder else 0.0
        # Below 0 exactly when the new stake closes a cycle whose walks no longer converge.
        denominator = 1.0 - delta * y_holder
        if not denominator > 0.0:
            raise NoLevels("the change closes or over-allocates a cycle")
        self.changed[(holder, held)] = fraction
        coefficients = delta * self.rows[holder] / denominator
        if not np.any(coefficients):
            pass
        elif nodes.size > self.levels.size * WIDE_REACH:
            y = np.zeros(self.levels.size)
            y[nodes] = values
            # In place (BLAS rank-1 update of rows^T, which is Fortran-ordered): no n x k temporary.
            self.rows = blas.dger(
                1.0, coefficients, y, a=np.ascontiguousarray(self.rows).T, overwrite_a=True
            ).T
        else:
            self.rows[nodes] += np.outer(values, coefficients)
        self.changes.append(_Change(holder, held, delta, nodes, values, denominator))

    def matrix(self) -> sp.csr_matrix:
        """The current W."""
        base = self.levels.forward
        if not self.changed:
            return base
        n = self.levels.size
        coo = base.tocoo()
        keys = coo.row.astype(np.int64) * n + coo.col
        pairs = np.array(list(self.changed), dtype=np.int64).reshape(-1, 2)
        fractions = np.array(list(self.changed.values()))
        kept = ~np.isin(keys, pairs[:, 0] * n + pairs[:, 1])
        new = fractions != 0.0
        current = sp.csr_matrix(
            (
                np.concatenate([coo.data[kept], fractions[new]]),
                (
                    np.concatenate([coo.row[kept], pairs[new, 0]]),
                    np.concatenate([coo.col[kept], pairs[new, 1]]),
                ),
            ),
            shape=base.shape,
        )
        return current

    def _restart(self) -> None:
        self.levels = WalkLevels.of(self.matrix())
        self.rows = self.levels.rows(np.asarray(self.holders, dtype=np.int64))
        self.changed = {}
        self.changes = []
