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
from scipy.sparse.linalg import splu

from dpm.neutrality.graph import GraphError, OwnershipGraph


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
        w_nn = matrix[outside][:, outside]
        system = (sp.identity(outside.size, format="csc") - w_nn.T.tocsc()).tocsc()
        try:
            x_n = splu(system).solve(direct[outside])
        except RuntimeError as exc:  # exactly singular: a closed cycle slipped through
            raise GraphError(f"ownership system is singular: {exc}") from None
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
