"""PlanPortfolio's math: the fewest vendors that together take a lab's whole monthly volume.

Pure: the engine's dataclasses in, a ``Plan`` out. One mixed-integer program
(HiGHS, through ``scipy.optimize.milp``) over the lab's eligible vendors:

- y[v] in {0, 1}: vendor v is in the plan; x[v, n] >= 0: units of need n it takes,
  only where one of its capabilities covers n (``engine.covers``);
- every need's volume is taken in full; a vendor takes at most its capacity per
  modality (0, unknown, counts as the whole volume), and only when in the plan;
- at most ``max_vendors`` members; the units' cost within the budget (when given);
- z[g] >= members of owner g beyond the first; s >= the share of all units that
  goes to any one ultimate owner.

Solved in two stages. First the fewest members, proven (``lower_bound`` says
how far a plan stopped by the time limit may be from it). Then, among plans of
that size, one objective for the preferences: SHARED per member sharing an
ultimate owner with another (so one fewer always wins), plus SHARE times the
largest share of units going to one owner, plus the cost over the most any cover
could cost; within what is left of the time limit, the best found when it runs
out (``preferences_proven`` false). When the solver finds no plan in time, a
greedy one stands in (most remaining volume first), with the linear relaxation's
bound.

One objective rather than a stage per preference: each stage is a MILP of its
own over the same binaries, and at 10^3 vendors the later stages took seconds
each where the first takes a tenth (``./dev bench -k plan``).
"""

from __future__ import annotations

import dataclasses
import functools
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.optimize import Bounds, LinearConstraint, OptimizeResult, milp

from dpm.matching.engine import covers
from dpm.matching.model import Candidate, Modality, Need

# Seconds the solver may take over all stages of one plan.
DEFAULT_TIME_LIMIT = 2.0
# The least time any one solve gets, even past the limit (a plan needs one).
MIN_SOLVE = 0.2
# The part of the time left the preference stage asks HiGHS for.
OVERRUN = 0.7
# Float slack when a stage's optimum becomes the next stage's bound.
SLACK = 1e-6
# Weights of the preferences: a shared owner outweighs any spread and cost together.
SHARED = 4.0
SHARE = 2.0


@dataclass(frozen=True)
class Eligible:
    """A vendor the lab may use: it passed every hard filter for the lab."""

    candidate: Candidate
    # The organization at the top of its chain of control (itself when no one controls it).
    owner: str


@dataclass(frozen=True)
class Assignment:
    need: int  # index into the needs planned for
    units: int
    unit_price_usd: float


@dataclass(frozen=True)
class Member:
    vendor: Eligible
    assignments: tuple[Assignment, ...]

    @property
    def units(self) -> int:
        return sum(a.units for a in self.assignments)

    @property
    def monthly_cost_usd(self) -> float:
        return sum(a.units * a.unit_price_usd for a in self.assignments)


@dataclass(frozen=True)
class Plan:
    members: tuple[Member, ...]
    # Whether the fewest members is proven.
    optimal: bool
    # No plan has fewer members than this.
    lower_bound: int
    # "exact" (the fewest members proven), "solver" (stopped by the time limit) or "greedy".
    method: str
    # Why there is no plan (empty when there is one).
    problems: tuple[str, ...] = ()
    # Whether the preferences (shared owners, spread, cost) are proven best among
    # plans of this size.
    preferences_proven: bool = False

    @property
    def feasible(self) -> bool:
        return not self.problems

    @property
    def monthly_cost_usd(self) -> float:
        return sum(m.monthly_cost_usd for m in self.members)

    def owner_shares(self) -> dict[str, float]:
        """Share of the plan's units per ultimate owner, largest first."""
        total = sum(m.units for m in self.members) or 1
        shares: dict[str, float] = {}
        for m in self.members:
            shares[m.vendor.owner] = shares.get(m.vendor.owner, 0.0) + m.units / total
        return dict(sorted(shares.items(), key=lambda kv: (-kv[1], kv[0])))

    @property
    def shared_owners(self) -> int:
        """Members beyond the first of each ultimate owner."""
        return len(self.members) - len({m.vendor.owner for m in self.members})


@dataclass(frozen=True)
class _Pair:
    vendor: int
    need: int
    price: float


class _Program:
    """The variables and constraints of one lab's plan (see the module docstring)."""

    def __init__(self, needs: Sequence[Need], vendors: Sequence[Eligible]) -> None:
        self.needs = needs
        self.vendors = vendors
        self.pairs: list[_Pair] = []
        # (vendor, modality) -> its capacity and the pairs that draw on it
        self.capacity: dict[tuple[int, Modality], tuple[float, list[int]]] = {}
        volume_of: dict[Modality, float] = {}
        for need in needs:
            volume_of[need.modality] = volume_of.get(need.modality, 0) + need.monthly_volume
        for v, vendor in enumerate(vendors):
            for capability in vendor.candidate.profile.capabilities:
                for n, need in enumerate(needs):
                    if covers(capability, need):
                        key = (v, capability.modality)
                        cap = capability.monthly_capacity or volume_of[need.modality]
                        self.capacity.setdefault(key, (float(cap), []))[1].append(len(self.pairs))
                        self.pairs.append(_Pair(v, n, capability.unit_price_usd))
        # The pairs of each need and of each vendor, by index into ``pairs``.
        self.pairs_of_need: list[list[int]] = [[] for _ in needs]
        self.pairs_of_vendor: dict[int, list[int]] = {}
        for p, pair in enumerate(self.pairs):
            self.pairs_of_need[pair.need].append(p)
            self.pairs_of_vendor.setdefault(pair.vendor, []).append(p)
        owners: dict[str, list[int]] = {}
        for v, vendor in enumerate(vendors):
            owners.setdefault(vendor.owner, []).append(v)
        self.owner_groups = list(owners.values())
        self.shared_groups = [g for g in self.owner_groups if len(g) > 1]
        nv, npairs, nz = len(vendors), len(self.pairs), len(self.shared_groups)
        self.y = slice(0, nv)
        self.x = slice(nv, nv + npairs)
        self.z = slice(nv + npairs, nv + npairs + nz)
        self.s = nv + npairs + nz
        self.size = self.s + 1
        self.total_units = float(sum(n.monthly_volume for n in needs))

    def constraints(self, max_vendors: int, budget: float) -> list[LinearConstraint]:
        rows: list[tuple[dict[int, float], float, float]] = []
        x0 = self.x.start
        for n, need in enumerate(self.needs):
            take = {x0 + p: 1.0 for p in self.pairs_of_need[n]}
            rows.append((take, need.monthly_volume, math.inf))
        for (v, _), (cap, members) in self.capacity.items():
            row = {x0 + p: 1.0 for p in members}
            row[v] = -cap
            rows.append((row, -math.inf, 0.0))
        rows.append((dict.fromkeys(range(self.y.start, self.y.stop), 1.0), 0, max_vendors))
        if budget > 0:
            cost = {x0 + p: pair.price for p, pair in enumerate(self.pairs) if pair.price}
            rows.append((cost, -math.inf, budget))
        for g, group in enumerate(self.shared_groups):
            row = dict.fromkeys(group, 1.0)
            row[self.z.start + g] = -1.0
            rows.append((row, -math.inf, 1.0))
        for group in self.owner_groups:
            row = {x0 + p: 1.0 for v in group for p in self.pairs_of_vendor.get(v, [])}
            row[self.s] = -self.total_units
            rows.append((row, -math.inf, 0.0))
        return [_matrix(rows, self.size)]

    @functools.cached_property
    def cost_scale(self) -> float:
        """The most any cover could cost (every need at its dearest covering price)."""
        dearest: dict[int, float] = {}
        for pair in self.pairs:
            dearest[pair.need] = max(dearest.get(pair.need, 0.0), pair.price)
        return sum(n.monthly_volume * dearest.get(i, 0.0) for i, n in enumerate(self.needs)) or 1.0

    def objective(self, stage: str) -> np.ndarray:
        c = np.zeros(self.size)
        if stage == "members":
            c[self.y] = 1.0
        elif stage == "preferences":
            c[self.z] = SHARED
            c[self.s] = SHARE
            c[self.x] = [pair.price / self.cost_scale for pair in self.pairs]
        else:  # "cost"
            c[self.x] = [pair.price for pair in self.pairs]
        return c

    def bounds(self) -> Bounds:
        upper = np.full(self.size, np.inf)
        upper[self.y] = 1.0
        upper[self.s] = 1.0
        return Bounds(np.zeros(self.size), upper)

    def integrality(self) -> np.ndarray:
        kinds = np.zeros(self.size)
        kinds[self.y] = 1
        return kinds

    def plan(self, solution: np.ndarray, optimal: bool, lower_bound: int, method: str) -> Plan:
        """The plan of a solution: whole units, each need's volume exactly."""
        chosen = [v for v in range(len(self.vendors)) if solution[self.y.start + v] > 0.5]
        units = [max(0.0, float(solution[self.x.start + p])) for p in range(len(self.pairs))]
        whole = _whole_units(self, units, set(chosen))
        members = []
        for v in chosen:
            assignments = tuple(
                Assignment(self.pairs[p].need, whole[p], self.pairs[p].price)
                for p in self.pairs_of_vendor.get(v, [])
                if whole[p] > 0
            )
            if assignments:
                members.append(Member(self.vendors[v], assignments))
        members.sort(key=lambda m: (-m.units, str(m.vendor.candidate.name)))
        return Plan(tuple(members), optimal, lower_bound, method)


def _matrix(rows: list[tuple[dict[int, float], float, float]], size: int) -> LinearConstraint:
    data: list[float] = []
    indices: list[int] = []
    indptr = [0]
    for row, _, _ in rows:
        indices.extend(row)
        data.extend(row.values())
        indptr.append(len(indices))
    matrix = sp.csr_matrix((data, indices, indptr), shape=(len(rows), size))
    return LinearConstraint(matrix, [r[1] for r in rows], [r[2] for r in rows])


def _whole_units(program: _Program, units: list[float], chosen: set[int]) -> list[int]:
    """The solver's units rounded, then each need brought to its volume exactly: a surplus
    taken from the dearest members, a shortfall given to the cheapest with room left (a
    unit or two per member: solver noise)."""
    whole = [round(u) for u in units]
    used: dict[tuple[int, Modality], int] = {}
    for key, (_, members) in program.capacity.items():
        used[key] = sum(whole[p] for p in members)
    for n, need in enumerate(program.needs):
        mine = program.pairs_of_need[n]
        short = need.monthly_volume - sum(whole[p] for p in mine)
        for p in sorted(mine, key=lambda p: -program.pairs[p].price):
            if short >= 0:
                break
            cut = min(-short, whole[p])
            whole[p] -= cut
            used[(program.pairs[p].vendor, need.modality)] -= cut
            short += cut
        for p in sorted(mine, key=lambda p: program.pairs[p].price):
            if short <= 0:
                break
            key = (program.pairs[p].vendor, need.modality)
            if program.pairs[p].vendor not in chosen:
                continue
            add = max(0, min(short, int(program.capacity[key][0]) - used[key]))
            whole[p] += add
            used[key] += add
            short -= add
    return whole


def plan_portfolio(
    needs: Sequence[Need],
    vendors: Sequence[Eligible],
    max_vendors: int,
    budget: float = 0.0,
    time_limit: float = DEFAULT_TIME_LIMIT,
) -> Plan:
    """The plan for ``needs`` (each with a positive monthly volume) from ``vendors``."""
    program = _Program(needs, vendors)
    problems = _uncoverable(program)
    if problems:
        return Plan((), False, 0, "exact", tuple(problems))
    deadline = time.monotonic() + time_limit
    constraints = program.constraints(max_vendors, budget)
    fewest = _solve(program, "members", constraints, time_limit)
    if fewest.status == 2:
        return Plan((), True, 0, "exact", tuple(_why_not(program, max_vendors, budget, deadline)))
    if fewest.x is None:  # out of time with nothing found
        return _greedy(program, max_vendors, budget, deadline)
    optimal = fewest.status == 0
    bound = getattr(fewest, "mip_dual_bound", None)
    lower_bound = round(fewest.fun) if optimal else math.ceil((bound or 0.0) - SLACK)
    solution = fewest.x
    kept = [*constraints, _keep(program, "members", float(fewest.fun))]
    # The preferences get most of what is left of the time, and at least a little:
    # HiGHS overruns its limit by a few tenths of a second at 10^3 vendors (measured).
    preferred = _solve(program, "preferences", kept, _left(deadline) * OVERRUN)
    if preferred.x is not None:
        solution = preferred.x
    plan = program.plan(solution, optimal, lower_bound, "exact" if optimal else "solver")
    return dataclasses.replace(plan, preferences_proven=preferred.status == 0)


def _solve(
    program: _Program, stage: str, constraints: list[LinearConstraint], time_limit: float
) -> OptimizeResult:
    return milp(
        program.objective(stage),
        constraints=constraints,
        integrality=program.integrality(),
        bounds=program.bounds(),
        options={"time_limit": time_limit, "disp": False},
    )


def _keep(program: _Program, stage: str, optimum: float) -> LinearConstraint:
    """The constraint that keeps a stage's optimum while the next stages run."""
    c = program.objective(stage)
    slack = SLACK * max(1.0, abs(optimum))
    return LinearConstraint(sp.csr_matrix(c.reshape(1, -1)), -np.inf, optimum + slack)


def _uncoverable(program: _Program) -> list[str]:
    """Needs no eligible vendor can take in full, whatever the other limits."""
    problems = []
    for n, need in enumerate(program.needs):
        room: dict[tuple[int, Modality], float] = {}
        for p in program.pairs_of_need[n]:
            key = (program.pairs[p].vendor, need.modality)
            room[key] = program.capacity[key][0]
        available = sum(room.values())
        if available + SLACK < need.monthly_volume:
            problems.append(
                f"needs[{n}] ({need.modality.value}): the eligible vendors can take "
                f"{available:,.0f} units a month of the {need.monthly_volume:,}"
            )
    return problems


def _left(deadline: float) -> float:
    return max(deadline - time.monotonic(), MIN_SOLVE)


def _why_not(
    program: _Program, max_vendors: int, budget: float, deadline: float, proven: bool = True
) -> list[str]:
    """Why no plan exists when every need alone can be covered: too few members
    allowed, or the budget (the cheapest cover with no limit on members)."""
    loose = program.constraints(len(program.vendors), 0.0)
    fewest = _solve(program, "members", loose, _left(deadline))
    problems = []
    if fewest.x is not None and round(fewest.fun) > max_vendors:
        problems.append(
            f"max_vendors: covering every need takes at least {round(fewest.fun)} vendors"
        )
    if budget > 0:
        cheapest = _solve(program, "cost", program.constraints(max_vendors, 0.0), _left(deadline))
        if cheapest.x is not None and cheapest.fun > budget + SLACK:
            problems.append(
                f"monthly_budget_usd: the cheapest cover within max_vendors costs "
                f"${cheapest.fun:,.2f} a month, more than the budget ${budget:,.2f}"
            )
    if problems:
        return problems
    if proven:
        return ["no set of vendors meets the volumes, max_vendors and the budget together"]
    return [
        "no plan found within the time limit (none proven impossible either): "
        "raise max_vendors or the budget, or allow the solver more time"
    ]


def _greedy(program: _Program, max_vendors: int, budget: float, deadline: float) -> Plan:
    """Most remaining volume first, then the cheapest allocation of the members chosen;
    the bound is the linear relaxation's (rounded up)."""
    remaining = [float(n.monthly_volume) for n in program.needs]
    by_vendor: dict[int, list[tuple[float, list[int]]]] = {}
    for (v, _), (cap, members) in program.capacity.items():
        by_vendor.setdefault(v, []).append((cap, members))

    def take(v: int, commit: bool) -> float:
        """Units ``v`` would take of what remains (taken when ``commit``)."""
        gain = 0.0
        for cap, members in by_vendor.get(v, []):
            left = cap
            for p in members:
                n = program.pairs[p].need
                units = min(left, remaining[n])
                gain += units
                left -= units
                if commit:
                    remaining[n] -= units
        return gain

    chosen: list[int] = []
    while any(r > SLACK for r in remaining) and len(chosen) < max_vendors:
        gains = [(take(v, False), -v) for v in by_vendor if v not in chosen]
        best_gain, best = max(gains, default=(0.0, 1))
        if best_gain <= SLACK:
            break
        chosen.append(-best)
        take(-best, True)
    bound = _relaxation_bound(program, max_vendors, budget)
    fixed = [*program.constraints(max_vendors, budget), _only(program, chosen)]
    result = _solve(program, "cost", fixed, _left(deadline))
    if any(r > SLACK for r in remaining) or result.x is None:
        problems = _why_not(program, max_vendors, budget, deadline, proven=False)
        return Plan((), False, bound, "greedy", tuple(problems))
    return program.plan(result.x, False, bound, "greedy")


def _only(program: _Program, chosen: list[int]) -> LinearConstraint:
    """y[v] = 1 for the chosen vendors and 0 for the rest."""
    picked = np.zeros(len(program.vendors))
    picked[chosen] = 1.0
    rows = sp.eye(program.size, format="csr")[program.y.start : program.y.stop]
    return LinearConstraint(rows, picked, picked)


def _relaxation_bound(program: _Program, max_vendors: int, budget: float) -> int:
    """The fewest members of the linear relaxation, rounded up: no plan has fewer."""
    relaxed = milp(
        program.objective("members"),
        constraints=program.constraints(max_vendors, budget),
        integrality=np.zeros(program.size),
        bounds=program.bounds(),
    )
    return math.ceil(float(relaxed.fun) - SLACK) if relaxed.x is not None else 0
