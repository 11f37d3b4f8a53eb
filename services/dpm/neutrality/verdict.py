"""A client's neutrality policy applied to one vendor's exposures: score, verdict, reasons.

Pure: the figures come in as dataclasses (see ``dpm.neutrality.assess``).

- score = round(100 * (1 - the largest integrated equity or voting share any
  competitor group holds)) minus 10 per competitor board seat and 10 * weight
  per leadership move toward a competitor (the weight halves every 365 days),
  clamped to [0, 100].
- CONFLICTED when a group holds more equity or votes than the policy allows
  (the limits are literal: 0 tolerates nothing), controls the vendor, holds a
  board seat and seats disqualify, made a leadership move within the window
  and such moves disqualify, or holds an undisclosed stake and the policy
  treats unknown ownership as conflicted.
- CAUTION when some competitor exposure, seat or tie exists, or an
  undisclosed stake under the (default) cautious policy.
- NEUTRAL otherwise.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from dpm.neutrality.graph import TieKind

# Exposures smaller than this are float noise, not a stake.
EPSILON = 1e-12
SEAT_PENALTY = 10.0
LEADERSHIP_PENALTY = 10.0
HALF_LIFE_DAYS = 365.0
DEFAULT_WINDOW_DAYS = 365


class Verdict(enum.StrEnum):
    NEUTRAL = "NEUTRAL"
    CAUTION = "CAUTION"
    CONFLICTED = "CONFLICTED"


class UnknownOwnership(enum.StrEnum):
    CAUTION = "CAUTION"
    CONFLICTED = "CONFLICTED"
    IGNORE = "IGNORE"


@dataclass(frozen=True)
class Policy:
    competitors: tuple[str, ...]
    max_competitor_equity: float = 0.0
    max_competitor_voting: float = 0.0
    board_seat_disqualifies: bool = False
    leadership_move_disqualifies: bool = False
    # 0 means 365 days.
    leadership_move_window_days: int = 0
    unknown_ownership: UnknownOwnership = UnknownOwnership.CAUTION

    @property
    def window_days(self) -> int:
        return self.leadership_move_window_days or DEFAULT_WINDOW_DAYS


@dataclass(frozen=True)
class ChainView:
    # Organization ids from the competitor down to the vendor.
    organizations: tuple[str, ...]
    # Product of the equity fractions from where the group's share starts.
    equity: float

    def text(self) -> str:
        return " → ".join(self.organizations)


@dataclass(frozen=True)
class Exposure:
    """What one competitor group (the competitor and what it controls) holds in a vendor."""

    competitor: str
    equity: float
    votes: float
    controls: bool = False
    # Competitor -> ... -> vendor along the links that give control.
    control_path: tuple[str, ...] = ()
    undisclosed_stake: bool = False
    # (organization, seats): seats the group holds on the vendor or its majority parents.
    seats: tuple[tuple[str, int], ...] = ()
    chains: tuple[ChainView, ...] = ()

    @property
    def board_seats(self) -> int:
        return sum(n for _, n in self.seats)

    @property
    def largest(self) -> float:
        return max(self.equity, self.votes)

    @property
    def any(self) -> bool:
        linked = self.controls or self.undisclosed_stake or self.board_seats > 0
        return linked or self.largest > EPSILON


@dataclass(frozen=True)
class TieLink:
    """A tie between the vendor (or a majority parent) and a member of a competitor's group."""

    kind: TieKind
    competitor: str
    organization: str
    counterparty: str
    effective_date: dt.date
    person: str = ""
    role: str = ""


@dataclass(frozen=True)
class TieFinding:
    kind: TieKind
    competitor: str
    description: str
    effective_date: dt.date
    weight: float
    disqualifying: bool


@dataclass(frozen=True)
class Assessment:
    vendor: str
    score: int
    verdict: Verdict
    exposures: tuple[Exposure, ...]
    ties: tuple[TieFinding, ...]
    reasons: tuple[str, ...]


def pct(fraction: float) -> str:
    """0.49 -> "49%", 15/23 -> "65.22%"."""
    text = f"{round(fraction * 100, 2):.2f}".rstrip("0").rstrip(".")
    return f"{text}%"


def decay_weight(effective: dt.date, as_of: dt.date) -> float:
    age = max(0, (as_of - effective).days)
    return float(0.5 ** (age / HALF_LIFE_DAYS))


_TIE_NOUNS = {
    TieKind.BOARD_INTERLOCK: "a board interlock",
    TieKind.EXCLUSIVE_CONTRACT: "an exclusive contract",
    TieKind.REVENUE_DEPENDENCY: "a revenue dependency",
    TieKind.DATA_SHARING: "a data-sharing agreement",
}


def describe_tie(tie: TieLink) -> str:
    if tie.kind is TieKind.LEADERSHIP_MOVE:
        who = tie.person or "a leader"
        role = f" ({tie.role})" if tie.role else ""
        return (
            f"{who}{role} moved from {tie.organization} to {tie.counterparty} "
            f"on {tie.effective_date.isoformat()}"
        )
    noun = _TIE_NOUNS.get(tie.kind, f"a {tie.kind.value}")
    return (
        f"{tie.organization} has {noun} with {tie.counterparty} "
        f"since {tie.effective_date.isoformat()}"
    )


def judge(
    vendor: str,
    exposures: Sequence[Exposure],
    ties: Iterable[TieLink],
    policy: Policy,
    as_of: dt.date,
) -> Assessment:
    conflicted: list[str] = []
    caution: list[str] = []
    penalty = 0.0
    worst = 0.0

    for e in exposures:
        worst = max(worst, e.largest)
        chain = e.chains[0].text() if e.chains else ""
        if e.equity > EPSILON:
            where = f"{chain}; " if chain else ""
            over = e.equity > policy.max_competitor_equity
            limit = "above" if over else "within"
            (conflicted if over else caution).append(
                f"{e.competitor} holds {pct(e.equity)} of the equity of {vendor} "
                f"({where}{pct(e.votes)} of the votes), "
                f"{limit} the {pct(policy.max_competitor_equity)} limit"
            )
        if e.votes > policy.max_competitor_voting:
            conflicted.append(
                f"{e.competitor} holds {pct(e.votes)} of the votes of {vendor}, "
                f"above the {pct(policy.max_competitor_voting)} voting limit"
            )
        elif e.votes > EPSILON and e.equity <= EPSILON:
            caution.append(
                f"{e.competitor} holds {pct(e.votes)} of the votes of {vendor}, "
                f"within the {pct(policy.max_competitor_voting)} voting limit"
            )
        if e.controls:
            path = f" ({' → '.join(e.control_path)})" if len(e.control_path) > 1 else ""
            conflicted.append(
                f"{e.competitor} controls {vendor}: it commands more than half of its votes{path}"
            )
        if e.undisclosed_stake and policy.unknown_ownership is not UnknownOwnership.IGNORE:
            text = f"{e.competitor} holds a stake of undisclosed size on a chain to {vendor}"
            if policy.unknown_ownership is UnknownOwnership.CONFLICTED:
                conflicted.append(f"{text}, and the policy treats unknown ownership as conflicting")
            else:
                caution.append(text)
        for org, seats in e.seats:
            penalty += SEAT_PENALTY * seats
            text = f"{e.competitor} holds {seats} board seat{'s' if seats != 1 else ''} on {org}"
            if policy.board_seat_disqualifies:
                conflicted.append(f"{text}, and the policy disqualifies competitor board seats")
            else:
                caution.append(text)

    findings: list[TieFinding] = []
    for tie in sorted(ties, key=lambda t: (t.effective_date, t.competitor, t.kind.value)):
        weight = decay_weight(tie.effective_date, as_of)
        age = (as_of - tie.effective_date).days
        disqualifying = False
        text = describe_tie(tie)
        if tie.kind is TieKind.LEADERSHIP_MOVE:
            penalty += LEADERSHIP_PENALTY * weight
            disqualifying = policy.leadership_move_disqualifies and age <= policy.window_days
        if disqualifying:
            conflicted.append(
                f"{text}, within {policy.window_days} days, and the policy disqualifies "
                "recent leadership moves"
            )
        else:
            caution.append(text)
        findings.append(
            TieFinding(tie.kind, tie.competitor, text, tie.effective_date, weight, disqualifying)
        )

    score = round(100.0 * (1.0 - min(worst, 1.0)) - penalty)
    score = max(0, min(100, score))
    if conflicted:
        verdict = Verdict.CONFLICTED
    elif caution:
        verdict = Verdict.CAUTION
    else:
        verdict = Verdict.NEUTRAL
    reasons = conflicted + caution
    if not reasons:
        names = ", ".join(policy.competitors)
        reasons = [
            f"no competitor ({names}) owns, controls or is tied to {vendor}"
            if names
            else "the policy names no competitors"
        ]
    return Assessment(
        vendor,
        score,
        verdict,
        tuple(e for e in exposures if e.any),
        tuple(findings),
        tuple(reasons),
    )
