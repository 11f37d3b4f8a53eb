"""`dpmatch recommendations LAB` and `dpmatch explain LAB VENDOR`: read the running stack
with the lab's own token, as a person would without a gRPC tool."""

from __future__ import annotations

import json

from google.protobuf import json_format

from dpm.cli.demo import VERDICT, print_excluded, print_ranked, recommendations
from dpm.cli.stackfile import Stack
from dpm.matching.v1 import matching_pb2
from dpm.neutrality.v1 import neutrality_pb2, neutrality_pb2_grpc
from dpm.platform.dates import today
from dpm.platform.names import ClientName, OrganizationName
from dpm.requirements.v1 import requirements_pb2, requirements_pb2_grpc


def _token(stack: Stack, lab: str) -> str:
    if lab not in stack.client_tokens:
        known = ", ".join(sorted(stack.client_tokens)) or "none (run `dpmatch seed`)"
        raise SystemExit(f"dpmatch: no token for lab {lab!r}; known labs: {known}")
    return stack.client_tokens[lab]


def show_recommendations(stack: Stack, lab: str, limit: int, as_json: bool = False) -> None:
    _token(stack, lab)
    rec = recommendations(stack, lab)
    if as_json:
        print(json.dumps(json_format.MessageToDict(rec)))
        return
    print(f"{lab}: {len(rec.ranked)} recommended, {len(rec.excluded)} excluded")
    print_ranked(rec, limit)
    print("  excluded:")
    print_excluded(rec, set(matching_pb2.ExclusionKind.values()))


def _figure(figure: neutrality_pb2.Figure) -> str:
    if abs(figure.upper - figure.lower) < 5e-7:
        return f"{figure.value:.1%}"
    return f"{figure.value:.1%} (between {figure.lower:.1%} and {figure.upper:.1%})"


def evaluation_date(stack: Stack, lab: str) -> str:
    """The date the lab's recommendations are computed as of: its policy's pinned date, or today."""
    with stack.channel("requirements", _token(stack, lab)) as channel:
        client = requirements_pb2_grpc.RequirementsServiceStub(channel).GetClient(
            requirements_pb2.GetClientRequest(name=str(ClientName(lab)))
        )
    return client.neutrality_policy.as_of or today().isoformat()


def explain(stack: Stack, lab: str, vendor: str, as_of: str = "", as_json: bool = False) -> None:
    """Print every figure of ``vendor`` for ``lab`` as of ``as_of`` (default: the date the
    lab's recommendations use: its policy's pinned date, else today, UTC); ``as_json``:
    the neutrality answer as JSON, with its graph version and date."""
    as_of = as_of or evaluation_date(stack, lab)
    with stack.channel("neutrality", _token(stack, lab)) as channel:
        reply = neutrality_pb2_grpc.NeutralityServiceStub(channel).ScoreVendors(
            neutrality_pb2.ScoreVendorsRequest(
                client=str(ClientName(lab)), vendors=[str(OrganizationName(vendor))], as_of=as_of
            )
        )
    if as_json:
        print(json.dumps(json_format.MessageToDict(reply)))
        return
    (scored,) = reply.vendors
    print(
        f"{vendor} for {lab}: {VERDICT.get(scored.verdict, '?')}, neutrality score "
        f"{scored.score}/100 (graph v{reply.graph_version}, as of {reply.as_of})"
    )
    print(f"  unknown ownership: {_figure(scored.unknown_ownership)}")
    for exposure in scored.exposures:
        name = OrganizationName.trusted(exposure.competitor).id
        if exposure.is_competitor:
            print(f"  {name}: is the vendor itself")
            continue
        print(
            f"  {name}: look-through equity {_figure(exposure.look_through_equity)}, "
            f"look-through votes {_figure(exposure.look_through_votes)}, "
            f"directed votes {_figure(exposure.directed_votes)}, "
            f"weakest link {_figure(exposure.weakest_link)}"
            + (f", wedge {exposure.wedge:.2f}" if exposure.HasField("wedge") else "")
            + (
                f", voting power {_figure(exposure.voting_power.banzhaf_index)}"
                if exposure.HasField("voting_power")
                else ""
            )
        )
        if exposure.controls:
            path = " → ".join(OrganizationName.trusted(o).id for o in exposure.control_path)
            print(f"      controlled by {name} ({path})")
        elif exposure.could_control:
            print(f"      could be controlled by {name}")
        if exposure.undisclosed_stake:
            print("      undisclosed stake on a chain")
        for chain in exposure.top_chains:
            path = " → ".join(OrganizationName.trusted(o).id for o in chain.organizations)
            print(f"      {path}: equity {chain.equity:.1%}, weakest link {chain.weakest_link:.1%}")
    if scored.HasField("restricted_parties"):
        r = scored.restricted_parties
        state = "not blocked"
        if r.blocked or r.could_be_blocked:
            state = "BLOCKED" if r.blocked else "could be blocked"
        print(
            f"  restricted parties: {state}, aggregate blocked share "
            f"{_figure(r.aggregate_blocked_share)}"
        )
    for problem in scored.graph_problems:
        print(f"  ! {problem.description}")
    for reason in scored.reasons:
        print(f"  - {reason}")
