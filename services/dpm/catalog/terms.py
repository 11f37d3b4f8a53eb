"""What a holding says over one period: its figures and where they come from.

``Terms`` are the figures of holder -> held as one event leaves them (exact
fractions, or ranges when only those are disclosed, board seats, the event,
its source and provenance). A ``Period`` is terms in force over
[valid_from, valid_to). The periods of a pair are derived from its events
(``dpm.catalog.history``); ``holdings`` rows store them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from google.protobuf import json_format

from dpm.ownership.v1 import ownership_pb2

# Provenance as stored: its JSON (google.protobuf.json_format), None when empty.
ProvenanceJson = dict[str, Any]


@dataclass(frozen=True)
class Share:
    """A fraction known only as a range (BODS share.minimum/maximum, exclusive or not)."""

    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: bool = False
    exclusive_maximum: bool = False

    @classmethod
    def from_proto(cls, share: ownership_pb2.ShareRange) -> Share:
        return cls(
            minimum=share.minimum if share.HasField("minimum") else None,
            maximum=share.maximum if share.HasField("maximum") else None,
            exclusive_minimum=share.exclusive_minimum,
            exclusive_maximum=share.exclusive_maximum,
        )

    def to_proto(self) -> ownership_pb2.ShareRange:
        share = ownership_pb2.ShareRange(
            exclusive_minimum=self.exclusive_minimum, exclusive_maximum=self.exclusive_maximum
        )
        if self.minimum is not None:
            share.minimum = self.minimum
        if self.maximum is not None:
            share.maximum = self.maximum
        return share

    @classmethod
    def from_json(cls, value: dict[str, Any] | None) -> Share | None:
        if value is None:
            return None
        return cls(
            minimum=value.get("minimum"),
            maximum=value.get("maximum"),
            exclusive_minimum=bool(value.get("exclusive_minimum", False)),
            exclusive_maximum=bool(value.get("exclusive_maximum", False)),
        )

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.minimum is not None:
            out["minimum"] = self.minimum
        if self.maximum is not None:
            out["maximum"] = self.maximum
        if self.exclusive_minimum:
            out["exclusive_minimum"] = True
        if self.exclusive_maximum:
            out["exclusive_maximum"] = True
        return out

    @property
    def low(self) -> float:
        """The least the fraction can be (a missing minimum is 0)."""
        return self.minimum if self.minimum is not None else 0.0


@dataclass(frozen=True)
class Terms:
    """The figures of one holding as an event leaves them, and where they come from.

    A figure is exact (``equity``), a range (``equity_range``) or undisclosed
    (both None); the same for votes.
    """

    equity: float | None
    voting: float | None
    seats: int
    event_id: str
    source_url: str = ""
    provenance: ProvenanceJson | None = None
    equity_range: Share | None = None
    voting_range: Share | None = None

    @property
    def equity_low(self) -> float:
        """The least equity the holding can carry: what sums and cycle checks count."""
        return _low(self.equity, self.equity_range)

    @property
    def voting_low(self) -> float:
        return _low(self.voting, self.voting_range)

    def low(self, axis: str) -> float:
        return self.equity_low if axis == EQUITY else self.voting_low

    def strictly_above_low(self, axis: str) -> bool:
        """True when the figure is known to exceed its low (an exclusive minimum)."""
        share = self.equity_range if axis == EQUITY else self.voting_range
        return share is not None and share.exclusive_minimum

    @property
    def has_stake(self) -> bool:
        """False only for a holding known to carry no equity and no votes (board seats only)."""
        return not (
            self.equity == 0.0
            and self.voting == 0.0
            and self.equity_range is None
            and self.voting_range is None
        )

    def with_seats(self, seats: int, at: Origin) -> Terms:
        """The same figures with ``seats`` board seats, as the event ``at`` states them."""
        return Terms(
            equity=self.equity,
            voting=self.voting,
            seats=seats,
            event_id=at.event_id,
            source_url=at.source_url,
            provenance=at.provenance,
            equity_range=self.equity_range,
            voting_range=self.voting_range,
        )


EQUITY = "equity"
VOTING = "voting"
AXES = (EQUITY, VOTING)


def _low(exact: float | None, share: Share | None) -> float:
    if exact is not None:
        return exact
    return share.low if share is not None else 0.0


@dataclass(frozen=True)
class Origin:
    """The event a fold step comes from: position in history and where its facts come from."""

    seq: int
    event_id: str
    kind: str
    effective: dt.date
    source_url: str = ""
    provenance: ProvenanceJson | None = None

    def terms(
        self,
        equity: float | None,
        voting: float | None,
        seats: int,
        equity_range: Share | None = None,
        voting_range: Share | None = None,
    ) -> Terms:
        return Terms(
            equity=equity,
            voting=voting,
            seats=seats,
            event_id=self.event_id,
            source_url=self.source_url,
            provenance=self.provenance,
            equity_range=equity_range,
            voting_range=voting_range,
        )


@dataclass(frozen=True)
class Period:
    """Terms in force over [valid_from, valid_to); valid_to None while they last."""

    valid_from: dt.date
    valid_to: dt.date | None
    terms: Terms

    def in_force(self, day: dt.date) -> bool:
        return self.valid_from <= day and (self.valid_to is None or day < self.valid_to)


def provenance_json(value: ownership_pb2.Provenance) -> ProvenanceJson | None:
    if value.ByteSize() == 0:
        return None
    return json_format.MessageToDict(value, preserving_proto_field_name=True)


def provenance_proto(value: ProvenanceJson | None) -> ownership_pb2.Provenance | None:
    if not value:
        return None
    return json_format.ParseDict(value, ownership_pb2.Provenance(), ignore_unknown_fields=True)
