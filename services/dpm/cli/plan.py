"""`dpmatch plan`: the fewest neutral vendors that together take a lab's volumes (running stack).

    dpmatch plan google --max-vendors 4
    dpmatch plan google --exclude labelbox --json

The lab's own token when this machine holds one, else the admin's. Nothing is written.
"""

from __future__ import annotations

import json
import sys
from typing import TextIO

import grpc
from google.protobuf import json_format

from dpm.cli.stackfile import Stack
from dpm.cli.tables import print_table, refused
from dpm.common.v1 import common_pb2
from dpm.matching.v1 import matching_pb2, matching_pb2_grpc
from dpm.platform.names import ClientName, OrganizationName


def plan(
    stack: Stack,
    lab: str,
    max_vendors: int,
    as_of: str,
    exclude: list[str],
    as_json: bool,
    neutral_only: bool = False,
    out: TextIO = sys.stdout,
    err: TextIO = sys.stderr,
) -> int:
    request = matching_pb2.PlanPortfolioRequest(
        client=str(ClientName(lab)),
        max_vendors=max_vendors,
        as_of=as_of,
        exclude_vendors=[str(OrganizationName(v)) for v in exclude],
        neutral_only=neutral_only,
    )
    with stack.channel("matching", stack.client_tokens.get(lab) or None) as channel:
        try:
            answer = matching_pb2_grpc.MatchingServiceStub(channel).PlanPortfolio(request)
        except grpc.RpcError as exc:
            return refused("plan", exc, err)
    if as_json:
        print(json.dumps(json_format.MessageToDict(answer)), file=out)
        return 0
    print_plan(answer, out)
    return 0 if answer.feasible else 1


def print_plan(answer: matching_pb2.PortfolioPlan, out: TextIO) -> None:
    lab = ClientName.trusted(answer.client).id
    if not answer.feasible:
        print(f"no plan for {lab} as of {answer.as_of}:", file=out)
        for problem in answer.problems:
            print(f"  {problem}", file=out)
        return
    proof = (
        "the fewest possible"
        if answer.optimal
        else f"at least {answer.min_vendors_bound} needed ({answer.method}, not proven best)"
    )
    budget = f" of a ${answer.monthly_budget_usd:,.0f} budget" if answer.monthly_budget_usd else ""
    count = f"{len(answer.vendors)} vendor{'' if len(answer.vendors) == 1 else 's'}"
    print(
        f"{lab}: {count} ({proof}) of {answer.eligible_vendors} eligible, "
        f"${answer.monthly_cost_usd:,.0f} a month{budget}, as of {answer.as_of}",
        file=out,
    )
    print_table(
        ("vendor", "neutrality", "work a month", "$ a month", "ultimate owner"),
        (
            (
                _short(v.vendor),
                v.neutrality_score,
                ", ".join(
                    f"{a.monthly_units:,} {_modality(a.modality)} at ${a.unit_price_usd:g}"
                    for a in v.allocations
                ),
                f"{v.monthly_cost_usd:,.0f}",
                _short(v.ultimate_owner),
            )
            for v in answer.vendors
        ),
        out,
        right=("neutrality", "$ a month"),
    )
    shares = ", ".join(f"{_short(s.owner)} {s.share:.0%}" for s in answer.owner_shares)
    print(f"work by ultimate owner: {shares}", file=out)
    if answer.shared_owners:
        print(f"note: {answer.shared_owners} members share an owner with another member", file=out)


def _short(name: str) -> str:
    return OrganizationName.trusted(name).id


def _modality(value: int) -> str:
    return common_pb2.Modality.Name(value).removeprefix("MODALITY_").lower()
