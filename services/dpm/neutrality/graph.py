"""The ownership graph as matrices: built once per (graph version, as_of), then only read.

Conventions (those of tests/data/ownership-vectors.json):

- ``W[holder, held]`` is the fraction of held's equity that holder owns directly
  (rows = holders, columns = held); ``V`` is the same for votes, and a holding
  whose votes are not given votes its equity.
- The part of a column that no listed holder owns is held by outsiders
  (the float), so every cycle leaks unless a strongly connected component
  owns itself entirely.

Late and uncertain facts. A share is exact, a range (BODS ``minimum`` /
``maximum``, each bound inclusive or exclusive) or undisclosed. Every matrix
therefore exists in three readings (:class:`Reading`): LOW (ranges at their
minimum, undisclosed stakes at 0), HIGH (ranges at their maximum, undisclosed
stakes at 0) and FULL (HIGH, with each undisclosed stake at the most the other
holders' minimums leave for it). Every figure but voting power is monotone in
the fractions, so LOW gives its lower bound and FULL its upper bound; HIGH is
"the most the disclosed facts allow". When the graph has no ranges, HIGH is
the very same matrix object as LOW (and with no undisclosed stakes FULL is
HIGH), so every solve on it is shared: an exact graph costs what it did
before ranges.

One bad fact takes nothing else down. :meth:`OwnershipGraph.build` does not
raise on bad data: a holding with an impossible size is left out, and a
strongly connected component that owns itself entirely (a *closed* cycle,
which makes ``I - W`` singular) has its internal holdings left out of the
matrices the linear solves use. Each such problem is recorded with the nodes
that depend on it (its members or held node and everything reachable from
them), so only those vendors are reported as not fully assessable.

Pure: no gRPC, no protobuf.
"""

from __future__ import annotations

import datetime as dt
import enum
import math
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.sparse import csgraph

# Column sums within this distance of 1 count as "entirely held".
CLOSED_TOLERANCE = 1e-12
# An exclusive bound is read this far inside its range, so that "more than 50%"
# passes the strict majority test (control.EPSILON is 1e-12) and "less than
# 50%" fails the OFAC ">= 50%" test; far below what percentages show.
EXCLUSIVE_MARGIN = 1e-9
# Holders owning more than this in total make a column over-allocated.
OVER_ALLOCATED = 1.0 + 1e-9

KINDS = ("equity", "votes")


class GraphError(ValueError):
    """The graph cannot be used for the math (its message says why)."""


class ClosedCycleError(GraphError):
    """A strongly connected set of organizations owns itself entirely: (I - W) is singular."""

    def __init__(self, scc: Sequence[str], matrix: str = "equity") -> None:
        self.scc = sorted(scc)
        self.matrix = matrix
        super().__init__(
            f"closed ownership cycle among {', '.join(self.scc)}: every one of them has all of "
            f"its {matrix} held inside the cycle, with no outside owner, so look-through "
            "figures through it are undefined"
        )


class Reading(enum.IntEnum):
    """Which value of each uncertain share a matrix holds."""

    # Ranges at their minimum; undisclosed stakes 0.
    LOW = 0
    # Ranges at their maximum; undisclosed stakes 0.
    HIGH = 1
    # Ranges at their maximum; undisclosed stakes at the most the other holders leave.
    FULL = 2


class TieKind(enum.StrEnum):
    LEADERSHIP_MOVE = "leadership move"
    BOARD_INTERLOCK = "board interlock"
    EXCLUSIVE_CONTRACT = "exclusive contract"
    REVENUE_DEPENDENCY = "revenue dependency"
    DATA_SHARING = "data sharing"


@dataclass(frozen=True)
class Share:
    """A fraction as the sources give it: exact, a range, or undisclosed."""

    lower: float
    upper: float
    exclusive_lower: bool = False
    exclusive_upper: bool = False
    disclosed: bool = True

    @classmethod
    def exact(cls, value: float) -> Share:
        return cls(value, value)

    @classmethod
    def undisclosed(cls) -> Share:
        return cls(0.0, 1.0, disclosed=False)

    @property
    def is_exact(self) -> bool:
        return self.disclosed and self.lower == self.upper

    def problem(self) -> str | None:
        """Why this share is impossible, or None."""
        if not self.disclosed:
            return None
        if not (math.isfinite(self.lower) and math.isfinite(self.upper)):
            return "is not a finite number"
        if not (0.0 <= self.lower <= self.upper <= 1.0):
            return f"[{self.lower:g}, {self.upper:g}] is not a range within [0, 1]"
        if self.lower == self.upper and (self.exclusive_lower or self.exclusive_upper):
            return f"the range ({self.lower:g}, {self.upper:g}) with an exclusive bound is empty"
        return None

    @property
    def low(self) -> float:
        """The LOW reading (an exclusive minimum is read just above it)."""
        if not self.disclosed:
            return 0.0
        return self.lower + EXCLUSIVE_MARGIN if self.exclusive_lower else self.lower

    @property
    def high(self) -> float:
        """The HIGH reading (0 when undisclosed: see Reading.FULL)."""
        if not self.disclosed:
            return 0.0
        return self.upper - EXCLUSIVE_MARGIN if self.exclusive_upper else self.upper


@dataclass(frozen=True)
class Provenance:
    """Where a fact comes from, shown next to it in explanations."""

    source_url: str = ""
    # "official register", "self-declaration", ... ("" when unknown).
    source_type: str = ""
    asserted_by: str = ""
    # "YYYY-MM-DD" of the statement or filing.
    statement_date: str = ""
    statement_id: str = ""

    def text(self) -> str:
        """ "source: URL; official register, asserted by X, 2024-05-01" or ""."""
        detail = ", ".join(
            part
            for part in (
                self.source_type,
                f"asserted by {self.asserted_by}" if self.asserted_by else "",
                self.statement_date,
            )
            if part
        )
        parts = [p for p in (self.source_url, detail) if p]
        return f"source: {'; '.join(parts)}" if parts else ""


def _share(value: float | Share | None) -> Share:
    if value is None:
        return Share.undisclosed()
    if isinstance(value, Share):
        return value
    return Share.exact(float(value))


@dataclass(frozen=True)
class Holding:
    holder: str
    held: str
    # Fraction of held's equity: exact, a Share (range), or None when undisclosed.
    equity: float | Share | None
    # Fraction of held's votes; None means "same as equity".
    votes: float | Share | None = None
    board_seats: int = 0
    provenance: Provenance | None = None

    @property
    def equity_share(self) -> Share:
        return _share(self.equity)

    @property
    def votes_share(self) -> Share:
        return self.equity_share if self.votes is None else _share(self.votes)


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
    provenance: Provenance | None = None


@dataclass(frozen=True)
class GraphProblem:
    """A part of the graph the math cannot use, and why."""

    organizations: tuple[str, ...]
    description: str


@dataclass
class _Column:
    """The holdings of one kind (equity or votes) as COO triplets per reading."""

    rows: list[int] = field(default_factory=list)
    cols: list[int] = field(default_factory=list)
    low: list[float] = field(default_factory=list)
    high: list[float] = field(default_factory=list)
    hidden: list[bool] = field(default_factory=list)

    def add(self, i: int, j: int, share: Share) -> None:
        self.rows.append(i)
        self.cols.append(j)
        self.low.append(share.low)
        self.high.append(share.high)
        self.hidden.append(not share.disclosed)

    def add_exact(self, i: int, j: int, value: float) -> None:
        self.rows.append(i)
        self.cols.append(j)
        self.low.append(value)
        self.high.append(value)
        self.hidden.append(False)

    def readings(self, n: int) -> tuple[sp.csr_matrix, sp.csr_matrix, sp.csr_matrix, np.ndarray]:
        """LOW, HIGH, FULL matrices (the same object when equal) and the LOW column sums.

        Repeated (holder, held) pairs are summed. A range's maximum and an
        undisclosed stake are both capped by what the other holders' minimums
        leave (1 minus their LOW sum), never below the pair's own minimum.
        """
        rows = np.asarray(self.rows, dtype=np.int64)
        cols = np.asarray(self.cols, dtype=np.int64)
        uniq, inverse = np.unique(rows * n + cols, return_inverse=True)
        pr, pc = uniq // n, uniq % n
        size = uniq.size
        low = np.bincount(inverse, weights=np.asarray(self.low, dtype=float), minlength=size)
        high = np.bincount(inverse, weights=np.asarray(self.high, dtype=float), minlength=size)
        hidden = np.bincount(inverse, weights=np.asarray(self.hidden, dtype=float), minlength=size)
        col_low = np.bincount(pc, weights=low, minlength=n)

        def matrix(data: np.ndarray) -> sp.csr_matrix:
            m = sp.csr_matrix((data, (pr, pc)), shape=(n, n), dtype=float)
            m.eliminate_zeros()
            return m

        low_m = matrix(low)
        if not hidden.any() and np.array_equal(low, high):
            return low_m, low_m, low_m, col_low
        room = np.maximum(1.0 - (col_low[pc] - low), 0.0)
        high = np.maximum(np.minimum(high, room), low)
        full = np.where(hidden > 0, np.maximum(high, room), high)
        high_m = low_m if np.array_equal(high, low) else matrix(high)
        full_m = high_m if np.array_equal(full, high) else matrix(full)
        return low_m, high_m, full_m, col_low


@dataclass
class OwnershipGraph:
    """Nodes indexed once; sparse equity and vote matrices per reading; the rest kept as lists."""

    nodes: list[str]
    index: dict[str, int]
    # Raw matrices per (kind, reading): control, OFAC and reachability use these.
    readings: dict[tuple[str, Reading], sp.csr_matrix]
    # The same with the holdings inside closed cycles left out: the linear solves use these.
    solvable: dict[tuple[str, Reading], sp.csr_matrix]
    # (holder index, held index) of holdings with undisclosed equity or votes.
    undisclosed_equity: list[tuple[int, int]]
    undisclosed_votes: list[tuple[int, int]]
    # (holder, held) -> seats.
    board_seats: dict[tuple[str, str], int]
    ties: list[Tie]
    # Every holding kept, for explanations (shares as given, provenance).
    holdings: list[Holding] = field(default_factory=list, repr=False)
    # holder * n + held of each kept holding, sorted, and the positions in ``holdings``
    # they come from: finds a pair's holdings by binary search.
    fact_keys: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64), repr=False)
    fact_order: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64), repr=False)
    problems: list[GraphProblem] = field(default_factory=list)
    # Node index -> indices in ``problems`` of the problems it depends on.
    affected: dict[int, tuple[int, ...]] = field(default_factory=dict)
    # Per-process memo of results derived from this immutable graph.
    memo: dict[Any, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def build(
        cls,
        holdings: Iterable[Holding],
        nodes: Iterable[str] = (),
        ties: Iterable[Tie] = (),
    ) -> OwnershipGraph:
        """Index the nodes, assemble W and V in their readings, record what cannot be used.

        Repeated holder->held pairs are summed; self-holdings (treasury shares)
        are ignored. Never raises on bad data: see the module docstring.
        """
        names: list[str] = []
        index: dict[str, int] = {}

        def add(name: str) -> int:
            if name not in index:
                index[name] = len(names)
                names.append(name)
            return index[name]

        for name in nodes:
            add(name)
        equity = _Column()
        votes = _Column()
        und_e: list[tuple[int, int]] = []
        und_v: list[tuple[int, int]] = []
        seats: dict[tuple[str, str], int] = {}
        kept: list[Holding] = []
        # (description, source nodes) of each problem found while reading the holdings.
        found: list[tuple[str, tuple[str, ...], list[int]]] = []
        for h in holdings:
            i, j = add(h.holder), add(h.held)
            x, y = h.equity, h.votes
            if (
                isinstance(x, float | int)
                and 0.0 <= x <= 1.0
                and (y is None or (isinstance(y, float | int) and 0.0 <= y <= 1.0))
                and i != j
            ):
                # The common case, exact figures, without building Share objects.
                if h.board_seats:
                    seats[(h.holder, h.held)] = seats.get((h.holder, h.held), 0) + h.board_seats
                kept.append(h)
                equity.add_exact(i, j, float(x))
                votes.add_exact(i, j, float(x if y is None else y))
                continue
            e, v = h.equity_share, h.votes_share
            bad = [
                f"its {label} {problem}"
                for label, share in (("equity", e), ("votes", v))
                if (problem := share.problem()) is not None
            ]
            if bad:
                found.append(
                    (
                        f"the holding of {h.holder} in {h.held} cannot be used: {'; '.join(bad)}",
                        (h.holder, h.held),
                        [j],
                    )
                )
                continue
            if h.board_seats:
                seats[(h.holder, h.held)] = seats.get((h.holder, h.held), 0) + h.board_seats
            if i == j:
                continue
            kept.append(h)
            if not e.disclosed:
                und_e.append((i, j))
            if not v.disclosed:
                und_v.append((i, j))
            equity.add(i, j, e)
            votes.add(i, j, v)
        tie_list = list(ties)
        for tie in tie_list:
            add(tie.organization)
            add(tie.counterparty)
        n = len(names)
        readings: dict[tuple[str, Reading], sp.csr_matrix] = {}
        over: dict[int, list[str]] = {}
        for kind, column in (("equity", equity), ("votes", votes)):
            low, high, full, col_low = column.readings(n)
            readings[(kind, Reading.LOW)] = low
            readings[(kind, Reading.HIGH)] = high
            readings[(kind, Reading.FULL)] = full
            for node in np.flatnonzero(col_low > OVER_ALLOCATED):
                over.setdefault(int(node), []).append(f"{col_low[node] * 100:.4g}% of its {kind}")
        for at, amounts in sorted(over.items()):
            found.append(
                (
                    f"the recorded holders of {names[at]} own at least {' and '.join(amounts)}, "
                    "more than all of it",
                    (names[at],),
                    [at],
                )
            )
        keys = np.asarray(equity.rows, dtype=np.int64) * n + np.asarray(equity.cols, np.int64)
        order = np.argsort(keys, kind="stable")
        graph = cls(
            names,
            index,
            readings,
            dict(readings),
            und_e,
            und_v,
            seats,
            tie_list,
            kept,
            keys[order],
            order,
        )
        cycles: dict[tuple[int, ...], list[str]] = {}
        for kind in KINDS:
            for component in closed_components(readings[(kind, Reading.LOW)]):
                cycles.setdefault(tuple(component), []).append(kind)
                graph._leave_out_cycle(kind, component)
        for key, kinds in cycles.items():
            member_names = tuple(sorted(names[m] for m in key))
            error = ClosedCycleError(member_names, " and ".join(kinds))
            found.append((str(error), member_names, list(key)))
        for description, organizations, sources in found:
            graph._record(GraphProblem(organizations, description), sources)
        return graph

    def _leave_out_cycle(self, kind: str, members: list[int]) -> None:
        """Drop the holdings inside a closed component from the solvable matrices of ``kind``.

        Every figure is monotone in the holdings, so what is computed without
        them is a lower bound; only nodes reachable from the component can
        differ, and they are flagged as affected.
        """
        inside = np.zeros(len(self.nodes), dtype=bool)
        inside[members] = True
        done: dict[int, sp.csr_matrix] = {}
        for reading in Reading:
            matrix = self.solvable[(kind, reading)]
            if id(matrix) not in done:
                coo = matrix.tocoo()
                keep = ~(inside[coo.row] & inside[coo.col])
                done[id(matrix)] = sp.csr_matrix(
                    (coo.data[keep], (coo.row[keep], coo.col[keep])), shape=matrix.shape
                )
            self.solvable[(kind, reading)] = done[id(matrix)]

    def _record(self, problem: GraphProblem, sources: list[int]) -> None:
        number = len(self.problems)
        self.problems.append(problem)
        for node in self.reachable(sources):
            self.affected[node] = (*self.affected.get(node, ()), number)

    def __len__(self) -> int:
        return len(self.nodes)

    @property
    def equity(self) -> sp.csr_matrix:
        """W, LOW reading (the exact matrix when every share is exact)."""
        return self.readings[("equity", Reading.LOW)]

    @property
    def votes(self) -> sp.csr_matrix:
        """V, LOW reading."""
        return self.readings[("votes", Reading.LOW)]

    def matrix(
        self, kind: str, reading: Reading = Reading.LOW, *, solvable: bool = False
    ) -> sp.csr_matrix:
        if kind not in KINDS:
            raise ValueError(f"unknown matrix {kind!r}")
        return (self.solvable if solvable else self.readings)[(kind, reading)]

    def canonical(self, kind: str, reading: Reading) -> Reading:
        """The lowest reading whose matrix is the same object (so results can be shared)."""
        target = self.readings[(kind, reading)]
        for r in Reading:
            if self.readings[(kind, r)] is target:
                return r
        return reading  # pragma: no cover

    @property
    def uncertain(self) -> bool:
        """Some share is a range or undisclosed."""
        return any(
            self.readings[(k, Reading.FULL)] is not self.readings[(k, Reading.LOW)] for k in KINDS
        )

    def ids(self, names: Iterable[str]) -> list[int]:
        return [self.index[n] for n in names if n in self.index]

    def _links(self) -> sp.csr_matrix:
        """Every holding of any size and kind (undisclosed ones included), as one pattern."""
        if "links" not in self.memo:
            both = self.readings[("equity", Reading.FULL)] + self.readings[("votes", Reading.FULL)]
            self.memo["links"] = both.tocsr()
        links: sp.csr_matrix = self.memo["links"]
        return links

    def reachable_mask(self, sources: Iterable[int]) -> np.ndarray:
        """Boolean mask of the nodes reachable from sources (sources included) over
        holdings of any size and kind, undisclosed ones included."""
        mask = np.zeros(len(self.nodes), dtype=bool)
        links = self._links()
        for source in sources:
            if not mask[source]:
                order = csgraph.breadth_first_order(
                    links, int(source), directed=True, return_predecessors=False
                )
                mask[order] = True
        return mask

    def reachable(self, sources: Iterable[int], extra: Iterable[tuple[int, int]] = ()) -> set[int]:
        """Nodes reachable from sources (sources included) over holdings of any size,
        undisclosed ones included, and over the ``extra`` (holder, held) links."""
        extra_out: dict[int, list[int]] = {}
        for a, b in extra:
            extra_out.setdefault(a, []).append(b)
        seen = {int(i) for i in np.flatnonzero(self.reachable_mask(sources))}
        if not extra_out:
            return seen
        links = self._links()
        queue = deque(seen)
        while queue:
            i = queue.popleft()
            for j in (*links.indices[links.indptr[i] : links.indptr[i + 1]], *extra_out.get(i, ())):
                if int(j) not in seen:
                    seen.add(int(j))
                    queue.append(int(j))
        return seen

    @property
    def undisclosed(self) -> list[tuple[int, int]]:
        return sorted(set(self.undisclosed_equity) | set(self.undisclosed_votes))

    def holdings_between(self, holder: int, held: int) -> list[Holding]:
        """The recorded holdings of holder in held (usually one)."""
        key = holder * len(self.nodes) + held
        lo, hi = np.searchsorted(self.fact_keys, [key, key + 1])
        return [self.holdings[int(k)] for k in self.fact_order[lo:hi]]

    def problems_of(self, node: str) -> list[GraphProblem]:
        """The problems ``node`` depends on (it is in them or reachable from them)."""
        if node not in self.index:
            return []
        return [self.problems[k] for k in self.affected.get(self.index[node], ())]

    def ties_from(self, organization: str) -> list[Tie]:
        """Ties whose vendor side is ``organization``."""
        if "ties_from" not in self.memo:
            index: dict[str, list[Tie]] = {}
            for tie in self.ties:
                index.setdefault(tie.organization, []).append(tie)
            self.memo["ties_from"] = index
        found: list[Tie] = self.memo["ties_from"].get(organization, [])
        return found

    def transposed(self, kind: str, reading: Reading = Reading.LOW) -> sp.csr_matrix:
        """The reading's matrix transposed, in CSR (rows = held): who holds each node."""
        key = ("transposed", kind, self.canonical(kind, reading))
        if key not in self.memo:
            self.memo[key] = self.readings[(kind, reading)].T.tocsr()
        result: sp.csr_matrix = self.memo[key]
        return result

    def parents(self, node: str) -> list[str]:
        """Organizations above ``node`` through majority links (>= 50% equity or > 50% votes).

        Transitive, nearest first; used to decide which ties and board seats
        touch a vendor.
        """
        if node not in self.index:
            return []
        key = ("parents", node)
        if key in self.memo:
            cached: list[str] = self.memo[key]
            return cached
        wt, vt = self.transposed("equity"), self.transposed("votes")
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
        self.memo[key] = order
        return order


def closed_components(matrix: sp.csr_matrix) -> list[list[int]]:
    """Strongly connected components (two or more nodes) none of whose members has
    any of its column held outside the component."""
    count, labels = csgraph.connected_components(matrix, directed=True, connection="strong")
    sizes = np.bincount(labels, minlength=count)
    coo = matrix.tocoo()
    inside = labels[coo.row] == labels[coo.col]
    # Per column: the share held by members of the column's own component.
    held_inside = np.bincount(coo.col[inside], weights=coo.data[inside], minlength=matrix.shape[0])
    # A component is closed when none of its members has any of its column held outside it.
    leaky = (held_inside < 1.0 - CLOSED_TOLERANCE).astype(float)
    leaky_members = np.bincount(labels, weights=leaky, minlength=count)
    return [
        [int(m) for m in np.flatnonzero(labels == comp)]
        for comp in np.flatnonzero((sizes > 1) & (leaky_members == 0))
    ]
