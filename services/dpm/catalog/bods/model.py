"""One model for BODS 0.4 and 0.3 statements, as the rest of the importer sees them.

``reading`` turns JSON text of either version into these values; nothing else
in the package knows which version a statement came in. Shares are fractions
in [0, 1] here (BODS states percentages).

Records: BODS 0.4 names a record (an entity, a person, a relationship) by its
``recordId`` and publishes statements about it over time. BODS 0.3 has no
record ids: a statement is replaced by later ones (``replacesStatements``)
and references name statement ids. Both become a ``record_id`` here; for 0.3
it is the statement id, and ``validation`` maps a replacing statement onto
the record of the statement it replaces.
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass, field


class RecordType(enum.StrEnum):
    ENTITY = "entity"
    PERSON = "person"
    RELATIONSHIP = "relationship"


class Status(enum.StrEnum):
    """BODS 0.4 recordStatus; a 0.3 statement is NEW, or UPDATED when it replaces others."""

    NEW = "new"
    UPDATED = "updated"
    CLOSED = "closed"


class Directness(enum.StrEnum):
    DIRECT = "direct"
    INDIRECT = "indirect"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class Share:
    """A share of equity or votes: exact, or a range (a missing bound is 0 or 1)."""

    exact: float | None = None
    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: bool = False
    exclusive_maximum: bool = False

    @property
    def low(self) -> float:
        return self.exact if self.exact is not None else (self.minimum or 0.0)

    @property
    def high(self) -> float:
        if self.exact is not None:
            return self.exact
        return 1.0 if self.maximum is None else self.maximum


@dataclass(frozen=True)
class Interest:
    # The interestType code ("shareholding", ...); "" when the statement gives none.
    type: str
    directness: Directness
    share: Share | None = None
    start: dt.date | None = None
    end: dt.date | None = None
    details: str = ""


@dataclass(frozen=True)
class Ref:
    """One side of a relationship: a record, or why none can be named."""

    # The record id (0.4) or statement id (0.3) it names; "" when unspecified.
    record_id: str = ""
    # What the statement says the record is (0.3 says it: describedByPersonStatement).
    expected: RecordType | None = None
    # When no record is named: the unspecifiedReason ("noBeneficialOwners", ...).
    unspecified: str = ""

    @property
    def named(self) -> bool:
        return bool(self.record_id)


@dataclass(frozen=True)
class Source:
    """Where a statement comes from (BODS source and publicationDetails)."""

    types: tuple[str, ...] = ()
    asserted_by: tuple[str, ...] = ()
    url: str = ""
    publisher: str = ""
    statement_date: dt.date | None = None
    publication_date: dt.date | None = None


@dataclass(frozen=True)
class Party:
    """What an entity or person statement says about its record."""

    name: str = ""
    # ISO 3166-1 alpha-2 (jurisdiction of an entity, first nationality of a person); "" unknown.
    country: str = ""
    # entityType.type or personType ("registeredEntity", "knownPerson", ...).
    subtype: str = ""
    # An http(s) URI the statement gives for the party.
    uri: str = ""
    # The catalog kind dpmatch's own export wrote ("vendor", ...); "" for other publishers.
    kind_hint: str = ""


@dataclass(frozen=True)
class Relationship:
    subject: Ref
    interested: Ref
    interests: tuple[Interest, ...] = ()
    # Records the statement lists as the components of an indirect relationship.
    components: tuple[str, ...] = ()


@dataclass(frozen=True)
class Statement:
    # 0-based position in the import call.
    index: int
    statement_id: str
    # "0.4" or "0.3" (the shape it was read from).
    version: str
    record_type: RecordType
    record_id: str
    status: Status
    is_component: bool = False
    # Statement ids this one replaces (BODS 0.3 replacesStatements).
    replaces: tuple[str, ...] = ()
    source: Source = field(default_factory=Source)
    party: Party | None = None
    relationship: Relationship | None = None
    # A short hash of ``meaning()`` as read (before references are resolved).
    content: str = ""

    def meaning(self) -> tuple[object, ...]:
        """What the statement says, without where it comes from.

        Two statements with one id and the same meaning are one statement
        published twice (perhaps with more metadata the second time).
        """
        return (
            self.record_type,
            self.record_id if self.version == "0.4" else "",
            self.status,
            self.replaces,
            self.party,
            self.relationship,
            self.date if self._dated_by_statement() else None,
        )

    def _dated_by_statement(self) -> bool:
        """Whether the statement's own date decides an effective date of what it says."""
        rel = self.relationship
        if rel is None:
            return False
        closing = self.status is Status.CLOSED
        return not rel.interests or any(
            i.start is None or (closing and i.end is None) for i in rel.interests
        )

    @property
    def date(self) -> dt.date | None:
        """The date the statement speaks for: statementDate, else publicationDate."""
        return self.source.statement_date or self.source.publication_date
