"""`dpmatch simulate`: what an ownership event would change in labs' recommendations,
recorded nowhere (running stack).

    dpmatch simulate --stake meta labelbox 0.3 --lab google
    dpmatch simulate --event event.json --json

``--stake HOLDER HELD EQUITY`` builds a stake acquisition (``--voting``, ``--date``);
``--event`` reads any event as the API's JSON. With ``--lab`` the lab's own token asks
for that lab; without, the admin's asks for every lab the event can affect.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TextIO

import grpc
from google.protobuf import json_format

from dpm.cli.stackfile import Stack
from dpm.cli.tables import refused
from dpm.matching.v1 import matching_pb2, matching_pb2_grpc
from dpm.ownership.v1 import ownership_pb2
from dpm.platform.dates import today
from dpm.platform.names import ClientName, OrganizationName

KIND = {
    matching_pb2.CHANGE_KIND_ENTERED: "enters",
    matching_pb2.CHANGE_KIND_LEFT: "leaves",
    matching_pb2.CHANGE_KIND_MOVED: "moves",
}


def stake_event(
    holder: str, held: str, equity: float, voting: float | None, date: str
) -> ownership_pb2.OwnershipEvent:
    event = ownership_pb2.OwnershipEvent(
        event_id=f"what-if-{holder}-{held}", effective_date=date or today().isoformat()
    )
    change = event.stake_acquired
    change.holder, change.held = str(OrganizationName(holder)), str(OrganizationName(held))
    change.equity_fraction = equity
    if voting is not None:
        change.voting_fraction = voting
    return event


def event_from_file(path: Path) -> ownership_pb2.OwnershipEvent:
    return json_format.Parse(path.read_text(), ownership_pb2.OwnershipEvent())


def simulate(
    stack: Stack,
    event: ownership_pb2.OwnershipEvent,
    labs: list[str],
    as_of: str,
    as_json: bool,
    out: TextIO = sys.stdout,
    err: TextIO = sys.stderr,
) -> int:
    token = stack.client_tokens.get(labs[0], "") if len(labs) == 1 else ""
    request = matching_pb2.SimulateEventRequest(
        event=event, clients=[str(ClientName(lab)) for lab in labs], as_of=as_of
    )
    with stack.channel("matching", token or None) as channel:
        try:
            answer = matching_pb2_grpc.MatchingServiceStub(channel).SimulateEvent(request)
        except grpc.RpcError as exc:
            return refused("simulate", exc, err)
    if as_json:
        print(json.dumps(json_format.MessageToDict(answer)), file=out)
        return 0
    print(
        f"as of {answer.as_of}, the event would be graph version {answer.graph_version}; "
        f"{len(answer.impacts)} of {answer.clients_considered} labs would see a change",
        file=out,
    )
    for impact in answer.impacts:
        print(f"{ClientName.trusted(impact.client).id}:", file=out)
        for change in impact.changes:
            print(f"  {describe_change(change)}", file=out)
    return 0


def describe_change(change: matching_pb2.VendorChange) -> str:
    vendor = OrganizationName.trusted(change.vendor).id
    ranks = f"rank {change.rank_before or '-'} -> {change.rank_after or '-'}"
    scores = (
        f"neutrality {change.neutrality_score_before or '-'} -> "
        f"{change.neutrality_score_after or '-'}"
    )
    why = "; ".join(r.message for r in change.reasons)
    return f"{vendor} {KIND.get(change.kind, '?')} ({ranks}, {scores})" + (
        f": {why}" if why else ""
    )
