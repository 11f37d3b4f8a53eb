"""BodsService: BODS statements in and out of the catalog. Proto <-> ``dpm.catalog.bods``.

Import needs the admin token; the whole call is one write transaction (or a
rolled-back one with validate_only). Export needs any token; it reads the
graph in one read transaction, then streams the statements.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Iterator

import grpc

from dpm.catalog.bods import export, importer
from dpm.catalog.bods.importer import ImportResult
from dpm.catalog.bods.reading import MAX_STATEMENT_BYTES
from dpm.catalog.v1 import bods_pb2, bods_pb2_grpc
from dpm.platform.auth import current_principal, require_admin
from dpm.platform.dates import parse_date
from dpm.platform.db import Database
from dpm.platform.errors import Aborted, InvalidArgument
from dpm.platform.telemetry import ledger_events

log = logging.getLogger(__name__)

MAX_STATEMENTS_PER_CALL = 100_000
MAX_BYTES_PER_CALL = 256 << 20
# An export message carries at most this many statements, or about this many bytes.
EXPORT_BATCH = 500
EXPORT_BATCH_BYTES = 1 << 20
ERROR_ID_LIMIT = 64


class _DryRun(Exception):
    """Raised inside the write transaction of a validate_only call: roll it back."""

    def __init__(self, result: ImportResult) -> None:
        super().__init__("validate_only")
        self.result = result


class BodsServicer(bods_pb2_grpc.BodsServiceServicer):
    def __init__(self, database: Database, on_commit: Callable[[], None] = lambda: None) -> None:
        self._database = database
        # Called after a commit that added outbox rows (wakes the relay).
        self._on_commit = on_commit

    def ImportBodsStatements(
        self,
        request_iterator: Iterable[bods_pb2.ImportBodsStatementsRequest],
        context: grpc.ServicerContext,
    ) -> bods_pb2.ImportBodsStatementsResponse:
        require_admin()
        texts, validate_only, sources = _receive(request_iterator)
        try:
            with self._database.write() as session:
                result = importer.import_statements(session, texts)
                if validate_only:
                    raise _DryRun(result)
                if not context.is_active():
                    raise Aborted(
                        "the caller went away before the import committed; nothing was written"
                    )
        except _DryRun as dry:
            result = dry.result
        else:
            self._on_commit()
            ledger_events.add(result.events_recorded)
        log.info(
            "BODS import from %s: %d statements, %d refused, %d events, graph version %d%s",
            ", ".join(sorted(sources)[:3]) or "a client",
            result.received,
            len(result.errors),
            result.events_recorded,
            result.graph_version,
            " (validate only)" if validate_only else "",
        )
        return _to_proto(result, validate_only)

    def ExportBodsStatements(
        self, request: bods_pb2.ExportBodsStatementsRequest, context: grpc.ServicerContext
    ) -> Iterator[bods_pb2.ExportBodsStatementsResponse]:
        current_principal()
        as_of = parse_date(request.as_of, "as_of")
        with self._database.read() as session:
            snap = export.snapshot(session, as_of)
        reply = bods_pb2.ExportBodsStatementsResponse(
            graph_version=snap.version, as_of=as_of.isoformat()
        )
        size = 0
        for statement in export.statements(snap):
            text = json.dumps(statement, ensure_ascii=False, separators=(",", ":"))
            if reply.statements and (
                len(reply.statements) >= EXPORT_BATCH or size + len(text) > EXPORT_BATCH_BYTES
            ):
                yield reply
                reply = bods_pb2.ExportBodsStatementsResponse(
                    graph_version=snap.version, as_of=as_of.isoformat()
                )
                size = 0
            reply.statements.append(text)
            size += len(text)
        yield reply


def _receive(
    requests: Iterable[bods_pb2.ImportBodsStatementsRequest],
) -> tuple[list[str], bool, set[str]]:
    """Every statement of the call, within the call's bounds; validate_only; source names."""
    texts: list[str] = []
    sources: set[str] = set()
    validate_only: bool | None = None
    try:
        received = list(_bounded(requests))
    except grpc.RpcError:  # the client cancelled or broke the stream
        raise Aborted("the call ended before its last statement; nothing was imported") from None
    for request in received:
        if validate_only is None:
            validate_only = request.validate_only
        if request.source_name:
            sources.add(request.source_name[:200])
        texts.extend(request.statements)
    return texts, bool(validate_only), sources


def _bounded(
    requests: Iterable[bods_pb2.ImportBodsStatementsRequest],
) -> Iterator[bods_pb2.ImportBodsStatementsRequest]:
    """The requests, refusing the call as soon as it goes past the call's bounds."""
    count = total = 0
    for request in requests:
        count += len(request.statements)
        # Characters bound the bytes from below; the exact per-statement check is the reader's.
        total += sum(min(len(t), MAX_STATEMENT_BYTES + 1) for t in request.statements)
        if count > MAX_STATEMENTS_PER_CALL:
            raise InvalidArgument.one(
                "statements",
                f"more than {MAX_STATEMENTS_PER_CALL} statements in one call; "
                "send the rest in another call (a file is never split across calls)",
            )
        if total > MAX_BYTES_PER_CALL:
            raise InvalidArgument.one(
                "statements",
                f"more than {MAX_BYTES_PER_CALL >> 20} MiB of statements in one call; "
                "send the rest in another call",
            )
        yield request


def _to_proto(result: ImportResult, validate_only: bool) -> bods_pb2.ImportBodsStatementsResponse:
    return bods_pb2.ImportBodsStatementsResponse(
        statements_received=result.received,
        statements_imported=result.imported,
        statements_unchanged=result.unchanged,
        statements_without_effect=result.without_effect,
        indirect_summaries_skipped=result.summaries,
        organizations_created=result.organizations_created,
        persons_created=result.persons_created,
        organizations_updated=result.organizations_updated,
        events_recorded=result.events_recorded,
        errors=[
            bods_pb2.StatementError(
                statement_id=_short(e.statement_id),
                index=e.index,
                field=e.field,
                reason=e.reason,
            )
            for e in result.errors
        ],
        graph_version=result.graph_version,
        created=[
            bods_pb2.ImportedParty(name=o.name, display_name=o.display_name, kind=o.kind)
            for o in result.created
        ],
        validate_only=validate_only,
    )


def _short(statement_id: str) -> str:
    return (
        statement_id
        if len(statement_id) <= ERROR_ID_LIMIT
        else statement_id[: ERROR_ID_LIMIT - 1] + "…"
    )
