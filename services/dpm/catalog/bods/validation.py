"""Checks across the statements of one import: duplicates, records, references, cycles.

Pure apart from ``Parties``, which says what the catalog already holds (so
a statement may refer to a record imported by an earlier call). Each check
refuses a statement with a ``Rejection`` (index, id, field, reason); a
relationship that refers to a refused record is refused too, naming it.

- Duplicates: one statement id used twice. The same meaning twice (perhaps
  with more metadata the second time) is one statement published twice: the
  first copy is kept. A different meaning is refused: ids are globally unique.
- Records: a record keeps one type (entity, person, relationship). A BODS 0.3
  statement that replaces another joins the record of the one it replaces.
- References: a relationship's subject and interested party must name an
  entity or person of this call or of the catalog; the subject an entity;
  the two must differ.
- Cycles: componentRecords (0.3 componentStatementIDs) that lead back to the
  statement that lists them, and replacesStatements that do, are refused
  for every statement on the cycle.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from dpm.catalog.bods.ids import party_slug
from dpm.catalog.bods.model import RecordType, Ref, Statement


@dataclass(frozen=True)
class Rejection:
    index: int
    statement_id: str
    field: str
    reason: str


# What the catalog holds under a party's slug: ENTITY, PERSON, or None when nothing.
Parties = Callable[[str], RecordType | None]


@dataclass
class Checked:
    # The good statements, in call order; references name record ids.
    statements: list[Statement] = field(default_factory=list)
    # Indexes of statements that repeat an earlier one of the call (skipped, not errors).
    duplicates: list[int] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)
    # Type of every record a good statement refers to (from the call or the catalog).
    record_types: dict[str, RecordType] = field(default_factory=dict)


def check(
    statements: Sequence[Statement], parties: Parties, unreadable: Mapping[str, int] | None = None
) -> Checked:
    """``unreadable``: record ids (0.3: statement ids) of statements refused before the check."""
    out = Checked()
    unreadable = unreadable or {}
    refused: dict[int, Rejection] = {}

    def refuse(s: Statement, field: str, reason: str) -> None:
        if s.index not in refused:
            refused[s.index] = Rejection(s.index, s.statement_id, field, reason)

    unique = _without_duplicates(statements, out, refuse)
    by_statement_id = {s.statement_id: s for s in unique}
    unique = _join_replaced_records(unique, by_statement_id, parties, refuse)
    by_statement_id = {s.statement_id: s for s in unique}

    # Record types, first statement of a record wins.
    types: dict[str, tuple[RecordType, Statement]] = {}
    for s in unique:
        if s.index in refused:
            continue
        seen = types.get(s.record_id)
        if seen is None:
            types[s.record_id] = (s.record_type, s)
        elif seen[0] is not s.record_type:
            refuse(
                s,
                "recordType",
                f"record {_short(s.record_id)} is a {seen[0]} record "
                f"(statement #{seen[1].index}), not a {s.record_type}",
            )

    _refuse_cycles(unique, by_statement_id, refuse)

    # References, to a fixed point: a relationship naming a refused record is refused.
    changed = True
    while changed:
        changed = False
        good_types = {s.record_id: s.record_type for s in unique if s.index not in refused}
        for s in unique:
            if s.index in refused or s.relationship is None:
                continue
            problem = _references(s, good_types, by_statement_id, refused, unreadable, parties, out)
            if problem:
                refuse(s, *problem)
                changed = True

    for s in unique:
        if s.index in refused:
            continue
        if s.relationship is not None:
            rel = s.relationship
            s = dataclasses.replace(
                s,
                relationship=dataclasses.replace(
                    rel,
                    subject=_resolved(rel.subject, by_statement_id, s.version),
                    interested=_resolved(rel.interested, by_statement_id, s.version),
                ),
            )
        out.statements.append(s)
    out.rejections = sorted(refused.values(), key=lambda r: r.index)
    return out


def _without_duplicates(
    statements: Sequence[Statement], out: Checked, refuse: Callable[[Statement, str, str], None]
) -> list[Statement]:
    first: dict[str, Statement] = {}
    kept = []
    for s in statements:
        earlier = first.get(s.statement_id)
        if earlier is None:
            first[s.statement_id] = s
            kept.append(s)
        elif earlier.meaning() == s.meaning():
            out.duplicates.append(s.index)
        else:
            refuse(
                s,
                "statementId" if s.version == "0.4" else "statementID",
                f"is already used by statement #{earlier.index} of this import, which says "
                "something else; statement ids must be unique",
            )
    return kept


def _join_replaced_records(
    statements: list[Statement],
    by_statement_id: dict[str, Statement],
    parties: Parties,
    refuse: Callable[[Statement, str, str], None],
) -> list[Statement]:
    """A 0.3 statement that replaces another takes the record of the one it replaces."""
    record_of: dict[str, str] = {}
    joined = []
    for s in statements:
        if s.version != "0.3" or not s.replaces:
            joined.append(s)
            record_of[s.statement_id] = s.record_id
            continue
        record = s.record_id
        for i, replaced in enumerate(s.replaces):
            other = by_statement_id.get(replaced)
            if other is not None and other.record_type is not s.record_type:
                refuse(
                    s,
                    f"replacesStatements[{i}]",
                    f"statement {_short(replaced)} is a {other.record_type} statement, "
                    f"not a {s.record_type} one",
                )
            elif replaced in record_of and record == s.record_id:
                record = record_of[replaced]
            elif (
                other is None
                and record == s.record_id
                and s.record_type is not RecordType.RELATIONSHIP
                and parties(party_slug(replaced)) is s.record_type
            ):
                record = replaced  # the party an earlier import created
        record_of[s.statement_id] = record
        joined.append(dataclasses.replace(s, record_id=record))
    return joined


def _refuse_cycles(
    statements: list[Statement],
    by_statement_id: dict[str, Statement],
    refuse: Callable[[Statement, str, str], None],
) -> None:
    """Component lists and replacement lists that come back to where they started."""
    by_record: dict[str, list[Statement]] = {}
    for s in statements:
        by_record.setdefault(s.record_id, []).append(s)

    def components(s: Statement) -> list[Statement]:
        if s.relationship is None:
            return []
        found: list[Statement] = []
        for ref in s.relationship.components:
            if s.version == "0.4":
                targets = by_record.get(ref, [])
            else:
                targets = [by_statement_id[ref]] if ref in by_statement_id else []
            found.extend(t for t in targets if t.relationship is not None)
        return found

    def replaced(s: Statement) -> list[Statement]:
        return [by_statement_id[r] for r in s.replaces if r in by_statement_id]

    for edges, what in ((components, "components"), (replaced, "replacements")):
        for cycle in _cycles(statements, edges):
            path = " → ".join(_short(s.statement_id, 16) for s in [*cycle, cycle[0]])
            for s in cycle:
                if what == "replacements":
                    name = "replacesStatements"
                else:
                    name = (
                        "recordDetails.componentRecords"
                        if s.version == "0.4"
                        else "componentStatementIDs"
                    )
                refuse(s, name, f"the {what} form a cycle: {path}")


def _cycles(
    statements: list[Statement], edges: Callable[[Statement], list[Statement]]
) -> list[list[Statement]]:
    """Strongly connected components with a cycle (Tarjan, iterative)."""
    index: dict[int, int] = {}
    low: dict[int, int] = {}
    on_stack: set[int] = set()
    stack: list[Statement] = []
    found: list[list[Statement]] = []
    counter = 0
    for root in statements:
        if root.index in index:
            continue
        work: list[tuple[Statement, int]] = [(root, 0)]
        while work:
            node, i = work.pop()
            if i == 0:
                index[node.index] = low[node.index] = counter
                counter += 1
                stack.append(node)
                on_stack.add(node.index)
            nexts = edges(node)
            if i < len(nexts):
                work.append((node, i + 1))
                nxt = nexts[i]
                if nxt.index not in index:
                    work.append((nxt, 0))
                elif nxt.index in on_stack:
                    low[node.index] = min(low[node.index], index[nxt.index])
                continue
            if work:
                parent = work[-1][0]
                low[parent.index] = min(low[parent.index], low[node.index])
            if low[node.index] == index[node.index]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member.index)
                    component.append(member)
                    if member.index == node.index:
                        break
                if len(component) > 1 or node in edges(node):
                    found.append(sorted(component, key=lambda s: s.index))
    return found


def _references(
    s: Statement,
    good_types: dict[str, RecordType],
    by_statement_id: dict[str, Statement],
    refused: dict[int, Rejection],
    unreadable: Mapping[str, int],
    parties: Parties,
    out: Checked,
) -> tuple[str, str] | None:
    assert s.relationship is not None
    rel = s.relationship
    named: dict[str, str] = {}
    for key, ref in (("subject", rel.subject), ("interestedParty", rel.interested)):
        path = _ref_path(s, key, ref)
        if not ref.named:
            continue
        record = _resolved(ref, by_statement_id, s.version).record_id
        kind = good_types.get(record)
        if kind is None:
            kind = parties(party_slug(record))
        if kind is None:
            why = _why_unknown(s, ref, by_statement_id, refused, unreadable)
            return path, why
        if kind is RecordType.RELATIONSHIP:
            return (
                path,
                f"{_short(ref.record_id)} is a relationship record, not an entity or person",
            )
        if key == "subject" and kind is not RecordType.ENTITY:
            return path, f"{_short(ref.record_id)} is a person; the subject must be an entity"
        if ref.expected is not None and ref.expected is not kind:
            return path, f"{_short(ref.record_id)} is a {kind} statement, not a {ref.expected} one"
        out.record_types[record] = kind
        named[key] = record
    if named and named.get("subject") == named.get("interestedParty"):
        return "recordDetails.interestedParty" if s.version == "0.4" else "interestedParty", (
            "is the subject itself: an entity cannot hold itself"
        )
    return None


def _why_unknown(
    s: Statement,
    ref: Ref,
    by_statement_id: dict[str, Statement],
    refused: dict[int, Rejection],
    unreadable: Mapping[str, int],
) -> str:
    target = by_statement_id.get(ref.record_id)
    candidates = [target] if target is not None else []
    if s.version == "0.4":
        candidates = [
            other for other in by_statement_id.values() if other.record_id == ref.record_id
        ]
    for other in candidates:
        if other.index in refused:
            return f"{_short(ref.record_id)} was refused (statement #{other.index})"
    if ref.record_id in unreadable:
        return f"{_short(ref.record_id)} was refused (statement #{unreadable[ref.record_id]})"
    kind = "statement" if s.version == "0.3" else "record"
    return (
        f"names {kind} {_short(ref.record_id)}, which is neither in this import nor in the catalog"
    )


def _resolved(ref: Ref, by_statement_id: dict[str, Statement], version: str) -> Ref:
    """A 0.3 reference names a statement: point it at that statement's record."""
    if version != "0.3" or not ref.named:
        return ref
    target = by_statement_id.get(ref.record_id)
    if target is None:
        return ref
    return dataclasses.replace(ref, record_id=target.record_id)


def _ref_path(s: Statement, key: str, ref: Ref) -> str:
    if s.version == "0.4":
        return f"recordDetails.{key}"
    side = (
        "describedByPersonStatement"
        if ref.expected is RecordType.PERSON
        else "describedByEntityStatement"
    )
    return f"{key}.{side}"


def _short(value: str, limit: int = 40) -> str:
    return value if len(value) <= limit else value[: limit - 1] + "…"
