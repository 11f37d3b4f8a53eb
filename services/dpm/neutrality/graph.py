"""The ownership graph as matrices: built once per (graph version, as_of), then only read.

Conventions (those of tests/data/ownership-vectors.json):

- ``W[holder, held]`` is the fraction of held's equity that holder owns directly
  (rows = holders, columns = held); ``V`` is the same for votes, and a holding
  whose votes are not given votes its equity.
- The part of a column that no listed holder owns is held by outsiders
  (the float), so every cycle leaks unless a strongly connected component
  owns itself entirely: such a *closed* component makes ``I - W`` singular and
  is rejected with :class:`ClosedCycleError` instead of producing numbers.
- A holding whose size is undisclosed adds nothing to ``W``/``V``; it is kept
  aside so exposures through it can be flagged.

Pure: no gRPC, no protobuf.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.sparse import csgraph

# Column sums within this distance of 1 count as "entirely held".
CLOSED_TOLERANCE = 1e-12


class GraphError(ValueError):
    """The graph cannot be used for the math (its message says why)."""


class ClosedCycleError(GraphError):
    """A strongly connected set of organizations owns itself entirely: (I - W) is singular."""

    def __init__(self, scc: Sequence[str], matrix: str = "equity") -> None:
        self.scc = sorted(scc)
        self.matrix = matrix
        super().__init__(
            f"closed ownership cycle among {', '.join(self.scc)}: every one of them has all of "
            f"its {matrix} held inside the cycle, with no outside owner, so integrated "
            "ownership is undefined"
        )


class TieKind(enum.StrEnum):
    LEADERSHIP_MOVE = "leadership move"
    BOARD_INTERLOCK = "board interlock"
    EXCLUSIVE_CONTRACT = "exclusive contract"
    REVENUE_DEPENDENCY = "revenue dependency"
    DATA_SHARING = "data sharing"


@dataclass(frozen=True)
class Holding:
    holder: str
    held: str
    # Fraction of held's equity; None when the size is not disclosed.
    equity: float | None
    # Fraction of held's votes; None means "same as equity".
    votes: float | None = None
    board_seats: int = 0

    @property
    def effective_votes(self) -> float | None:
        return self.equity if self.votes is None else self.votes


@dataclass(frozen=True)
class Tie:
    kind: TieKind
    # The vendor side (for a leadership move: the organization the person left).
    organization: str
    # The other side (for a leadership move: the organization the person joined).
    counterparty: str
    effective_date: dt.date
    person: str = ""
    role: str = ""


@dataclass
class OwnershipGraph:
    """Nodes indexed once; sparse equity and vote matrices; the rest kept as lists."""

    nodes: list[str]
    index: dict[str, int]
    equity: sp.csr_matrix
    votes: sp.csr_matrix
    # (holder index, held index) of holdings with undisclosed equity or votes.
    undisclosed_equity: list[tuple[int, int]]
    undisclosed_votes: list[tuple[int, int]]
    # (holder, held) -> seats.
    board_seats: dict[tuple[str, str], int]
    ties: list[Tie]
    # Per-process memo of results derived from this immutable graph.
    memo: dict[Any, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def build(
        cls,
        holdings: Iterable[Holding],
        nodes: Iterable[str] = (),
        ties: Iterable[Tie] = (),
    ) -> OwnershipGraph:
        """Index the nodes, assemble W and V, and reject closed cycles.

        Repeated holder->held pairs are summed; self-holdings (treasury shares)
        are ignored. Fractions must lie in [0, 1].
        """
        holdings = list(holdings)
        names: list[str] = []
        index: dict[str, int] = {}

        def add(name: str) -> int:
            if name not in index:
                index[name] = len(names)
                names.append(name)
            return index[name]

        for name in nodes:
            add(name)
        rows: list[int] = []
        cols: list[int] = []
        eq: list[float] = []
        vo: list[float] = []
        und_e: list[tuple[int, int]] = []
        und_v: list[tuple[int, int]] = []
        seats: dict[tuple[str, str], int] = {}
        for h in holdings:
            i, j = add(h.holder), add(h.held)
            for label, value in (("equity", h.equity), ("votes", h.votes)):
                if value is not None and not (0.0 <= value <= 1.0):
                    raise GraphError(f"{h.holder} > {h.held}: {label} {value} is not in [0, 1]")
            if h.board_seats:
                seats[(h.holder, h.held)] = seats.get((h.holder, h.held), 0) + h.board_seats
            if i == j:
                continue
            e, v = h.equity, h.effective_votes
            if e is None:
                und_e.append((i, j))
            if v is None:
                und_v.append((i, j))
            rows.append(i)
            cols.append(j)
            eq.append(e or 0.0)
            vo.append(v or 0.0)
        tie_list = list(ties)
        for tie in tie_list:
            add(tie.organization)
            add(tie.counterparty)
        n = len(names)
        w = sp.csr_matrix((eq, (rows, cols)), shape=(n, n), dtype=float)
        v = sp.csr_matrix((vo, (rows, cols)), shape=(n, n), dtype=float)
        w.eliminate_zeros()
        v.eliminate_zeros()
        graph = cls(names, index, w, v, und_e, und_v, seats, tie_list)
        graph._reject_closed_cycles(w, "equity")
        graph._reject_closed_cycles(v, "votes")
        return graph

    def __len__(self) -> int:
        return len(self.nodes)

    def _reject_closed_cycles(self, matrix: sp.csr_matrix, label: str) -> None:
        count, labels = csgraph.connected_components(matrix, directed=True, connection="strong")
        sizes = np.bincount(labels, minlength=count)
        coo = matrix.tocoo()
        inside = labels[coo.row] == labels[coo.col]
        # Per column: the share held by members of the column's own component.
        held_inside = np.bincount(
            coo.col[inside], weights=coo.data[inside], minlength=matrix.shape[0]
        )
        # A component is closed when none of its members has equity held outside it.
        leaky = (held_inside < 1.0 - CLOSED_TOLERANCE).astype(float)
        leaky_members = np.bincount(labels, weights=leaky, minlength=count)
        for comp in np.flatnonzero((sizes > 1) & (leaky_members == 0)):
            members = np.flatnonzero(labels == comp)
            raise ClosedCycleError([self.nodes[m] for m in members], label)

    def matrix(self, kind: str) -> sp.csr_matrix:
        if kind == "equity":
            return self.equity
        if kind == "votes":
            return self.votes
        raise ValueError(f"unknown matrix {kind!r}")

    def ids(self, names: Iterable[str]) -> list[int]:
        return [self.index[n] for n in names if n in self.index]

    def reachable(self, sources: Iterable[int], extra: Iterable[tuple[int, int]] = ()) -> set[int]:
        """Nodes reachable from sources (sources included) over holdings of any size."""
        w = self.equity
        v = self.votes
        extra_out: dict[int, list[int]] = {}
        for a, b in extra:
            extra_out.setdefault(a, []).append(b)
        seen = set(sources)
        queue = deque(seen)
        while queue:
            i = queue.popleft()
            succ = [
                *w.indices[w.indptr[i] : w.indptr[i + 1]],
                *v.indices[v.indptr[i] : v.indptr[i + 1]],
                *extra_out.get(i, ()),
            ]
            for j in succ:
                if j not in seen:
                    seen.add(j)
                    queue.append(int(j))
        return seen

    @property
    def undisclosed(self) -> list[tuple[int, int]]:
        return sorted(set(self.undisclosed_equity) | set(self.undisclosed_votes))

    def ties_from(self, organization: str) -> list[Tie]:
        """Ties whose vendor side is ``organization``."""
        if "ties_from" not in self.memo:
            index: dict[str, list[Tie]] = {}
            for tie in self.ties:
                index.setdefault(tie.organization, []).append(tie)
            self.memo["ties_from"] = index
        found: list[Tie] = self.memo["ties_from"].get(organization, [])
        return found

    def transposed(self) -> tuple[sp.csr_matrix, sp.csr_matrix]:
        """W^T and V^T in CSR (rows = held): who holds each node."""
        if "transposed" not in self.memo:
            self.memo["transposed"] = (self.equity.T.tocsr(), self.votes.T.tocsr())
        result: tuple[sp.csr_matrix, sp.csr_matrix] = self.memo["transposed"]
        return result

    def parents(self, node: str) -> list[str]:
        """Organizations above ``node`` through majority links (>= 50% equity or > 50% votes).

        Transitive, nearest first; used to decide which ties and board seats
        touch a vendor.
        """
        if node not in self.index:
            return []
        wt, vt = self.transposed()
        start = self.index[node]
        seen = {start}
        order: list[str] = []
        queue = deque([start])
        while queue:
            j = queue.popleft()
            for mat, threshold, strict in ((wt, 0.5, False), (vt, 0.5, True)):
                lo, hi = mat.indptr[j], mat.indptr[j + 1]
                for i, val in zip(mat.indices[lo:hi], mat.data[lo:hi], strict=True):
                    major = val > threshold if strict else val >= threshold - 1e-12
                    if major and int(i) not in seen:
                        seen.add(int(i))
                        order.append(self.nodes[i])
                        queue.append(int(i))
        return order
