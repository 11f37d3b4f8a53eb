"""A client's neutrality policy applied to one vendor's figures: score, verdict, reasons.

Pure: the figures come in as dataclasses (see ``dpm.neutrality.assess``).
Every figure keeps its own name in the reasons (look-through equity,
directed votes, control, voting power, weakest link, wedge); none is
reported under another's name.

- score = round(100 * (1 - the largest look-through equity or directed votes
  any competitor has in the vendor)) minus 10 per competitor board seat and
  10 * weight per leadership move toward a competitor (the weight halves
  every 365 days), clamped to [0, 100]. The vendor being the competitor
  counts as 1.
- CONFLICTED when a competitor's look-through equity is above the equity
  limit, its directed votes above the voting limit, its voting power above
  the voting-power limit (the limits are literal: 0 tolerates nothing), it
  controls the vendor, holds a board seat and seats disqualify, made a
  leadership move within the window and such moves disqualify, holds an
  undisclosed stake and the policy treats unknown ownership as conflicted;
  or when the vendor is blocked under the restricted-parties rule.
- CAUTION when some competitor exposure, seat, tie, undisclosed stake
  (default policy), restricted-party stake below the threshold, or a part of
  the graph the vendor depends on that cannot be assessed, exists.
- NEUTRAL otherwise.

Limits apply to each figure's ``value``: the reading the policy's decisive
bound picks (see ``Figure``).
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from dpm.neutrality.graph import GraphProblem, Provenance, Share, TieKind

# Exposures smaller than this are float noise, not a stake.
EPSILON = 1e-12
# Bounds closer than this print as one figure.
SAME = 5e-7
SEAT_PENALTY = 10.0
LEADERSHIP_PENALTY = 10.0
HALF_LIFE_DAYS = 365.0
DEFAULT_WINDOW_DAYS = 365
OFAC_THRESHOLD = 0.5


class Verdict(enum.StrEnum):
    NEUTRAL = "NEUTRAL"
    CAUTION = "CAUTION"
    CONFLICTED = "CONFLICTED"


class UnknownOwnership(enum.StrEnum):
    CAUTION = "CAUTION"
    CONFLICTED = "CONFLICTED"
    IGNORE = "IGNORE"


class Bound(enum.StrEnum):
    """Which bound of a range the policy's limits apply to."""

    UPPER = "upper"
    LOWER = "lower"


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
    # Banzhaf limit for competitors without a majority; None = no limit.
    max_competitor_voting_power: float | None = None
    decisive_bound: Bound = Bound.UPPER
    # Organization (or person) ids blocked under the OFAC 50 Percent Rule.
    restricted_parties: tuple[str, ...] = ()

    @property
    def window_days(self) -> int:
        return self.leadership_move_window_days or DEFAULT_WINDOW_DAYS


def pct(fraction: float) -> str:
    """0.49 -> "49%", 15/23 -> "65.22%"."""
    text = f"{round(fraction * 100, 2):.2f}".rstrip("0").rstrip(".")
    return "0%" if text == "-0" else f"{text}%"


@dataclass(frozen=True)
class Figure:
    """A figure and its bounds: value is what the limits apply to (see the proto)."""

    value: float
    lower: float
    upper: float

    @classmethod
    def exact(cls, value: float) -> Figure:
        return cls(value, value, value)

    @property
    def is_exact(self) -> bool:
        return self.upper - self.lower <= SAME

    def text(self) -> str:
        """ "30%", or "between 25% and 50%" when the bounds differ."""
        if self.is_exact:
            return pct(self.value)
        return f"between {pct(self.lower)} and {pct(self.upper)}"


ZERO = Figure.exact(0.0)


def share_text(share: Share) -> str:
    """A registered share as its source states it: "49%", "between 25% and 50%",
    "more than 25% and at most 50%", "an undisclosed part"."""
    if not share.disclosed:
        return "an undisclosed part"
    if share.lower == share.upper:
        return pct(share.lower)
    low_word = "more than" if share.exclusive_lower else "at least"
    high_word = "less than" if share.exclusive_upper else "at most"
    if share.lower == 0.0 and not share.exclusive_lower:
        return f"{high_word} {pct(share.upper)}"
    if share.upper == 1.0 and not share.exclusive_upper:
        return f"{low_word} {pct(share.lower)}"
    if not (share.exclusive_lower or share.exclusive_upper):
        return f"between {pct(share.lower)} and {pct(share.upper)}"
    return f"{low_word} {pct(share.lower)} and {high_word} {pct(share.upper)}"


def with_source(text: str, provenance: Provenance | None) -> str:
    source = provenance.text() if provenance else ""
    return f"{text} ({source})" if source else text


@dataclass(frozen=True)
class LinkView:
    """One holding along a chain, as recorded."""

    holder: str
    held: str
    equity: Figure
    votes: Figure
    # The shares as the source states them (None when several holdings were summed).
    equity_share: Share | None = None
    votes_share: Share | None = None
    provenance: Provenance | None = None

    @property
    def undisclosed(self) -> bool:
        shares = (self.equity_share, self.votes_share)
        return any(s is not None and not s.disclosed for s in shares)

    def text(self) -> str:
        """One sentence stating the holding, with its source."""
        e = share_text(self.equity_share) if self.equity_share else self.equity.text()
        v = share_text(self.votes_share) if self.votes_share else self.votes.text()
        if self.equity_share is not None and not self.equity_share.disclosed:
            what = f"{self.holder} holds a stake of undisclosed size in {self.held}"
            if self.votes_share is not None and self.votes_share.disclosed:
                what += f" with {v} of its votes"
        elif e == v:
            what = f"{self.holder} holds {e} of the equity and votes of {self.held}"
        elif self.votes.upper <= EPSILON:
            what = f"{self.holder} holds {e} of the equity of {self.held} and none of its votes"
        else:
            what = f"{self.holder} holds {e} of the equity of {self.held} and {v} of its votes"
        return with_source(what, self.provenance)


@dataclass(frozen=True)
class ChainView:
    # Organization ids from the competitor down to the vendor.
    organizations: tuple[str, ...]
    # Product of the equity fractions along the chain (decisive values).
    equity: float
    # The smallest vote fraction along the chain (decisive values).
    weakest_link: float = 0.0
    links: tuple[LinkView, ...] = ()

    def text(self) -> str:
        return " → ".join(self.organizations)


@dataclass(frozen=True)
class DirectedPart:
    """Votes of the vendor held by one member of the competitor's group."""

    holder: str
    # The holder's fraction of the vendor's votes (decisive value).
    votes: float
    # For a controlled entity: the competitor's directed votes in it, and the control path.
    holder_votes: float = 0.0
    path: tuple[str, ...] = ()


@dataclass(frozen=True)
class VotingPower:
    index: Figure
    other_holders: int


@dataclass(frozen=True)
class Exposure:
    """What one competitor holds, directs and controls in a vendor."""

    competitor: str
    look_through_equity: Figure = ZERO
    look_through_votes: Figure = ZERO
    directed_votes: Figure = ZERO
    controls: bool = False
    # Competitor -> ... -> vendor along the links that give control.
    control_path: tuple[str, ...] = ()
    could_control: bool = False
    is_competitor: bool = False
    weakest_link: Figure = ZERO
    voting_power: VotingPower | None = None
    directed_parts: tuple[DirectedPart, ...] = ()
    undisclosed_stake: bool = False
    # (organization, seats): seats the group holds on the vendor or its majority parents.
    seats: tuple[tuple[str, int], ...] = ()
    chains: tuple[ChainView, ...] = ()
    # Why the figures could not be computed ("" when they were).
    unavailable: str = ""

    @property
    def board_seats(self) -> int:
        return sum(n for _, n in self.seats)

    @property
    def largest(self) -> float:
        if self.is_competitor:
            return 1.0
        return max(self.look_through_equity.value, self.directed_votes.value)

    @property
    def wedge(self) -> float | None:
        """Look-through votes over look-through equity, when they differ."""
        equity, votes = self.look_through_equity.value, self.look_through_votes.value
        if equity <= EPSILON or abs(votes - equity) <= SAME:
            return None
        return votes / equity

    @property
    def any(self) -> bool:
        linked = (
            self.controls
            or self.could_control
            or self.undisclosed_stake
            or self.board_seats > 0
            or bool(self.unavailable)
        )
        figures = (self.look_through_equity, self.look_through_votes, self.directed_votes)
        return linked or any(f.upper > EPSILON for f in figures)


@dataclass(frozen=True)
class BlockedHolder:
    holder: str
    # Its direct equity stake in the vendor (decisive value).
    stake: float
    # Restricted party -> ... -> holder along the stakes that blocked each step.
    path: tuple[str, ...]


@dataclass(frozen=True)
class RestrictedFinding:
    """The OFAC 50 Percent Rule applied to the vendor."""

    named: bool
    blocked: bool
    could_be_blocked: bool
    aggregate: Figure
    holders: tuple[BlockedHolder, ...] = ()

    def holders_text(self) -> str:
        parts = []
        for h in self.holders:
            how = (
                "a restricted party"
                if len(h.path) <= 1
                else f"blocked through {' → '.join(h.path)}"
            )
            parts.append(f"{h.holder} {pct(h.stake)}, {how}")
        return "; ".join(parts)


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
    provenance: Provenance | None = None


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
    unknown_ownership: Figure = ZERO
    restricted: RestrictedFinding | None = None
    problems: tuple[GraphProblem, ...] = ()


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


class _Reasons:
    """Sentences sorted by what they do to the verdict."""

    def __init__(self) -> None:
        self.conflicted: list[str] = []
        self.caution: list[str] = []
        self.notes: list[str] = []

    def limit(self, over: bool, text: str) -> None:
        (self.conflicted if over else self.caution).append(text)

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)


def _limit_words(figure: Figure, limit: float, policy: Policy, noun: str) -> tuple[bool, str]:
    over = figure.value > limit
    where = "above" if over else "within"
    at = "" if figure.is_exact else f" at its {policy.decisive_bound.value} bound"
    return over, f"{where} the {pct(limit)} {noun}{at}"


def _directed_sentence(e: Exposure, vendor: str, tail: str) -> str:
    """How the competitor's directed votes in the vendor add up, then ``tail``."""
    c = e.competitor
    figure = e.directed_votes.text()
    own = [p for p in e.directed_parts if p.holder == c]
    others = [p for p in e.directed_parts if p.holder != c]
    if not others:
        return f"{c} directs {figure} of {vendor}'s votes, its own stake, {tail}"
    parts = []
    for p in others:
        via = f", through {' → '.join(p.path)}" if len(p.path) > 2 else ""
        parts.append(
            f"{c} controls {p.holder} ({pct(p.holder_votes)} of its votes{via}), "
            f"which holds {pct(p.votes)} of {vendor}'s votes"
        )
    if own:
        parts.append(f"{c} holds {pct(own[0].votes)} itself")
    return f"{'; '.join(parts)}: {c} directs {figure} of {vendor}'s votes, {tail}"


def _exposure_reasons(e: Exposure, vendor: str, policy: Policy, out: _Reasons) -> None:
    c = e.competitor
    if e.is_competitor:
        out.conflicted.append(f"{vendor} is the competitor {c} itself")
        return
    if e.unavailable:
        out.caution.append(f"{c}'s exposure in {vendor} could not be computed: {e.unavailable}")
    chain = e.chains[0] if e.chains else None
    if e.controls:
        out.conflicted.append(
            _directed_sentence(e, vendor, f"more than half, so {c} controls {vendor}")
        )
    if e.look_through_equity.value > EPSILON:
        over, words = _limit_words(
            e.look_through_equity, policy.max_competitor_equity, policy, "equity limit"
        )
        where = f" ({chain.text()})" if chain else ""
        out.limit(
            over,
            f"{c}'s look-through equity in {vendor} is {e.look_through_equity.text()}{where}, "
            f"{words}",
        )
    if not e.controls and e.directed_votes.value > EPSILON:
        over, words = _limit_words(
            e.directed_votes, policy.max_competitor_voting, policy, "voting limit"
        )
        out.limit(over, _directed_sentence(e, vendor, words))
    if e.voting_power is not None and e.voting_power.index.value > EPSILON:
        power = e.voting_power
        n = power.other_holders
        text = (
            f"{c}'s voting power in {vendor} is {power.index.text()} (Banzhaf index: the share "
            f"of the coalitions of the {n} other recorded holder{'s' if n != 1 else ''} that "
            f"{c}'s votes turn from losing into winning)"
        )
        limit = policy.max_competitor_voting_power
        if limit is None:
            out.note(text)
        else:
            over, words = _limit_words(power.index, limit, policy, "voting-power limit")
            out.limit(over, f"{text}, {words}")
    if e.could_control and not e.controls and not e.undisclosed_stake:
        out.caution.append(
            f"{c} could control {vendor}: with every range at its maximum it would direct "
            f"{pct(e.directed_votes.upper)} of {vendor}'s votes"
        )
    if e.undisclosed_stake and policy.unknown_ownership is not UnknownOwnership.IGNORE:
        text = f"{c} holds a stake of undisclosed size on a chain to {vendor}"
        bits = []
        if e.look_through_equity.upper > e.look_through_equity.value + SAME:
            bits.append(
                f"its look-through equity in {vendor} could be up to "
                f"{pct(e.look_through_equity.upper)}"
            )
        if e.could_control and not e.controls:
            bits.append(f"it could control {vendor}")
        if bits:
            text += ": " + " and ".join(bits)
        if policy.unknown_ownership is UnknownOwnership.CONFLICTED:
            out.conflicted.append(f"{text}, and the policy treats unknown ownership as conflicting")
        else:
            out.caution.append(text)
    for org, seats in e.seats:
        text = f"{c} holds {seats} board seat{'s' if seats != 1 else ''} on {org}"
        if policy.board_seat_disqualifies:
            out.conflicted.append(f"{text}, and the policy disqualifies competitor board seats")
        else:
            out.caution.append(text)
    wedge = e.wedge
    if wedge is not None:
        meaning = (
            "its stake carries no votes"
            if wedge <= EPSILON
            else "its shares carry fewer votes than equity"
            if wedge < 1
            else "its shares carry more votes than equity"
        )
        out.note(
            f"{c}'s look-through votes in {vendor} are {e.look_through_votes.text()} against "
            f"{e.look_through_equity.text()} of look-through equity (wedge {wedge:.2f}: {meaning})"
        )
    if chain and len(chain.organizations) > 2 and e.weakest_link.value > EPSILON:
        out.note(
            f"the weakest link of {c}'s chains to {vendor} is {e.weakest_link.text()} "
            "(no chain carries more votes than its smallest holding)"
        )
    for ch in e.chains[:1]:
        for link in ch.links:
            out.note(link.text())


def _restricted_reasons(r: RestrictedFinding, vendor: str, out: _Reasons) -> None:
    if r.named:
        out.conflicted.append(f"{vendor} is a restricted party named by the policy")
        return
    holders = r.holders_text()
    detail = f" ({holders})" if holders else ""
    if r.blocked:
        out.conflicted.append(
            f"{vendor} is blocked under the OFAC 50 Percent Rule: restricted parties and the "
            f"entities they block own {r.aggregate.text()} of its equity in aggregate{detail}, "
            f"{pct(OFAC_THRESHOLD)} or more"
        )
    elif r.aggregate.upper > EPSILON:
        text = (
            f"restricted parties and the entities they block own {r.aggregate.text()} of "
            f"{vendor}'s equity in aggregate{detail}, below the {pct(OFAC_THRESHOLD)} of the "
            "OFAC 50 Percent Rule"
        )
        if r.could_be_blocked:
            text += ", but it could be blocked with undisclosed stakes at their largest"
        out.caution.append(text)


def judge(
    vendor: str,
    exposures: Sequence[Exposure],
    ties: Iterable[TieLink],
    policy: Policy,
    as_of: dt.date,
    *,
    restricted: RestrictedFinding | None = None,
    problems: Sequence[GraphProblem] = (),
    unknown_ownership: Figure = ZERO,
) -> Assessment:
    out = _Reasons()
    penalty = 0.0
    worst = 0.0

    for e in exposures:
        worst = max(worst, e.largest)
        penalty += SEAT_PENALTY * e.board_seats
        _exposure_reasons(e, vendor, policy, out)

    findings: list[TieFinding] = []
    for tie in sorted(ties, key=lambda t: (t.effective_date, t.competitor, t.kind.value)):
        weight = decay_weight(tie.effective_date, as_of)
        age = (as_of - tie.effective_date).days
        disqualifying = False
        text = describe_tie(tie)
        sourced = with_source(text, tie.provenance)
        if tie.kind is TieKind.LEADERSHIP_MOVE:
            penalty += LEADERSHIP_PENALTY * weight
            disqualifying = policy.leadership_move_disqualifies and age <= policy.window_days
        if disqualifying:
            out.conflicted.append(
                f"{sourced}, within {policy.window_days} days, and the policy disqualifies "
                "recent leadership moves"
            )
        else:
            out.caution.append(sourced)
        findings.append(
            TieFinding(tie.kind, tie.competitor, text, tie.effective_date, weight, disqualifying)
        )

    if restricted is not None:
        _restricted_reasons(restricted, vendor, out)
    for problem in problems:
        role = "is part of it" if vendor in problem.organizations else "is held through it"
        out.caution.append(
            f"{vendor} cannot be fully assessed: {problem.description}; {vendor} {role}, and "
            "its figures leave it out"
        )

    score = round(100.0 * (1.0 - min(worst, 1.0)) - penalty)
    score = max(0, min(100, score))
    if out.conflicted:
        verdict = Verdict.CONFLICTED
    elif out.caution:
        verdict = Verdict.CAUTION
    else:
        verdict = Verdict.NEUTRAL
    reasons = out.conflicted + out.caution
    if reasons:
        reasons += [n for n in out.notes if n not in reasons]
    else:
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
        unknown_ownership,
        restricted,
        tuple(problems),
    )
