"""Integrated (direct + indirect) ownership of a group, by one sparse solve.

The integrated ownership of a group G in j is the sum, over every walk that
starts in G, ends at j and does not come back to G on the way, of the product
of the fractions along it. With N the nodes outside G and w_G[j] = the sum of
W[g, j] over g in G, the walks ending at the nodes of N satisfy

    x_N = w_G,N + W_NN^T x_N          i.e.  (I - W_NN^T) x_N = w_G,N

and a node of G receives x_g = w_G[g] + sum over k in N of x_k W[k, g].
Only nodes reachable from G can be non-zero, so the system is restricted to
them. For a single holder i this is [(I-W)^-1 W]_ij / [(I-W)^-1]_ii.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.sparse import csgraph
from scipy.sparse.linalg import gmres, splu

from dpm.neutrality.graph import GraphError, OwnershipGraph

# A cross-holding cycle larger than this is solved iteratively (GMRES) rather than
# factorised: LU fill-in inside one huge strongly connected block is what makes a
# direct solve slow; real ownership cycles are small.
DIRECT_BLOCK_LIMIT = 2000
ITERATIVE_RTOL = 1e-13


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


def integrated(graph: OwnershipGraph, group: set[int], kind: str = "equity") -> np.ndarray:
    """Vector over every node of the group's integrated ``kind`` ("equity" or "votes")."""
    matrix = graph.matrix(kind)
    n = len(graph)
    out = np.zeros(n)
    if not group:
        return out
    group_list = sorted(group)
    reach = graph.reachable(group_list)
    outside = np.array(sorted(reach - group), dtype=np.int64)
    inside = np.array(group_list, dtype=np.int64)
    # w_G: the group's direct shares in every node.
    direct = np.asarray(matrix[inside].sum(axis=0)).ravel()
    x_n = np.zeros(0)
    if outside.size:
        x_n = solve_walks(matrix[outside][:, outside], direct[outside])
        if not np.all(np.isfinite(x_n)) or np.any(x_n < -1e-9):
            raise GraphError("ownership shares do not converge (over-allocated cycle)")
        x_n = np.clip(x_n, 0.0, None)
        out[outside] = x_n
    # Walks that end at a member of the group.
    back = matrix[outside][:, inside].T @ x_n if outside.size else np.zeros(inside.size)
    out[inside] = direct[inside] + back
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


def undisclosed_reach(graph: OwnershipGraph, group: set[int]) -> set[int]:
    """Nodes reached from the group through a chain that uses an undisclosed-size holding."""
    hidden = graph.undisclosed
    if not hidden:
        return set()
    before = graph.reachable(group, hidden)
    starts = {b for a, b in hidden if a in before}
    return graph.reachable(starts, hidden) if starts else set()
