"""`dpmatch watch LAB`: a lab's recommendations as they change (running stack).

    dpmatch watch google              # until Ctrl-C
    dpmatch watch google --count 2 --json

Prints the current set, then each newer one with what entered, left or moved and
why. The server ends a stream after some minutes; the watch calls again and skips
the set it has already shown.
"""

from __future__ import annotations

import json
import sys
from typing import TextIO

import grpc
from google.protobuf import json_format

from dpm.cli.simulate import describe_change
from dpm.cli.stackfile import Stack
from dpm.cli.tables import refused
from dpm.matching.v1 import matching_pb2, matching_pb2_grpc
from dpm.matching.what_if import compare
from dpm.platform.names import ClientName, OrganizationName

# A stream call's deadline: the server ends streams well before it.
STREAM_SECONDS = 24 * 3600.0
SHOWN = 5


def watch(
    stack: Stack,
    lab: str,
    count: int,
    as_json: bool,
    out: TextIO = sys.stdout,
    err: TextIO = sys.stderr,
) -> int:
    """Show sets until ``count`` have been shown (0: until interrupted)."""
    request = matching_pb2.WatchRecommendationsRequest(name=f"{ClientName(lab)}/recommendations")
    shown = 0
    last: matching_pb2.RecommendationSet | None = None
    with stack.channel("matching", stack.client_tokens.get(lab) or None) as channel:
        stub = matching_pb2_grpc.MatchingServiceStub(channel)
        try:
            while True:
                for rec in stub.WatchRecommendations(request, timeout=STREAM_SECONDS):
                    if last is not None and rec.versions == last.versions:
                        continue  # the first set of a new stream, already shown
                    _show(rec, last, as_json, out)
                    last, shown = rec, shown + 1
                    if count and shown >= count:
                        return 0
        except grpc.RpcError as exc:
            return refused("watch", exc, err)
        except KeyboardInterrupt:
            return 0


def _show(
    rec: matching_pb2.RecommendationSet,
    before: matching_pb2.RecommendationSet | None,
    as_json: bool,
    out: TextIO,
) -> None:
    if as_json:
        print(json.dumps(json_format.MessageToDict(rec)), file=out, flush=True)
        return
    v = rec.versions
    top = ", ".join(OrganizationName.trusted(r.vendor).id for r in rec.ranked[:SHOWN])
    print(
        f"graph v{v.graph_version}, catalog v{v.catalog_version}, requirements "
        f"r{v.requirements_revision} (as of {rec.as_of}): {rec.ranked_total} ranked, "
        f"{rec.excluded_total} excluded; best: {top}",
        file=out,
    )
    for change in compare(before, rec) if before is not None else []:
        print(f"  {describe_change(change)}", file=out)
    out.flush()
