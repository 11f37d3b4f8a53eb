"""From checked BODS statements to catalog actions: parties to create, events to record.

No gRPC and no SQL: what the catalog already holds comes through ``Catalog``.

Parties. Each entity or person record becomes the organization
``ids.party_slug(record id)`` (persons with kind PERSON), named after the
record's latest statement in the call. An existing organization is left as it
is, unless an updated statement (0.4 recordStatus "updated", a 0.3
replacement) changes its name or country.

Relationships. A relationship statement becomes the events of its
interests over time, holder = interested party, held = subject:

- shareholding / votingRights (and every interest type not named below):
  the stake. Interests active together add up (exact shares to an exact
  figure, ranges to a range; an interest without a share makes the figure a
  range up to 100%, and a stake with no shareholding at all has undisclosed
  equity). The first period is stake_acquired, each change stake_changed, the
  end (every interest ended) stake_divested.
- appointmentOfBoard / boardMember / boardChair: one board seat while any
  is active (board_seat_granted, board_seat_removed).
- seniorManagingOfficial: a leadership tie (leadership_move from the
  person's party to the subject, role = the interest's details or
  "senior managing official"), dated on its start.
- interests dpmatch's own export marks as ties ("dpmatch tie {...}" in
  details): the contract or leadership tie they stand for.

Dates: an interest starts on its startDate, else the statement's date; a
closed record ends its open interests on the statement's date (closed means
ended: history is kept). Indirect interests whose interested party already
reaches the subject through a chain of direct relationships (of this call,
or holdings in the catalog since the interest's start) are a summary of that
chain and are skipped; otherwise they are recorded as a stake of the
interested party in the subject, like a direct one.

Replacement. A statement replaces the previous statement of its record
(0.4: the record's statements ordered by date; 0.3: replacesStatements),
in this call or imported earlier. Each of its events that repeats a part of
the replaced statement (same kind of change on the same date) supersedes
that part's event; each part it no longer states is withdrawn by a
retraction. A statement older than the record's latest imported one changes
nothing.
"""

from __future__ import annotations

import datetime as dt
import enum
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from dpm.catalog.bods import ids
from dpm.catalog.bods.model import (
    Directness,
    Interest,
    RecordType,
    Share,
    Statement,
    Status,
)
from dpm.catalog.bods.validation import Checked, Rejection
from dpm.catalog.v1 import catalog_pb2
from dpm.ownership.v1 import ownership_pb2
from dpm.platform.names import OrganizationName

BOARD = frozenset({"appointmentOfBoard", "boardMember", "boardChair"})
ROLE = frozenset({"seniorManagingOfficial"})
TIE_MARKER = "dpmatch tie "
DEFAULT_ROLE = "senior managing official"
NAME_LIMIT = 300
KINDS = {
    "vendor": catalog_pb2.ORGANIZATION_KIND_VENDOR,
    "lab": catalog_pb2.ORGANIZATION_KIND_LAB,
    "investor": catalog_pb2.ORGANIZATION_KIND_INVESTOR,
    "parent": catalog_pb2.ORGANIZATION_KIND_PARENT,
}
SOURCE_TYPES = {
    "selfDeclaration": ownership_pb2.SOURCE_TYPE_SELF_DECLARATION,
    "officialRegister": ownership_pb2.SOURCE_TYPE_OFFICIAL_REGISTER,
    "thirdParty": ownership_pb2.SOURCE_TYPE_THIRD_PARTY,
    "primaryResearch": ownership_pb2.SOURCE_TYPE_PRIMARY_RESEARCH,
    "verified": ownership_pb2.SOURCE_TYPE_VERIFIED,
}
# Order of a statement's events on one date.
ORDER = {"retract": 0, "stake": 1, "seats": 2, "role": 3, "tie": 4, "seats-end": 5, "stake-end": 6}
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")
_SPACES = re.compile(r"\s+")


class Catalog(Protocol):
    """What the mapping needs to know about the catalog as it stands before the import."""

    def party(self, slug: str) -> tuple[RecordType, str] | None:
        """PERSON or ENTITY and the display name of organization ``slug``; None when absent."""

    def descendants(self, slug: str, since: dt.date) -> set[str]:
        """Slugs ``slug`` holds, directly or through chains, on some date from ``since`` on."""

    def ancestors(self, slug: str, since: dt.date) -> set[str]:
        """Slugs holding ``slug``, directly or through chains, on some date from ``since`` on."""

    def events_touching(self, slug: str) -> Sequence[ownership_pb2.OwnershipEvent]:
        """Ledger events listed under organization ``slug``, in ledger order."""


class Outcome(enum.Enum):
    RECORD = "record"
    UNCHANGED = "unchanged"
    NO_EFFECT = "no effect"
    SUMMARY = "summary"
    REFUSED = "refused"


@dataclass
class PartyAction:
    slug: str
    organization: catalog_pb2.Organization
    # The record's statements in the call; the first decides nothing, the last the name.
    indexes: list[int]
    # An updated statement: it may change an existing organization's name and country.
    update: bool


@dataclass
class RelationshipAction:
    statement: Statement
    outcome: Outcome
    events: list[ownership_pb2.OwnershipEvent] = field(default_factory=list)
    # Some indirect interests were skipped as a summary of a chain.
    summary: bool = False


@dataclass
class Plan:
    parties: list[PartyAction] = field(default_factory=list)
    # In the order to apply them: a statement after those it replaces.
    relationships: list[RelationshipAction] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)


class _Refused(Exception):
    def __init__(self, field: str, reason: str) -> None:
        super().__init__(reason)
        self.field = field
        self.reason = reason


@dataclass(frozen=True)
class _Part:
    name: str
    date: dt.date
    event: ownership_pb2.OwnershipEvent


def plan(checked: Checked, catalog: Catalog) -> Plan:
    out = Plan()
    parties = [s for s in checked.statements if s.party is not None]
    names = _parties(parties, catalog, out)
    relationships = [s for s in checked.statements if s.relationship is not None]
    _Relationships(relationships, names, catalog, out).run()
    return out


# ---------------------------------------------------------------------------- parties


def _parties(statements: list[Statement], catalog: Catalog, out: Plan) -> dict[str, str]:
    """Party actions into ``out``; the display name of every party slug of the call."""
    records: dict[str, list[Statement]] = {}
    for s in statements:
        records.setdefault(s.record_id, []).append(s)
    names: dict[str, str] = {}
    for record_id, group in records.items():
        group.sort(key=lambda s: (s.date or dt.date.min, s.index))
        latest = group[-1]
        assert latest.party is not None
        slug = ids.party_slug(record_id)
        person = latest.record_type is RecordType.PERSON
        existing = catalog.party(slug)
        if existing is not None and (existing[0] is RecordType.PERSON) != person:
            for s in group:
                out.rejections.append(
                    Rejection(
                        s.index,
                        s.statement_id,
                        "recordId" if s.version == "0.4" else "statementID",
                        f"{OrganizationName(slug)} already exists as "
                        f"{'a person' if existing[0] is RecordType.PERSON else 'an organization'}",
                    )
                )
            continue
        party = latest.party
        kind = (
            catalog_pb2.ORGANIZATION_KIND_PERSON
            if person
            else KINDS.get(party.kind_hint, catalog_pb2.ORGANIZATION_KIND_PARENT)
        )
        organization = catalog_pb2.Organization(
            display_name=display_name(party.name, party.subtype, record_id, person),
            kind=kind,
            country=party.country,
            source_urls=[party.uri] if party.uri else [],
        )
        names[slug] = organization.display_name
        out.parties.append(
            PartyAction(
                slug=slug,
                organization=organization,
                indexes=[s.index for s in group],
                update=any(s.status is Status.UPDATED for s in group),
            )
        )
    return names


def display_name(name: str, subtype: str, record_id: str, person: bool) -> str:
    name = clean(name)
    if not name:
        what = {
            "anonymousPerson": "Anonymous person",
            "unknownPerson": "Unknown person",
            "anonymousEntity": "Anonymous entity",
            "unknownEntity": "Unknown entity",
        }.get(subtype, "Unnamed person" if person else "Unnamed entity")
        name = f"{what} ({clean(record_id)[:64]})"
    return name if len(name) <= NAME_LIMIT else name[: NAME_LIMIT - 1] + "…"


def clean(text: str) -> str:
    """One line: control characters and runs of white space become one space."""
    return _SPACES.sub(" ", _CONTROL.sub(" ", text)).strip()


# ---------------------------------------------------------------------- relationships


class _Relationships:
    def __init__(
        self,
        statements: list[Statement],
        names: dict[str, str],
        catalog: Catalog,
        out: Plan,
    ) -> None:
        self.statements = statements
        self.names = names
        self.catalog = catalog
        self.out = out
        self.by_statement_id = {s.statement_id: s for s in statements}
        self.records: dict[str, list[Statement]] = {}
        for s in statements:
            self.records.setdefault(s.record_id, []).append(s)
        # Direct edges of this call (holder slug -> held slugs), for summaries.
        self.down: dict[str, set[str]] = {}
        self.up: dict[str, set[str]] = {}
        self.parts: dict[int, list[_Part]] = {}
        self.actions: dict[int, RelationshipAction] = {}
        # Predecessor events (in the ledger or planned here) already superseded or withdrawn.
        self.claimed: set[str] = set()
        self.scans: dict[str, dict[str, list[ownership_pb2.OwnershipEvent]]] = {}
        self.walks: dict[tuple[str, str, dt.date], set[str]] = {}

    def run(self) -> None:
        for s in self.statements:
            rel = s.relationship
            assert rel is not None
            if (
                rel.subject.named
                and rel.interested.named
                and (
                    not rel.interests
                    or any(i.directness is not Directness.INDIRECT for i in rel.interests)
                )
            ):
                holder = ids.party_slug(rel.interested.record_id)
                held = ids.party_slug(rel.subject.record_id)
                self.down.setdefault(holder, set()).add(held)
                self.up.setdefault(held, set()).add(holder)
        for s in self.statements:
            try:
                self.parts[s.index], summary = self._parts_of(s)
                self.actions[s.index] = RelationshipAction(s, Outcome.RECORD, summary=summary)
            except _Refused as refused:
                self._refuse(s, refused)
        for s in self._order():
            action = self.actions.get(s.index)
            if action is None:
                continue
            try:
                self._replace(s, action)
            except _Refused as refused:
                del self.actions[s.index]
                self._refuse(s, refused)
                continue
            self.out.relationships.append(action)

    def _refuse(self, s: Statement, refused: _Refused) -> None:
        self.out.rejections.append(
            Rejection(s.index, s.statement_id, refused.field, refused.reason)
        )

    # ------------------------------------------------------------------ parts

    def _parts_of(self, s: Statement) -> tuple[list[_Part], bool]:
        """The events the statement states on its own (no supersedes yet), and if it summarises."""
        rel = s.relationship
        assert rel is not None
        if not (rel.subject.named and rel.interested.named):
            return [], False
        holder = ids.party_slug(rel.interested.record_id)
        held = ids.party_slug(rel.subject.record_id)
        interests = list(enumerate(rel.interests)) or [
            (-1, Interest(type="", directness=Directness.UNKNOWN))
        ]
        spans = [(k, i, *self._span(s, k, i)) for k, i in interests]
        spans = [x for x in spans if x[3] is None or x[3] > x[2]]
        indirect = [x for x in spans if x[1].directness is Directness.INDIRECT]
        summary = False
        if indirect:
            since = min(x[2] for x in indirect)
            if self._chain(holder, held, since):
                summary = True
                spans = [x for x in spans if x[1].directness is not Directness.INDIRECT]
        return _Timeline(s, holder, held, self._name_of(holder)).parts(spans), summary

    def _span(self, s: Statement, k: int, interest: Interest) -> tuple[dt.date, dt.date | None]:
        start = interest.start or s.date
        if start is None:
            where = f"interests[{k}].startDate" if k >= 0 else "statementDate"
            raise _Refused(
                _field(s, where),
                "needs a date: give the interest a startDate or the statement a statementDate",
            )
        end = interest.end
        if end is None and s.status is Status.CLOSED:
            end = s.date
        return start, end

    def _name_of(self, slug: str) -> str:
        if slug in self.names:
            return self.names[slug]
        known = self.catalog.party(slug)
        return known[1] if known else slug

    def _chain(self, holder: str, held: str, since: dt.date) -> bool:
        """Whether holder reaches held through at least one intermediary."""
        below = self._reach(holder, held, since, downward=True)
        above = self._reach(held, holder, since, downward=False)
        return bool((below & above) - {holder, held})

    def _reach(self, start: str, stop: str, since: dt.date, *, downward: bool) -> set[str]:
        edges = self.down if downward else self.up
        seen = {start}
        in_graph: set[str] = set()  # already closed over the catalog's holdings
        frontier = [start]
        while frontier:
            node = frontier.pop()
            nexts = set(edges.get(node, ()))
            if node not in in_graph:
                walked = self._walk(node, since, downward)
                in_graph |= walked
                nexts |= walked
            for nxt in nexts - seen:
                seen.add(nxt)
                if nxt != stop:
                    frontier.append(nxt)
        return seen

    def _walk(self, node: str, since: dt.date, downward: bool) -> set[str]:
        key = (node, "down" if downward else "up", since)
        if key not in self.walks:
            walk = self.catalog.descendants if downward else self.catalog.ancestors
            self.walks[key] = walk(node, since)
        return self.walks[key]

    # ------------------------------------------------------------------ order

    def _order(self) -> list[Statement]:
        """Statements by their first date, each after the in-call statements it replaces."""

        def first(s: Statement) -> tuple[dt.date, int]:
            dates = [p.date for p in self.parts.get(s.index, [])]
            return (min(dates, default=s.date or dt.date.max), s.index)

        pending = sorted(self.statements, key=first)
        done: set[int] = set()
        order: list[Statement] = []
        while pending:
            rest = []
            for s in pending:
                if all(p.index in done for p in self._earlier_in_call(s)):
                    order.append(s)
                    done.add(s.index)
                else:
                    rest.append(s)
            if len(rest) == len(pending):  # cannot happen: validation refuses cycles
                order.extend(rest)
                break
            pending = rest
        return order

    def _earlier_in_call(self, s: Statement) -> list[Statement]:
        """The statements of this call ``s`` must come after."""
        if s.version == "0.3":
            return [self.by_statement_id[r] for r in s.replaces if r in self.by_statement_id]
        same = self._same_record(s)
        return [max(same, key=_rank)] if same else []

    def _same_record(self, s: Statement) -> list[Statement]:
        """The 0.4 statements of the call about the record of ``s``, dated before it."""
        return [
            o
            for o in self.records.get(s.record_id, [])
            if o.version == "0.4" and _rank(o) < _rank(s)
        ]

    # ------------------------------------------------------------ replacement

    def _replace(self, s: Statement, action: RelationshipAction) -> None:
        own_token = ids.token(s.statement_id)
        rel = s.relationship
        assert rel is not None
        anchor = next(
            (ids.party_slug(r.record_id) for r in (rel.subject, rel.interested) if r.named), None
        )
        scanned = self._scan(anchor) if anchor else {}
        imported = scanned.get(own_token)
        if imported:
            parsed = ids.parse_event_id(imported[0].event_id)
            assert parsed is not None
            if parsed[2] != s.content:
                raise _Refused(
                    "statementId" if s.version == "0.4" else "statementID",
                    "this statement id was imported before with different content; "
                    "a changed statement needs a new statementId",
                )
            action.outcome = Outcome.UNCHANGED
            return

        predecessors = self._predecessors(s, scanned)
        if predecessors is None:  # an older statement than the record's latest one
            action.outcome = Outcome.NO_EFFECT
            return
        events: list[tuple[dt.date, int, ownership_pb2.OwnershipEvent]] = []
        for part in self.parts[s.index]:
            event = part.event
            event.event_id = ids.event_id(s.record_id, s.statement_id, s.content, part.name)
            for earlier in predecessors:
                target = earlier.get(part.name)
                if target and target not in self.claimed:
                    event.supersedes = target
                    self.claimed.add(target)
                    break
            events.append((part.date, ORDER[part.name.split(".")[0]], event))
        for earlier in predecessors:
            for name, target in sorted(earlier.items()):
                if target in self.claimed:
                    continue
                self.claimed.add(target)
                retraction = ownership_pb2.OwnershipEvent(
                    event_id=ids.event_id(
                        s.record_id, s.statement_id, s.content, f"retract-{name}"
                    ),
                    supersedes=target,
                    summary=_summary(s, "withdraws what an earlier statement of the record said"),
                    provenance=_provenance(s),
                )
                retraction.retraction.SetInParent()
                events.append((dt.date.min, ORDER["retract"], retraction))
        events.sort(key=lambda e: (e[0], e[1]))
        action.events = [e for _, _, e in events]
        if not action.events:
            action.outcome = Outcome.SUMMARY if action.summary else Outcome.NO_EFFECT

    def _predecessors(
        self, s: Statement, scanned: dict[str, list[ownership_pb2.OwnershipEvent]]
    ) -> list[dict[str, str]] | None:
        """Part name -> event id of each statement ``s`` replaces; None when ``s`` is outdated."""
        if s.version == "0.3":
            found = []
            for replaced in s.replaces:
                other = self.by_statement_id.get(replaced)
                action = self.actions.get(other.index) if other is not None else None
                if other is None or action is None or action.outcome is Outcome.UNCHANGED:
                    found.append(_live(scanned.get(ids.token(replaced), [])))
                else:
                    found.append(_planned(action))
            return found
        # 0.4: the record's latest earlier statement that says something, in this call ...
        for other in sorted(self._same_record(s), key=_rank, reverse=True):
            action = self.actions.get(other.index)
            if action is None or action.outcome in (Outcome.NO_EFFECT, Outcome.SUMMARY):
                continue
            if action.outcome is Outcome.UNCHANGED:
                return [_live(scanned.get(ids.token(other.statement_id), []))]
            return [_planned(action)]
        # ... else the one imported before, if any.
        record_token = ids.token(s.record_id)
        latest: list[ownership_pb2.OwnershipEvent] = []
        for group in scanned.values():
            parsed = ids.parse_event_id(group[0].event_id)
            if parsed is None or parsed[0] != record_token:
                continue
            if not latest or group[-1].graph_version > latest[-1].graph_version:
                latest = group
        if not latest:
            return []
        stated = latest[0].provenance.statement_date
        if stated and s.date and stated > s.date.isoformat():
            return None
        return [_live(latest)]

    def _scan(self, slug: str) -> dict[str, list[ownership_pb2.OwnershipEvent]]:
        """The catalog's BODS events under ``slug``, by statement token, in ledger order."""
        if slug not in self.scans:
            groups: dict[str, list[ownership_pb2.OwnershipEvent]] = {}
            for event in self.catalog.events_touching(slug):
                parsed = ids.parse_event_id(event.event_id)
                if parsed is not None:
                    groups.setdefault(parsed[1], []).append(event)
            self.scans[slug] = groups
        return self.scans[slug]


def _planned(action: RelationshipAction) -> dict[str, str]:
    """Part name -> event id of what a statement planned in this call states."""
    found = {}
    for event in action.events:
        parsed = ids.parse_event_id(event.event_id)
        if parsed is not None and not event.HasField("retraction"):
            found[parsed[3]] = event.event_id
    return found


def _live(events: Iterable[ownership_pb2.OwnershipEvent]) -> dict[str, str]:
    """Part name -> event id of the events still in effect (not withdrawn, not corrected)."""
    live = {}
    for event in events:
        parsed = ids.parse_event_id(event.event_id)
        if parsed is None or event.HasField("retraction") or event.superseded_by:
            continue
        live[parsed[3]] = event.event_id
    return live


def _rank(s: Statement) -> tuple[dt.date, int]:
    return (s.date or dt.date.min, s.index)


# --------------------------------------------------------------------------- timeline

Figure = Share | None  # None: undisclosed
SAME = "same"  # votes not stated: the same as the equity


@dataclass(frozen=True)
class _Terms:
    equity: Figure
    voting: Figure | str


class _Timeline:
    """The parts (events) one relationship statement states, from its interests' spans."""

    def __init__(self, s: Statement, holder: str, held: str, holder_name: str) -> None:
        self.s = s
        self.holder = str(OrganizationName(holder))
        self.held = str(OrganizationName(held))
        self.holder_name = holder_name

    def parts(self, spans: list[tuple[int, Interest, dt.date, dt.date | None]]) -> list[_Part]:
        stake, board, roles, ties = [], [], [], []
        for _, interest, start, end in spans:
            tie = _tie_marker(interest.details)
            if tie is not None:
                ties.append((tie, start))
            elif interest.type in BOARD:
                board.append((interest, start, end))
            elif interest.type in ROLE:
                roles.append((interest, start))
            else:
                stake.append((interest, start, end))
        found: list[_Part] = []
        found += self._stake_and_seats(stake, board)
        for start in sorted({start for _, start in roles}):
            role = next(clean(i.details) for i, d in roles if d == start) or DEFAULT_ROLE
            event = self._event(start, "a leadership role")
            event.leadership_move.CopyFrom(
                ownership_pb2.LeadershipMove(
                    person=self.holder_name[:NAME_LIMIT],
                    from_organization=self.holder,
                    to_organization=self.held,
                    role=role[:NAME_LIMIT],
                )
            )
            found.append(_Part(f"role.{start.isoformat()}", start, event))
        for (kind, person, role), start in ties:
            event = self._event(start, "a tie")
            if kind == ownership_pb2.TIE_KIND_LEADERSHIP_MOVE:
                event.leadership_move.CopyFrom(
                    ownership_pb2.LeadershipMove(
                        person=person,
                        from_organization=self.held,
                        to_organization=self.holder,
                        role=role,
                    )
                )
            else:
                event.contract_tie.CopyFrom(
                    ownership_pb2.ContractTie(
                        kind=kind,  # type: ignore[arg-type]
                        organization=self.held,
                        counterparty=self.holder,
                    )
                )
            found.append(_Part(f"tie.{start.isoformat()}", start, event))
        return found

    def _stake_and_seats(
        self,
        stake: list[tuple[Interest, dt.date, dt.date | None]],
        board: list[tuple[Interest, dt.date, dt.date | None]],
    ) -> list[_Part]:
        def active(
            items: list[tuple[Interest, dt.date, dt.date | None]], day: dt.date
        ) -> list[Interest]:
            return [i for i, start, end in items if start <= day and (end is None or end > day)]

        points = sorted(
            {d for _, start, end in (*stake, *board) for d in (start, end) if d is not None}
        )
        found: list[_Part] = []
        terms: _Terms | None = None
        seated = False
        for day in points:
            now = active(stake, day)
            new_terms = _terms(now) if now else None
            sits = bool(active(board, day))
            when = day.isoformat()
            if new_terms != terms:
                if new_terms is None:
                    if sits:  # the stake ends, the seat stays: a seat-only holding
                        found.append(self._stake(day, "stake_changed", _Terms(Share(0.0), SAME)))
                    else:
                        event = self._event(day, "the stake ends")
                        event.stake_divested.CopyFrom(
                            ownership_pb2.StakeDivested(holder=self.holder, held=self.held)
                        )
                        found.append(_Part(f"stake-end.{when}", day, event))
                else:
                    kind = "stake_acquired" if terms is None else "stake_changed"
                    found.append(self._stake(day, kind, new_terms))
            if sits != seated:
                if sits:
                    event = self._event(day, "a board seat")
                    event.board_seat_granted.CopyFrom(
                        ownership_pb2.BoardSeatChange(holder=self.holder, held=self.held, seats=1)
                    )
                    found.append(_Part(f"seats.{when}", day, event))
                elif new_terms is not None or terms is None:
                    # The holding goes on (or was seats only): the seat ends alone.
                    event = self._event(day, "the board seat ends")
                    event.board_seat_removed.CopyFrom(
                        ownership_pb2.BoardSeatChange(holder=self.holder, held=self.held, seats=1)
                    )
                    found.append(_Part(f"seats-end.{when}", day, event))
                # else: the stake ended on the same day; stake_divested closed the holding.
            terms, seated = new_terms, sits
        return found

    def _stake(self, day: dt.date, kind: str, terms: _Terms) -> _Part:
        change = ownership_pb2.StakeChange(holder=self.holder, held=self.held)
        _set_figure(change, "equity", terms.equity)
        if terms.voting != SAME:
            _set_figure(change, "voting", terms.voting if isinstance(terms.voting, Share) else None)
        event = self._event(day, _describe(terms))
        getattr(event, kind).CopyFrom(change)
        return _Part(f"stake.{day.isoformat()}", day, event)

    def _event(self, day: dt.date, what: str) -> ownership_pb2.OwnershipEvent:
        return ownership_pb2.OwnershipEvent(
            effective_date=day.isoformat(),
            source_url=self.s.source.url if _plain_url(self.s.source.url) else "",
            summary=_summary(self.s, what),
            provenance=_provenance(self.s),
        )


def _terms(active: list[Interest]) -> _Terms:
    shares = [i for i in active if i.type == "shareholding"]
    votes = [i for i in active if i.type == "votingRights"]
    equity = _total([i.share for i in shares]) if shares else None
    voting: Figure | str = SAME
    if votes:
        total = _total([i.share for i in votes])
        voting = total if total is not None else Share(minimum=0.0, maximum=1.0)
    return _Terms(equity, voting)


def _total(shares: list[Share | None]) -> Share | None:
    """The sum of shares held together; None (undisclosed) when none is known."""
    if all(s is None for s in shares):
        return None
    if all(s is not None and s.exact is not None for s in shares):
        return Share(exact=round(sum(s.exact for s in shares if s and s.exact is not None), 12))
    low = round(sum(s.low for s in shares if s is not None), 12)
    high = min(1.0, round(sum(s.high if s is not None else 1.0 for s in shares), 12))
    low_open = any(s is not None and s.exact is None and s.exclusive_minimum for s in shares)
    high_open = high < 1.0 and any(
        s is not None and s.exact is None and s.exclusive_maximum for s in shares
    )
    if low == high and not (low_open or high_open):
        return Share(exact=low)
    return Share(
        minimum=low if low > 0.0 or low_open else None,
        maximum=high if high < 1.0 or high_open else None,
        exclusive_minimum=low_open,
        exclusive_maximum=high_open,
    )


def _set_figure(change: ownership_pb2.StakeChange, axis: str, figure: Figure) -> None:
    if figure is None:
        if axis == "voting":
            change.voting_range.CopyFrom(ownership_pb2.ShareRange(minimum=0.0, maximum=1.0))
        return
    if figure.exact is not None:
        setattr(change, f"{axis}_fraction", figure.exact)
        return
    share = ownership_pb2.ShareRange(
        exclusive_minimum=figure.exclusive_minimum, exclusive_maximum=figure.exclusive_maximum
    )
    if figure.minimum is not None:
        share.minimum = figure.minimum
    if figure.maximum is not None:
        share.maximum = figure.maximum
    getattr(change, f"{axis}_range").CopyFrom(share)


def _describe(terms: _Terms) -> str:
    text = f"a stake: equity {_figure(terms.equity)}"
    if terms.voting != SAME:
        text += f", votes {_figure(terms.voting if isinstance(terms.voting, Share) else None)}"
    return text


def _figure(figure: Figure) -> str:
    if figure is None:
        return "undisclosed"
    if figure.exact is not None:
        return f"{figure.exact * 100:g}%"
    low = f"{'>' if figure.exclusive_minimum else '≥'}{(figure.minimum or 0) * 100:g}%"
    high = (
        ""
        if figure.maximum is None
        else (f" and {'<' if figure.exclusive_maximum else '≤'}{figure.maximum * 100:g}%")
    )
    return low + high


def _tie_marker(details: str) -> tuple[int, str, str] | None:
    """(tie kind, person, role) from the details dpmatch's export writes for a tie."""
    if not details.startswith(TIE_MARKER):
        return None
    try:
        data = json.loads(details[len(TIE_MARKER) :])
        kind = ownership_pb2.TieKind.Value(str(data["kind"]))
    except (ValueError, KeyError, TypeError):
        return None
    if kind == ownership_pb2.TIE_KIND_UNSPECIFIED:
        return None
    person = clean(str(data.get("person", "")))[:NAME_LIMIT]
    role = clean(str(data.get("role", "")))[:NAME_LIMIT]
    if kind == ownership_pb2.TIE_KIND_LEADERSHIP_MOVE and not person:
        return None
    return kind, person, role


def _summary(s: Statement, what: str) -> str:
    return clean(f"BODS {s.version} statement {s.statement_id[:80]}: {what}")


def _provenance(s: Statement) -> ownership_pb2.Provenance:
    source = s.source
    types = [SOURCE_TYPES[t] for t in source.types if t in SOURCE_TYPES]
    plain = [t for t in types if t != ownership_pb2.SOURCE_TYPE_VERIFIED]
    asserted = clean("; ".join(source.asserted_by) or source.publisher)
    return ownership_pb2.Provenance(
        source_type=(plain or types or [ownership_pb2.SOURCE_TYPE_UNSPECIFIED])[0],
        asserted_by=asserted if len(asserted) <= NAME_LIMIT else asserted[: NAME_LIMIT - 1] + "…",
        statement_date=source.statement_date.isoformat() if source.statement_date else "",
        statement_id=s.statement_id,
    )


def _plain_url(url: str) -> bool:
    return bool(url) and len(url) <= 2000 and not re.search(r"[\s\x00-\x1f\x7f]", url)


def _field(s: Statement, path: str) -> str:
    return f"recordDetails.{path}" if s.version == "0.4" else path
