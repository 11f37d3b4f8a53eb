"""`dpmatch recommendations LAB` and `dpmatch explain LAB VENDOR`: read the running stack
with the lab's own token, as a person would without a gRPC tool."""

from __future__ import annotations

from dpm.cli.demo import VERDICT, print_excluded, print_ranked, recommendations
from dpm.cli.stackfile import Stack
from dpm.matching.v1 import matching_pb2
from dpm.neutrality.v1 import neutrality_pb2, neutrality_pb2_grpc
from dpm.platform.names import ClientName, OrganizationName


def _token(stack: Stack, lab: str) -> str:
    if lab not in stack.client_tokens:
        known = ", ".join(sorted(stack.client_tokens)) or "none (run `dpmatch seed`)"
        raise SystemExit(f"dpmatch: no token for lab {lab!r}; known labs: {known}")
    return stack.client_tokens[lab]


def show_recommendations(stack: Stack, lab: str, limit: int) -> None:
    _token(stack, lab)
    rec = recommendations(stack, lab)
    print(f"{lab}: {len(rec.ranked)} recommended, {len(rec.excluded)} excluded")
    print_ranked(rec, limit)
    print("  excluded:")
    print_excluded(rec, set(matching_pb2.ExclusionKind.values()))


def explain(stack: Stack, lab: str, vendor: str) -> None:
    with stack.channel("neutrality", _token(stack, lab)) as channel:
        reply = neutrality_pb2_grpc.NeutralityServiceStub(channel).ScoreVendors(
            neutrality_pb2.ScoreVendorsRequest(
                client=str(ClientName(lab)), vendors=[str(OrganizationName(vendor))]
            )
        )
    (scored,) = reply.vendors
    print(
        f"{vendor} for {lab}: {VERDICT.get(scored.verdict, '?')}, neutrality score "
        f"{scored.score}/100 (graph v{reply.graph_version}, as of {reply.as_of})"
    )
    for exposure in scored.exposures:
        print(
            f"  {OrganizationName.trusted(exposure.competitor).id}: "
            f"{exposure.integrated_equity:.1%} of the equity, "
            f"{exposure.integrated_voting:.1%} of the votes"
            + (", controls it" if exposure.controls else "")
            + (", undisclosed stake on a chain" if exposure.undisclosed_stake else "")
        )
        for chain in exposure.top_chains:
            path = " → ".join(OrganizationName.trusted(o).id for o in chain.organizations)
            print(f"      {path} ({chain.equity:.1%})")
    for reason in scored.reasons:
        print(f"  - {reason}")
