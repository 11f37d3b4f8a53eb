"""Import one call's BODS statements inside the caller's transaction.

read (each statement alone) -> check (across the call and the catalog) ->
plan (parties and events) -> apply. Each good statement is applied under a
savepoint: when the catalog refuses it (the ledger's rules, an invariant),
only that statement is rolled back and reported; the others stay. The
caller commits once, so a failure of the call itself writes nothing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from dpm.catalog import ledger, organizations
from dpm.catalog.bods import mapping, reading, validation
from dpm.catalog.bods.model import RecordType, Statement
from dpm.catalog.bods.validation import Rejection
from dpm.catalog.store.graph_walk import GraphWalk
from dpm.catalog.store.organizations import OrganizationRepository
from dpm.catalog.v1 import catalog_pb2
from dpm.ownership.v1 import ownership_pb2
from dpm.platform.errors import DomainError, InvalidArgument
from dpm.platform.names import OrganizationName

# How many created organizations a result lists by name.
CREATED_LISTED = 100
EVENTS_PAGE = 1000


@dataclass
class ImportResult:
    received: int = 0
    imported: int = 0
    unchanged: int = 0
    without_effect: int = 0
    summaries: int = 0
    organizations_created: int = 0
    persons_created: int = 0
    organizations_updated: int = 0
    events_recorded: int = 0
    errors: list[Rejection] = field(default_factory=list)
    graph_version: int = 0
    created: list[catalog_pb2.Organization] = field(default_factory=list)


def import_statements(session: Session, texts: Sequence[str]) -> ImportResult:
    result = ImportResult(received=len(texts))
    statements: list[Statement] = []
    errors: list[Rejection] = []
    unreadable: dict[str, int] = {}  # record id -> a statement about it that was refused
    for index, text in enumerate(texts):
        try:
            statements.append(reading.read(text, index))
        except reading.Problem as problem:
            statement_id, record_id = reading.ids_of(text)
            errors.append(Rejection(index, statement_id, problem.field, problem.reason))
            if record_id:
                unreadable.setdefault(record_id, index)
    view = CatalogView(session)
    checked = validation.check(statements, view.party_type, unreadable)
    errors += checked.rejections
    plan = mapping.plan(checked, view)
    errors += plan.rejections
    result.imported += len(checked.duplicates)
    result.unchanged += len(checked.duplicates)

    refused = {r.index for r in errors}
    for action in plan.parties:
        if refused.issuperset(action.indexes):
            continue
        try:
            with session.begin_nested():
                done = _apply_party(session, action, view)
        except DomainError as exc:
            errors += [_refusal(action.indexes[-1], statements, exc)]
            continue
        live = [i for i in action.indexes if i not in refused]
        result.imported += len(live)
        if done == "created":
            if action.organization.kind == catalog_pb2.ORGANIZATION_KIND_PERSON:
                result.persons_created += 1
            else:
                result.organizations_created += 1
            if len(result.created) < CREATED_LISTED:
                result.created.append(action.organization)
        elif done == "updated":
            result.organizations_updated += 1
        result.unchanged += len(live) - (done != "unchanged")

    for rel in plan.relationships:
        outcome = rel.outcome
        if outcome is mapping.Outcome.RECORD:
            try:
                with session.begin_nested():
                    written = sum(ledger.record_event(session, e).written for e in rel.events)
            except DomainError as exc:
                errors.append(_refusal(rel.statement.index, statements, exc))
                continue
            result.events_recorded += written
            if not written:
                result.unchanged += 1
        elif outcome is mapping.Outcome.UNCHANGED:
            result.unchanged += 1
        elif outcome is mapping.Outcome.NO_EFFECT:
            result.without_effect += 1
        result.summaries += rel.summary
        result.imported += 1

    result.errors = sorted(errors, key=lambda r: r.index)
    result.graph_version = ledger.graph_version(session)
    return result


def _apply_party(session: Session, action: mapping.PartyAction, view: CatalogView) -> str:
    name = OrganizationName(action.slug)
    existing = OrganizationRepository(session).get(action.slug)
    org = action.organization
    if existing is None:
        created = organizations.create(session, action.slug, org)
        org.name = created.name
        view.forget(action.slug)
        return "created"
    paths = [
        path
        for path, changed in (
            ("display_name", existing.display_name != org.display_name),
            ("country", bool(org.country) and existing.country != org.country),
        )
        if changed
    ]
    if not (action.update and paths):
        return "unchanged"
    org.name = str(name)
    organizations.update(session, name, org, paths)
    return "updated"


def _refusal(index: int, statements: list[Statement], exc: DomainError) -> Rejection:
    statement = next((s for s in statements if s.index == index), None)
    statement_id = statement.statement_id if statement else ""
    field = ""
    if isinstance(exc, InvalidArgument) and exc.violations:
        field = exc.violations[0].field
    return Rejection(
        index,
        statement_id,
        "",
        f"the catalog refused it: {exc.message}"
        + (f" ({field})" if field and field not in exc.message else ""),
    )


class CatalogView:
    """``mapping.Catalog`` over the import's session: the catalog before the import."""

    def __init__(self, session: Session) -> None:
        self._session = session
        self._organizations = OrganizationRepository(session)
        self._walk = GraphWalk(session)
        self._parties: dict[str, tuple[RecordType, str] | None] = {}

    def party(self, slug: str) -> tuple[RecordType, str] | None:
        if slug not in self._parties:
            row = self._organizations.get(slug)
            self._parties[slug] = (
                None
                if row is None
                else (
                    RecordType.PERSON
                    if row.kind == catalog_pb2.ORGANIZATION_KIND_PERSON
                    else RecordType.ENTITY,
                    row.display_name,
                )
            )
        return self._parties[slug]

    def party_type(self, slug: str) -> RecordType | None:
        found = self.party(slug)
        return found[0] if found else None

    def forget(self, slug: str) -> None:
        self._parties.pop(slug, None)

    def descendants(self, slug: str, since: dt.date) -> set[str]:
        return self._walk.descendants(slug, since)

    def ancestors(self, slug: str, since: dt.date) -> set[str]:
        return self._walk.ancestors(slug, since)

    def events_touching(self, slug: str) -> list[ownership_pb2.OwnershipEvent]:
        if self.party(slug) is None:
            return []
        name = OrganizationName(slug)
        events: list[ownership_pb2.OwnershipEvent] = []
        after: int | None = None
        while True:
            page = ledger.list_page(self._session, name, after, EVENTS_PAGE)
            events += page
            if len(page) < EVENTS_PAGE:
                return events
            after = page[-1].graph_version
