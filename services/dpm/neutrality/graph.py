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
import itertools
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


def _numbers(values: list[float | Share | None]) -> np.ndarray:
    """float(value) of each value, NaN for None and Share (one C loop when there is no Share)."""
    try:
        return np.array(values, dtype=float)
    except (TypeError, ValueError, OverflowError):
        return np.fromiter(
            (math.nan if v is None or isinstance(v, Share) else float(v) for v in values),
            float,
            len(values),
        )


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
    """The kept holdings of one kind (equity or votes) as COO triplets per reading."""

    rows: np.ndarray
    cols: np.ndarray
    low: np.ndarray
    high: np.ndarray
    hidden: np.ndarray

    def readings(
        self, n: int, pairs: np.ndarray, inverse: np.ndarray
    ) -> tuple[sp.csr_matrix, sp.csr_matrix, sp.csr_matrix, np.ndarray]:
        """LOW, HIGH, FULL matrices (the same object when equal) and the LOW column sums.

        ``pairs``: the distinct holder * n + held, ascending; ``inverse``: each
        holding's among them. Repeated (holder, held) pairs are summed. A range's
        maximum and an undisclosed stake are both capped by what the other holders' minimums
        leave (1 minus their LOW sum), never below the pair's own minimum.
        """
        pr, pc = pairs // n, pairs % n
        size = pairs.size
        low = np.bincount(inverse, weights=self.low, minlength=size)
        high = np.bincount(inverse, weights=self.high, minlength=size)
        hidden = np.bincount(inverse, weights=self.hidden.astype(float), minlength=size)
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


@dataclass(frozen=True)
class HoldingColumns:
    """What ``OwnershipGraph.build`` reads of every holding, as arrays in the holdings'
    order, and the node index. Kept with a graph's facts, they are patched by a delta
    (``convert.GraphFacts.changed_by``) rather than read again from two million holding
    objects: at 10^6 organizations that reading was most of a build.

    ``names`` are the nodes in order of first mention (the given ones, each holding's
    holder then held, the ties' sides). When every holding joins two given nodes
    (``closed``), that order does not depend on the holdings, so a patched copy indexes
    the nodes exactly as a build from scratch would.
    """

    names: list[str]
    index: dict[str, int]
    given: int  # names[:given] are the given nodes
    closed: bool
    rows: np.ndarray  # holder index per holding
    cols: np.ndarray  # held index per holding
    equity: np.ndarray  # NaN where not a plain number
    votes: np.ndarray  # the same; equity's where the holding states no votes
    seats: np.ndarray

    @classmethod
    def of(cls, facts: list[Holding], nodes: Iterable[str], ties: list[Tie]) -> HoldingColumns:
        given = list(dict.fromkeys(nodes))
        pairs: list[str] = [""] * (2 * len(facts))
        pairs[0::2] = [h.holder for h in facts]
        pairs[1::2] = [h.held for h in facts]
        mentions = [
            *given,
            *pairs,
            *itertools.chain.from_iterable((t.organization, t.counterparty) for t in ties),
        ]
        names = list(dict.fromkeys(mentions))
        index = dict(zip(names, range(len(names)), strict=True))
        ids = np.fromiter(map(index.__getitem__, pairs), np.int64, len(pairs))
        equity, votes, seats = _values(facts)
        closed = bool((ids < len(given)).all())
        return cls(names, index, len(given), closed, ids[0::2], ids[1::2], equity, votes, seats)

    def patched(
        self, dropped: np.ndarray, positions: list[int], added: list[Holding]
    ) -> HoldingColumns | None:
        """The columns once the holdings where ``dropped`` is set are gone and ``added`` are
        inserted before ``positions`` (indices into what is left, in order); None when
        the node index could change (not ``closed``, or an added holding names a node
        that is not given)."""
        given = self.given
        ends = [self.index.get(name, given) for h in added for name in (h.holder, h.held)]
        if not self.closed or any(i >= given for i in ends):
            return None
        left = ~dropped
        new = np.array(ends, dtype=np.int64)
        equity, votes, seats = _values(added)
        return HoldingColumns(
            self.names,
            self.index,
            given,
            True,
            np.insert(self.rows[left], positions, new[0::2]),
            np.insert(self.cols[left], positions, new[1::2]),
            np.insert(self.equity[left], positions, equity),
            np.insert(self.votes[left], positions, votes),
            np.insert(self.seats[left], positions, seats),
        )


def _values(facts: list[Holding]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Equity, votes (as equity when not stated) and board seats of each holding."""
    given_votes = [h.votes for h in facts]
    equity = _numbers([h.equity for h in facts])
    votes = _numbers(given_votes)
    as_equity = np.array([v is None for v in given_votes], dtype=bool)
    votes[as_equity] = equity[as_equity]
    seats = np.fromiter((h.board_seats for h in facts), np.int64, len(facts))
    return equity, votes, seats


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
        columns: HoldingColumns | None = None,
    ) -> OwnershipGraph:
        """Index the nodes, assemble W and V in their readings, record what cannot be used.

        Repeated holder->held pairs are summed; self-holdings (treasury shares)
        are ignored. Never raises on bad data: see the module docstring.
        ``columns``: those of these holdings, nodes and ties, when already known.
        """
        facts = holdings if isinstance(holdings, list) else list(holdings)
        tie_list = list(ties)
        if columns is None:
            columns = HoldingColumns.of(facts, nodes, tie_list)
        names, index = columns.names, columns.index
        count = len(facts)
        rows, cols = columns.rows, columns.cols
        # The common case, exact figures in [0, 1] between two organizations, at array speed
        # (NaN marks a value that is not a number). Copies: the columns are kept.
        equity_value, votes_value = columns.equity.copy(), columns.votes.copy()
        exact = (
            (equity_value >= 0.0)
            & (equity_value <= 1.0)
            & (votes_value >= 0.0)
            & (votes_value <= 1.0)
            & (rows != cols)
        )
        keep = exact.copy()
        lows = {"equity": equity_value.copy(), "votes": votes_value.copy()}
        highs = {"equity": equity_value, "votes": votes_value}
        hiddens = {kind: np.zeros(count, dtype=bool) for kind in KINDS}
        und_e: list[tuple[int, int]] = []
        und_v: list[tuple[int, int]] = []
        # (description, source nodes) of each problem found while reading the holdings.
        found: list[tuple[str, tuple[str, ...], list[int]]] = []
        bad = np.zeros(count, dtype=bool)
        for k in np.flatnonzero(~exact).tolist():
            h = facts[k]
            i, j = int(rows[k]), int(cols[k])
            e, v = h.equity_share, h.votes_share
            problems = [
                f"its {label} {problem}"
                for label, share in (("equity", e), ("votes", v))
                if (problem := share.problem()) is not None
            ]
            if problems:
                bad[k] = True
                found.append(
                    (
                        f"the holding of {h.holder} in {h.held} cannot be used: "
                        f"{'; '.join(problems)}",
                        (h.holder, h.held),
                        [j],
                    )
                )
                continue
            if i == j:
                continue
            keep[k] = True
            if not e.disclosed:
                und_e.append((i, j))
            if not v.disclosed:
                und_v.append((i, j))
            for kind, share in (("equity", e), ("votes", v)):
                lows[kind][k], highs[kind][k] = share.low, share.high
                hiddens[kind][k] = not share.disclosed
        seats: dict[tuple[str, str], int] = {}
        for k in np.flatnonzero(columns.seats).tolist():
            h = facts[k]
            if not bad[k]:
                seats[(h.holder, h.held)] = seats.get((h.holder, h.held), 0) + h.board_seats
        kept_at = np.flatnonzero(keep)
        kept = facts if kept_at.size == count else [facts[k] for k in kept_at.tolist()]
        equity, votes = (
            _Column(
                rows[kept_at],
                cols[kept_at],
                lows[kind][kept_at],
                highs[kind][kept_at],
                hiddens[kind][kept_at],
            )
            for kind in KINDS
        )
        n = len(names)
        # holder * n + held of each kept holding, sorted once for both kinds and the facts.
        keys = equity.rows * n + equity.cols
        order = np.argsort(keys, kind="stable")
        ordered = keys[order]
        first = np.ones(ordered.size, dtype=bool)
        first[1:] = ordered[1:] != ordered[:-1]
        inverse = np.empty(keys.size, dtype=np.int64)
        inverse[order] = np.cumsum(first) - 1
        readings: dict[tuple[str, Reading], sp.csr_matrix] = {}
        over: dict[int, list[str]] = {}
        for kind, column in (("equity", equity), ("votes", votes)):
            low, high, full, col_low = column.readings(n, ordered[first], inverse)
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
            ordered,
            order,
        )
        cycles: dict[tuple[int, ...], list[str]] = {}
        for kind in KINDS:
            low_matrix = readings[(kind, Reading.LOW)]
            components = csgraph.connected_components(
                low_matrix, directed=True, connection="strong"
            )
            # Kept for the solves (exposure.walk_levels), which need them too.
            graph.memo[("components", kind)] = components
            for component in closed_components(low_matrix, components):
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


def closed_components(
    matrix: sp.csr_matrix, components: tuple[int, np.ndarray] | None = None
) -> list[list[int]]:
    """Strongly connected components (two or more nodes) none of whose members has
    any of its column held outside the component (``components``: the matrix's strong
    components as (count, labels), when already known)."""
    if components is None:
        components = csgraph.connected_components(matrix, directed=True, connection="strong")
    count, labels = components
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
