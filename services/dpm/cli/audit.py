"""`dpmatch audit [--service catalog|requirements] [--limit N] [--subject S] [--method M]`:
the newest write calls of the running stack, accepted or refused (admin token).

Each server that owns data keeps the audit log of its own writes; without
``--service`` both are read and merged, newest first.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from typing import TextIO

import grpc
from google.protobuf import json_format

from dpm.audit.v1 import audit_pb2, audit_pb2_grpc
from dpm.cli.stackfile import Stack
from dpm.cli.tables import print_table

SERVERS = ("catalog", "requirements")


def read(
    stack: Stack, service: str, limit: int, subject: str = "", method: str = ""
) -> list[audit_pb2.AuditEntry]:
    """Up to ``limit`` of ``service``'s newest entries matching the filters."""
    entries: list[audit_pb2.AuditEntry] = []
    with stack.channel(service) as channel:
        stub = audit_pb2_grpc.AuditServiceStub(channel)
        page_token = ""
        while len(entries) < limit:
            reply = stub.ListAuditEntries(
                audit_pb2.ListAuditEntriesRequest(
                    page_size=min(limit - len(entries), 1000),
                    page_token=page_token,
                    subject=subject,
                    method=method,
                )
            )
            entries.extend(reply.audit_entries)
            page_token = reply.next_page_token
            if not page_token:
                break
    return entries[:limit]


def _rows(merged: Iterable[tuple[str, audit_pb2.AuditEntry]]) -> list[tuple[str, ...]]:
    rows: list[tuple[str, ...]] = []
    for service, entry in merged:
        rows.append(
            (
                entry.time.ToDatetime().strftime("%Y-%m-%d %H:%M:%S"),
                service,
                entry.code,
                f"{entry.role or '-'}:{entry.subject or '-'}",
                entry.method.rpartition("/")[2],
                entry.resource or "-",
                entry.peer,
            )
        )
    return rows


def show(
    stack: Stack,
    service: str | None,
    limit: int,
    subject: str = "",
    method: str = "",
    out: TextIO = sys.stdout,
    err: TextIO = sys.stderr,
    *,
    as_json: bool = False,
) -> int:
    merged: list[tuple[str, audit_pb2.AuditEntry]] = []
    for name in [service] if service else SERVERS:
        try:
            merged += [(name, e) for e in read(stack, name, limit, subject, method)]
        except grpc.RpcError as exc:
            print(f"dpmatch: audit of {name} failed: {exc.code().name}: {exc.details()}", file=err)
            return 2
    merged.sort(key=lambda item: item[1].time.ToNanoseconds(), reverse=True)
    if as_json:  # one entry per line, newest first, with the server that logged it
        for name, entry in merged[:limit]:
            print(json.dumps({"server": name, **json_format.MessageToDict(entry)}), file=out)
        return 0
    rows = _rows(merged[:limit])
    header = ("time (UTC)", "server", "outcome", "who", "method", "resource", "from")
    print_table(header, rows, out)
    if not rows:
        print("(no write calls recorded)", file=out)
    return 0
