"""`dpmatch concentration`: where a lab's data work flows, by owner and competitor (running stack).

    dpmatch concentration google surge-ai=40000 mercor=30000 labelbox=10000
    dpmatch concentration google labelbox=10000 mercor=5000 --stake meta labelbox 0.3

Each VENDOR=UNITS is a vendor the lab uses and the units of work it takes a month.
``--stake`` (or ``--event FILE``) adds the same shares as if that event were
recorded; nothing is. The lab's own token when this machine holds one.
"""

from __future__ import annotations

import json
import sys
from typing import TextIO

import grpc
from google.protobuf import json_format

from dpm.cli.stackfile import Stack
from dpm.cli.tables import refused
from dpm.matching.v1 import matching_pb2, matching_pb2_grpc
from dpm.ownership.v1 import ownership_pb2
from dpm.platform.names import ClientName, OrganizationName


def parse_work(items: list[str]) -> list[matching_pb2.VendorWork]:
    """VENDOR=UNITS pairs; SystemExit naming the first bad one."""
    work = []
    for item in items:
        vendor, _, units = item.partition("=")
        try:
            work.append(
                matching_pb2.VendorWork(
                    vendor=str(OrganizationName(vendor)), monthly_units=int(units)
                )
            )
        except ValueError:
            raise SystemExit(
                f"dpmatch concentration: {item!r} is not VENDOR=UNITS (e.g. mercor=30000)"
            ) from None
    return work


def concentration(
    stack: Stack,
    lab: str,
    work: list[matching_pb2.VendorWork],
    event: ownership_pb2.OwnershipEvent | None,
    as_of: str,
    as_json: bool,
    out: TextIO = sys.stdout,
    err: TextIO = sys.stderr,
) -> int:
    request = matching_pb2.AnalyzeConcentrationRequest(
        client=str(ClientName(lab)), work=work, as_of=as_of, what_if=event
    )
    with stack.channel("matching", stack.client_tokens.get(lab) or None) as channel:
        try:
            report = matching_pb2_grpc.MatchingServiceStub(channel).AnalyzeConcentration(request)
        except grpc.RpcError as exc:
            return refused("concentration", exc, err)
    if as_json:
        print(json.dumps(json_format.MessageToDict(report)), file=out)
        return 0
    print(f"{lab}'s work as of {report.as_of} (graph version {report.graph_version}):", file=out)
    for line in describe(report.current):
        print(f"  {line}", file=out)
    if report.HasField("after_event"):
        print("after the event (not recorded):", file=out)
        for line in describe(report.after_event):
            print(f"  {line}", file=out)
    return 0


def describe(c: matching_pb2.Concentration) -> list[str]:
    owners = ", ".join(f"{_short(o.owner)} {o.share:.0%}" for o in c.owners)
    lines = [f"by ultimate owner: {owners} (HHI {c.hhi:,.0f})"]
    for reach in c.competitors:
        vendors = ", ".join(_short(v) for v in reach.vendors)
        lines.append(
            f"competitor {_short(reach.competitor)}: controls {reach.controlled_share:.0%} "
            f"of the work, economic interest {reach.economic_share:.1%} (through {vendors})"
        )
    if not c.competitors:
        lines.append("no competitor of the lab's policy holds a stake in these vendors")
    return lines


def _short(name: str) -> str:
    return OrganizationName.trusted(name).id
