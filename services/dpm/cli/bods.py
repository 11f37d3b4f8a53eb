"""`dpmatch import-bods FILE|DIR` and `dpmatch export-bods --as-of DATE [FILE]`, against the
running stack (the catalog's BodsService, admin token from the stack file).

A file may be a JSON array of statements, one statement, or JSON Lines; a
directory is every *.json and *.jsonl under it, in name order. All files go
in one call (so statements may refer to each other across files) unless
they hold more than one call takes; a file is never split across calls.
What cannot be sent at all (a file that is not JSON, a statement over the
size bound) is reported here, in the same form as the catalog's errors.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

import grpc

from dpm.catalog.v1 import bods_pb2, bods_pb2_grpc, catalog_pb2
from dpm.cli.stackfile import Stack
from dpm.cli.tables import progress
from dpm.platform.names import OrganizationName

MAX_STATEMENT_BYTES = 1 << 20
MAX_STATEMENTS_PER_CALL = 100_000
MAX_BYTES_PER_CALL = 200 << 20
MESSAGE_STATEMENTS = 1000
MESSAGE_BYTES = 2 << 20
CALL_TIMEOUT_SECONDS = 3600.0
SHOWN_CREATED = 10


@dataclass(frozen=True)
class Item:
    """One statement to send, and where it comes from."""

    file: str
    position: int
    text: str


@dataclass(frozen=True)
class Problem:
    """A statement (or file) that was refused, here or by the catalog."""

    file: str
    position: int | None
    statement_id: str
    field: str
    reason: str

    def line(self) -> str:
        where = self.file if self.position is None else f"{self.file} #{self.position}"
        who = f" (statement {self.statement_id})" if self.statement_id else ""
        what = f"{self.field}: " if self.field else ""
        return f"{where}{who}: {what}{self.reason}"


@dataclass
class FileBatch:
    label: str
    items: list[Item] = field(default_factory=list)
    size: int = 0


def files_of(target: Path) -> list[Path]:
    if target.is_dir():
        return sorted(
            p for p in target.rglob("*") if p.suffix in (".json", ".jsonl") and p.is_file()
        )
    return [target]


def read_file(path: Path, label: str) -> tuple[FileBatch, list[Problem]]:
    """The statements of one file as JSON texts, and what cannot be sent."""
    batch = FileBatch(label)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        return batch, [Problem(label, None, "", "", "is not UTF-8 text")]
    except OSError as exc:
        return batch, [Problem(label, None, "", "", f"cannot be read: {exc.strerror}")]
    raw: list[str]
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        if text.lstrip().startswith("[") or "\n" not in text.strip():
            reason = f"is not JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
            return batch, [Problem(label, None, "", "", reason)]
        raw = [line for line in text.splitlines() if line.strip()]  # JSON Lines
    except RecursionError:
        return batch, [Problem(label, None, "", "", "is nested too deeply")]
    else:
        items = data if isinstance(data, list) else [data]
        raw = [json.dumps(item, ensure_ascii=False) for item in items]
    problems = []
    for position, statement in enumerate(raw):
        size = len(statement.encode("utf-8", errors="replace"))
        if size > MAX_STATEMENT_BYTES:
            problems.append(
                Problem(
                    label,
                    position,
                    _statement_id(statement),
                    "",
                    f"is {size / (1 << 20):.1f} MiB, more than the 1 MiB a statement may have",
                )
            )
            continue
        batch.items.append(Item(label, position, statement))
        batch.size += size
    return batch, problems


def calls_of(batches: list[FileBatch]) -> tuple[list[list[FileBatch]], list[Problem]]:
    """Files grouped into calls within the call bounds; files too big for any call."""
    calls: list[list[FileBatch]] = []
    problems: list[Problem] = []
    current: list[FileBatch] = []
    count = size = 0
    for batch in batches:
        if len(batch.items) > MAX_STATEMENTS_PER_CALL or batch.size > MAX_BYTES_PER_CALL:
            problems.append(
                Problem(
                    batch.label,
                    None,
                    "",
                    "",
                    f"holds more than one import takes ({MAX_STATEMENTS_PER_CALL} statements, "
                    f"{MAX_BYTES_PER_CALL >> 20} MiB); split it",
                )
            )
            continue
        if current and (
            count + len(batch.items) > MAX_STATEMENTS_PER_CALL
            or size + batch.size > MAX_BYTES_PER_CALL
        ):
            calls.append(current)
            current, count, size = [], 0, 0
        current.append(batch)
        count += len(batch.items)
        size += batch.size
    if current:
        calls.append(current)
    return calls, problems


def requests_of(
    items: list[Item], validate_only: bool
) -> Iterator[bods_pb2.ImportBodsStatementsRequest]:
    request = bods_pb2.ImportBodsStatementsRequest(validate_only=validate_only)
    size = 0
    for item in items:
        if request.statements and (
            len(request.statements) >= MESSAGE_STATEMENTS or size + len(item.text) > MESSAGE_BYTES
        ):
            yield request
            request = bods_pb2.ImportBodsStatementsRequest(validate_only=validate_only)
            size = 0
        if not request.source_name:
            request.source_name = item.file
        request.statements.append(item.text)
        size += len(item.text)
    yield request


@dataclass
class Totals:
    received: int = 0
    imported: int = 0
    unchanged: int = 0
    without_effect: int = 0
    summaries: int = 0
    organizations: int = 0
    persons: int = 0
    updated: int = 0
    events: int = 0
    graph_version: int = 0
    created: list[bods_pb2.ImportedParty] = field(default_factory=list)

    def add(self, reply: bods_pb2.ImportBodsStatementsResponse) -> None:
        self.received += reply.statements_received
        self.imported += reply.statements_imported
        self.unchanged += reply.statements_unchanged
        self.without_effect += reply.statements_without_effect
        self.summaries += reply.indirect_summaries_skipped
        self.organizations += reply.organizations_created
        self.persons += reply.persons_created
        self.updated += reply.organizations_updated
        self.events += reply.events_recorded
        self.graph_version = reply.graph_version
        self.created += reply.created


def import_paths(
    stack: Stack, target: Path, validate_only: bool = False, out: TextIO = sys.stdout
) -> int:
    """Import a file or directory; print counts and one line per refused statement."""
    if not target.exists():
        raise SystemExit(f"dpmatch: {target} does not exist")
    base = target if target.is_dir() else target.parent
    batches: list[FileBatch] = []
    problems: list[Problem] = []
    paths = files_of(target)
    for path in paths:
        batch, found = read_file(path, str(path.relative_to(base)))
        batches.append(batch)
        problems += found
    calls, too_big = calls_of(batches)
    problems += too_big
    totals = Totals()
    with stack.channel("catalog") as channel:
        stub = bods_pb2_grpc.BodsServiceStub(channel)
        for call in progress(calls, "importing"):
            items = [item for batch in call for item in batch.items]
            try:
                reply = stub.ImportBodsStatements(
                    requests_of(items, validate_only),
                    timeout=CALL_TIMEOUT_SECONDS,
                    metadata=[("authorization", f"Bearer {stack.admin_token}")],
                )
            except grpc.RpcError as exc:
                print(f"dpmatch: import failed: {exc.code().name}: {exc.details()}", file=out)
                return 2
            totals.add(reply)
            for error in reply.errors:
                item = items[error.index] if 0 <= error.index < len(items) else None
                problems.append(
                    Problem(
                        item.file if item else "?",
                        item.position if item else error.index,
                        error.statement_id,
                        error.field,
                        error.reason,
                    )
                )
    _print_import(target, len(paths), totals, problems, validate_only, out)
    return 1 if problems else 0


def _print_import(
    target: Path,
    files: int,
    totals: Totals,
    problems: list[Problem],
    validate_only: bool,
    out: TextIO,
) -> None:
    def say(text: str) -> None:
        print(text, file=out)

    verb = "would import" if validate_only else "imported"
    say(f"{target}: {files} file{'s' if files != 1 else ''}, {totals.received} statements")
    say(
        f"  {verb} {totals.imported} statements: {totals.unchanged} already imported, "
        f"{totals.without_effect} without effect, "
        f"{totals.summaries} indirect summaries of known chains skipped"
    )
    say(
        f"  organizations created: {totals.organizations}, persons created: {totals.persons}, "
        f"updated: {totals.updated}"
    )
    say(f"  ownership events recorded: {totals.events}; graph version {totals.graph_version}")
    if validate_only:
        say("  (validate only: nothing was written)")
    if totals.created:
        say("  created, e.g.:")
        for party in totals.created[:SHOWN_CREATED]:
            kind = "person" if party.kind == catalog_pb2.ORGANIZATION_KIND_PERSON else "entity"
            say(f"    {OrganizationName.trusted(party.name).id}  {party.display_name} ({kind})")
        example = next(
            (p for p in totals.created if p.kind != catalog_pb2.ORGANIZATION_KIND_PERSON),
            None,
        )
        if example is not None and not validate_only:
            org_id = OrganizationName.trusted(example.name).id
            say(f"  next: dpmatch explain <lab> {org_id}   (e.g. dpmatch explain google {org_id})")
    problems = sorted(problems, key=lambda p: (p.file, -1 if p.position is None else p.position))
    if problems:
        say(f"  refused ({len(problems)}; nothing of them was written):")
        for problem in problems:
            say(f"    {problem.line()}")
    else:
        say("  refused: none")


def export_to(stack: Stack, as_of: str, path: Path | None, out: TextIO = sys.stdout) -> int:
    """Write the graph as of ``as_of`` as a JSON array of BODS 0.4 statements."""
    day = as_of or dt.date.today().isoformat()
    count = 0
    version = 0
    target: TextIO = path.open("w", encoding="utf-8") if path else out
    try:
        with stack.channel("catalog") as channel:
            stub = bods_pb2_grpc.BodsServiceStub(channel)
            try:
                replies = stub.ExportBodsStatements(
                    bods_pb2.ExportBodsStatementsRequest(as_of=day),
                    timeout=CALL_TIMEOUT_SECONDS,
                )
                target.write("[")
                for reply in replies:
                    version = reply.graph_version
                    for text in reply.statements:
                        target.write(",\n" if count else "\n")
                        target.write(text)
                        count += 1
                target.write("\n]\n")
            except grpc.RpcError as exc:
                print(
                    f"dpmatch: export failed: {exc.code().name}: {exc.details()}", file=sys.stderr
                )
                return 2
    finally:
        if path:
            target.close()
    if path:
        print(
            f"wrote {count} BODS 0.4 statements (graph version {version}, as of {day}) to {path}",
            file=out,
        )
    return 0


def _statement_id(text: str) -> str:
    for key in ('"statementId"', '"statementID"'):
        at = text.find(key, 0, 4096)
        if at >= 0:
            rest = text[at + len(key) : at + len(key) + 200].lstrip(" :")
            if rest.startswith('"'):
                return rest[1:].split('"', 1)[0][:64]
    return ""
