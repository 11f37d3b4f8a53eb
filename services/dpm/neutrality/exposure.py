"""Integrated (direct + indirect) ownership of a group, by one sparse solve.

The integrated ownership of a group G in j is the sum, over every walk that
starts in G, ends at j and does not come back to G on the way, of the product
of the fractions along it. With N the nodes outside G and w_G[j] = the sum of
W[g, j] over g in G, the walks ending at the nodes of N satisfy

    x_N = w_G,N + W_NN^T x_N          i.e.  (I - W_NN^T) x_N = w_G,N

and a node of G receives x_g = w_G[g] + sum over k in N of x_k W[k, g].
Only nodes reachable from G can be non-zero, so the system is restricted to
them. For a single holder i this is [(I-W)^-1 W]_ij / [(I-W)^-1]_ii: the
*look-through* figure of i. For a competitor together with the entities it
controls it is what that group holds, which is nobody's equity: assess
reports look-through figures and directed votes (control.py), never this.

Several competitors at once (``look_through_many``): row c of (I - W)^-1,
divided by its diagonal, is c's look-through figure (the walks that come back
to c factor out: z_j = z_cc x_j), and the rows of every competitor come from
one sweep over the graph's levels (walks.WalkLevels), built once per matrix.
Where that cannot be used (no level structure, or a competitor whose row is
not a usable solution) the competitor is solved alone by ``integrated``, so
every figure and error is the one ``integrated`` gives.

Upper readings (ranges at their maximum, undisclosed stakes at their
largest) may over-allocate a column or close a cycle, so their linear system
can be singular or give shares outside [0, 1]. Those are solved instead by
iterating x <- min(1, W_NN^T x + w_G) downward from x = 1: every iterate
bounds from above the figure of every matrix below W (each true figure is a
fixed point of its own system and at most 1), so stopping early is safe.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.sparse import csgraph
from scipy.sparse.linalg import gmres, splu

from dpm.neutrality.graph import GraphError, OwnershipGraph, Reading
from dpm.neutrality.walks import NoLevels, WalkLevels

# A cross-holding cycle larger than this is solved iteratively (GMRES) rather than
# factorised: LU fill-in inside one huge strongly connected block is what makes a
# direct solve slow; real ownership cycles are small.
DIRECT_BLOCK_LIMIT = 2000
ITERATIVE_RTOL = 1e-13
# A solved share outside [-SLACK, 1 + SLACK] means the system has no meaningful solution.
SLACK = 1e-9
# The downward iteration stops when no share moves more than this, or after MAX_SWEEPS.
SWEEP_TOLERANCE = 1e-13
MAX_SWEEPS = 10_000


def _blocks(w: sp.csr_matrix) -> tuple[np.ndarray | None, int]:
    """An order of the nodes, holders before what they hold (cycles kept together),
    and the size of the largest cycle block.

    SciPy labels strong components in order of completion (sinks first), so
    sorting by decreasing label puts every holder before what it holds; the
    check makes this an optimisation only, never an assumption.
    """
    count, labels = csgraph.connected_components(w, directed=True, connection="strong")
    largest = int(np.bincount(labels, minlength=count).max()) if count else 0
    coo = w.tocoo()
    if np.any(labels[coo.row] < labels[coo.col]):
        return None, largest
    return np.argsort(-labels, kind="stable"), largest


def solve_walks(
    w_nn: sp.csr_matrix, rhs: np.ndarray, direct_block_limit: int = DIRECT_BLOCK_LIMIT
) -> np.ndarray:
    """Solve (I - W_NN^T) x = rhs: one sparse LU, or GMRES for a giant cycle block.

    Ordered holders-first the system is block lower triangular (blocks = the
    cross-holding cycles), so with the natural ordering and diagonal pivots the
    factorisation fills in only inside the cycles: an acyclic graph costs one
    pass over its edges.
    """
    size = w_nn.shape[0]
    order, largest = _blocks(w_nn)
    if largest > direct_block_limit:
        system = (sp.identity(size, format="csr") - w_nn.T).tocsr()
        x, info = gmres(system, rhs, rtol=ITERATIVE_RTOL, atol=0.0, restart=50, maxiter=2000)
        if info == 0:
            return np.asarray(x)
        order = None  # did not converge: fall back to a plain LU
    if order is not None:
        w_nn = w_nn[order][:, order]
        rhs = rhs[order]
    system = (sp.identity(size, format="csc") - w_nn.T).tocsc()
    try:
        if order is None:
            x = splu(system).solve(rhs)
        else:
            x = splu(system, permc_spec="NATURAL", diag_pivot_thresh=0.0).solve(rhs)
    except RuntimeError as exc:  # exactly singular: a closed cycle slipped through
        raise GraphError(f"ownership system is singular: {exc}") from None
    if order is None:
        return np.asarray(x)
    out = np.empty(size)
    out[order] = x
    return out


def bounded_walks(w_nn: sp.csr_matrix, rhs: np.ndarray) -> np.ndarray:
    """An upper bound of the walk sums when (I - W_NN^T) x = rhs has no usable solution.

    Iterates x <- min(1, W_NN^T x + rhs) from x = 1. Every iterate bounds the
    true shares from above; the loop stops when it settles.
    """
    wt = w_nn.T.tocsr()
    x = np.ones(w_nn.shape[0])
    for _ in range(MAX_SWEEPS):
        nxt = np.minimum(1.0, wt @ x + rhs)
        if np.max(np.abs(nxt - x), initial=0.0) <= SWEEP_TOLERANCE:
            return np.asarray(nxt)
        x = nxt
    return x


def integrated(
    graph: OwnershipGraph,
    group: set[int],
    kind: str = "equity",
    reading: Reading = Reading.LOW,
    exclude: set[int] | frozenset[int] = frozenset(),
) -> np.ndarray:
    """Vector over every node of the group's integrated ``kind`` ("equity" or "votes").

    With ``group`` = {competitor} this is the competitor's look-through figure.
    Holdings inside closed cycles are left out (``OwnershipGraph.solvable``);
    ``exclude``d nodes are left out altogether (their figures are 0 and walks
    through them are not counted).
    """
    matrix = graph.matrix(kind, reading, solvable=True)
    n = len(graph)
    out = np.zeros(n)
    if not group:
        return out
    group_list = sorted(group)
    reach = graph.reachable_mask(group_list)
    reach[list(exclude)] = False
    reach[group_list] = False
    outside = np.flatnonzero(reach).astype(np.int64)
    inside = np.array(group_list, dtype=np.int64)
    # w_G: the group's direct shares in every node.
    direct = np.asarray(matrix[inside].sum(axis=0)).ravel()
    x_n = np.zeros(0)
    if outside.size:
        w_nn = matrix[outside][:, outside]
        try:
            x_n = solve_walks(w_nn, direct[outside])
            usable = bool(
                np.all(np.isfinite(x_n)) and x_n.min() >= -SLACK and x_n.max() <= 1.0 + SLACK
            )
        except GraphError:
            usable = False
        if not usable:
            if reading is Reading.LOW:
                # The lower reading of consistent data always converges; data
                # that does not is over-allocated (a recorded graph problem).
                raise GraphError("ownership shares do not converge (over-allocated cycle)")
            x_n = bounded_walks(w_nn, direct[outside])
        x_n = np.clip(x_n, 0.0, 1.0)
        out[outside] = x_n
    # Walks that end at a member of the group.
    back = matrix[outside][:, inside].T @ x_n if outside.size else np.zeros(inside.size)
    out[inside] = np.minimum(direct[inside] + back, 1.0)
    return out


def walk_levels(graph: OwnershipGraph, kind: str, reading: Reading) -> WalkLevels | None:
    """The level structure of the solvable ``kind`` matrix at ``reading`` (memoized), or None
    when it has none (a giant or singular cycle, very long chains)."""
    reading = graph.canonical(kind, reading)
    key = ("walk-levels", kind, reading)
    if key not in graph.memo:
        matrix = graph.matrix(kind, reading, solvable=True)
        # The components found while building the graph, when this is the matrix they are of.
        components = graph.memo.get(("components", kind))
        if matrix is not graph.matrix(kind, Reading.LOW):
            components = None
        try:
            graph.memo[key] = WalkLevels.of(matrix, components)
        except NoLevels:
            graph.memo[key] = None
    levels: WalkLevels | None = graph.memo[key]
    return levels


def look_through_together(
    graph: OwnershipGraph,
    competitors: list[int],
    kind: str = "equity",
    reading: Reading = Reading.LOW,
) -> dict[int, np.ndarray]:
    """Look-through figures of several competitors from one sweep: those it can give.

    A competitor is left out when the sweep cannot be used for it (see
    ``look_through_many``); every figure given equals ``integrated(graph, {c})``
    up to rounding.
    """
    wanted = sorted(set(competitors))
    if not wanted:
        return {}
    levels = walk_levels(graph, kind, reading)
    if levels is None:
        return {}
    rows = levels.rows(np.asarray(wanted, dtype=np.int64))
    out: dict[int, np.ndarray] = {}
    for t, c in enumerate(wanted):
        row = rows[:, t]
        # z_cc = 1 / (1 - the walks back to c): at least 1 when those are below 1.
        diagonal = float(row[c])
        if not (np.isfinite(diagonal) and diagonal >= 1.0 - SLACK):
            continue
        figures = row / diagonal
        figures[c] = 0.0
        if not (
            np.all(np.isfinite(figures)) and figures.min() >= -SLACK and figures.max() <= 1 + SLACK
        ):
            continue
        np.clip(figures, 0.0, 1.0, out=figures)
        figures[c] = min(max(1.0 - 1.0 / diagonal, 0.0), 1.0)
        out[c] = figures
    return out


def look_through_many(
    graph: OwnershipGraph,
    competitors: list[int],
    kind: str = "equity",
    reading: Reading = Reading.LOW,
) -> dict[int, np.ndarray]:
    """competitor -> ``integrated(graph, {competitor}, kind, reading)``, for all of them.

    One sweep for every competitor it can serve; the others (an over-allocated
    cycle, a giant cycle block) are solved alone, raising GraphError as
    ``integrated`` does.
    """
    out = look_through_together(graph, competitors, kind, reading)
    for c in sorted(set(competitors) - set(out)):
        out[c] = integrated(graph, {c}, kind, reading)
    return out


def walk_sum_raw(graph: OwnershipGraph, holder: int, kind: str = "equity") -> np.ndarray:
    """Row ``holder`` of (I - W)^-1 W: every walk from holder, revisits included."""
    matrix = graph.matrix(kind)
    n = len(graph)
    system = (sp.identity(n, format="csc") - matrix.T.tocsc()).tocsc()
    e = np.zeros(n)
    e[holder] = 1.0
    z = splu(system).solve(e)  # z^T = e_holder^T (I - W)^-1
    return np.asarray(matrix.T @ z).ravel()


def undisclosed_mask(graph: OwnershipGraph, group: set[int]) -> np.ndarray:
    """Mask of the nodes reached from the group through a chain that uses an
    undisclosed-size holding (one the other holders leave room for)."""
    hidden = graph.undisclosed
    if not hidden:
        return np.zeros(len(graph), dtype=bool)
    before = graph.reachable_mask(group)
    return graph.reachable_mask(sorted({b for a, b in hidden if before[a]}))


def undisclosed_reach(graph: OwnershipGraph, group: set[int]) -> set[int]:
    """The nodes of ``undisclosed_mask``."""
    return {int(i) for i in np.flatnonzero(undisclosed_mask(graph, group))}
