"""PlanPortfolio: read the lab and its eligible vendors, solve (``portfolio``), answer.

The eligible vendors are those the lab's recommendations would not exclude (every
hard filter of ``engine.exclusion_reasons``, neutrality included), on the same
catalog snapshot and the same neutrality answer; each comes with its ultimate
owner from the neutrality service. Nothing is written or cached.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from concurrent.futures.process import BrokenProcessPool

from dpm.matching import convert
from dpm.matching.compute import RecommendationBuilder, evaluation_date
from dpm.matching.engine import coverage_of, exclusion_reasons
from dpm.matching.model import Candidate, Need, VendorNeutrality, Verdict
from dpm.matching.portfolio import DEFAULT_TIME_LIMIT, Eligible, Plan, plan_portfolio
from dpm.matching.upstreams import Upstreams
from dpm.matching.v1 import matching_pb2
from dpm.neutrality.v1 import neutrality_pb2
from dpm.platform.errors import FailedPrecondition, Unavailable
from dpm.platform.names import ClientName, OrganizationName
from dpm.platform.upstream import calling
from dpm.requirements.v1 import requirements_pb2

DEFAULT_MAX_VENDORS = 3
MAX_VENDORS = 20
MAX_EXCLUDED = 1000


# Seconds past the solver's own limit a plan may take before the call gives up on it
# (building the program and a process's first start, which imports scipy).
SOLVER_GRACE = 30.0


def _quiet() -> None:
    """A solver process writes nothing to the server's stdout (HiGHS prints a debug line
    on some solves, which would break the JSON log stream)."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.close(devnull)


def _solver_process() -> ProcessPoolExecutor:
    # spawn, not fork: the server's gRPC threads must not be copied mid-call.
    return ProcessPoolExecutor(
        max_workers=1, mp_context=multiprocessing.get_context("spawn"), initializer=_quiet
    )


class Planner:
    """Plans on a process of its own (started on the first plan): the solver holds a
    core for up to its time limit, which would otherwise slow every call the matching
    process serves (its GIL and its event loop), and plans queue for it one at a time."""

    def __init__(
        self,
        builder: RecommendationBuilder,
        upstreams: Upstreams,
        time_limit: float = DEFAULT_TIME_LIMIT,
    ) -> None:
        self._builder = builder
        self._up = upstreams
        self._time_limit = time_limit
        self._solver = _solver_process()
        self._solver_lock = threading.Lock()

    def close(self) -> None:
        self._solver.shutdown(wait=False, cancel_futures=True)

    def _solve(
        self, needs: list[Need], eligible: list[Eligible], max_vendors: int, budget: float
    ) -> Plan:
        """``plan_portfolio`` on the solver process; a process that died (killed, out of
        memory) is replaced for the next plan, and this one is UNAVAILABLE."""
        solver = self._solver
        try:
            solving = solver.submit(
                plan_portfolio, needs, eligible, max_vendors, budget, self._time_limit
            )
            plan: Plan = solving.result(timeout=self._time_limit + SOLVER_GRACE)
            return plan
        except FutureTimeout:
            raise Unavailable("the portfolio solver did not answer in time") from None
        except BrokenProcessPool:
            with self._solver_lock:
                if self._solver is solver:
                    self._solver = _solver_process()
            solver.shutdown(wait=False, cancel_futures=True)
            raise Unavailable("the portfolio solver stopped; call again") from None

    def plan(
        self,
        client_id: str,
        max_vendors: int,
        as_of: str,
        exclude: Sequence[str],
        neutral_only: bool = False,
    ) -> matching_pb2.PortfolioPlan:
        """``max_vendors``, ``as_of`` and ``exclude`` (organization names) checked by the
        caller; ``neutral_only``: CAUTION vendors left out too."""
        name = str(ClientName(client_id))
        with calling("requirements"):
            client = self._up.requirements.GetClient(requirements_pb2.GetClientRequest(name=name))
        requirements = convert.requirements_from_proto(client.requirements)
        planned = [(i, n) for i, n in enumerate(requirements.needs) if n.monthly_volume > 0]
        if not planned:
            raise FailedPrecondition(
                f"{name} states no needs (requirements.needs): there is nothing to plan for"
            )
        snapshot = self._builder.snapshot()
        left_out = set(exclude)
        candidates = [c for c in snapshot.table.candidates if str(c.name) not in left_out]
        date = as_of or evaluation_date(client.neutrality_policy)
        with calling("neutrality"):
            scores = self._up.neutrality.ScorePolicy(
                neutrality_pb2.ScorePolicyRequest(
                    policy=client.neutrality_policy,
                    vendors=[str(c.name) for c in candidates],
                    as_of=date,
                    verdicts_only=True,
                )
            )
        verdicts = convert.neutrality_from_proto(scores.vendors)
        owners = {v.vendor: v.ultimate_owner for v in scores.vendors}
        eligible = [
            Eligible(c, owners.get(str(c.name)) or str(c.name))
            for c in candidates
            if not (neutral_only and _verdict(verdicts, c) is not Verdict.NEUTRAL)
            and not exclusion_reasons(
                requirements,
                c,
                coverage_of(c.profile, requirements.needs),
                verdicts.get(c.name),
            )
        ]
        plan = self._solve(
            [n for _, n in planned], eligible, max_vendors, requirements.monthly_budget_usd
        )
        reply = _plan_to_proto(plan, [i for i, _ in planned], [n for _, n in planned], verdicts)
        reply.client = name
        reply.as_of = date
        reply.monthly_budget_usd = requirements.monthly_budget_usd
        reply.eligible_vendors = len(eligible)
        reply.versions.CopyFrom(
            matching_pb2.SourceVersions(
                graph_version=scores.graph_version,
                catalog_version=snapshot.catalog_version,
                requirements_revision=client.revision,
            )
        )
        return reply


def _verdict(
    verdicts: dict[OrganizationName, VendorNeutrality], candidate: Candidate
) -> Verdict | None:
    found = verdicts.get(candidate.name)
    return None if found is None else found.verdict


def _plan_to_proto(
    plan: Plan,
    need_index: list[int],
    needs: list[Need],
    verdicts: dict[OrganizationName, VendorNeutrality],
) -> matching_pb2.PortfolioPlan:
    reply = matching_pb2.PortfolioPlan(
        feasible=plan.feasible,
        monthly_cost_usd=round(plan.monthly_cost_usd, 2),
        shared_owners=plan.shared_owners,
        optimal=plan.optimal,
        preferences_proven=plan.preferences_proven,
        min_vendors_bound=plan.lower_bound,
        method=plan.method,
        problems=plan.problems,
    )
    for member in plan.members:
        candidate = member.vendor.candidate
        verdict = verdicts[candidate.name]
        reply.vendors.add(
            vendor=str(candidate.name),
            display_name=candidate.display_name,
            ultimate_owner=member.vendor.owner,
            monthly_cost_usd=round(member.monthly_cost_usd, 2),
            verdict=convert.verdict_to_proto(verdict.verdict),
            neutrality_score=verdict.score,
            allocations=[
                matching_pb2.Allocation(
                    need=need_index[a.need],
                    modality=convert.modality_to_proto(needs[a.need].modality),
                    monthly_units=a.units,
                    unit_price_usd=a.unit_price_usd,
                )
                for a in member.assignments
            ],
        )
    for owner, share in plan.owner_shares().items():
        reply.owner_shares.add(
            owner=owner,
            share=round(share, 6),
            vendors=[str(m.vendor.candidate.name) for m in plan.members if m.vendor.owner == owner],
        )
    return reply
