"""Ranking many clients against one catalog: numpy selects, the engine decides.

``engine.rank`` scores every vendor for one client in plain Python. At
register scale (10^3 vendors, 10^4-10^5 clients re-matched after an ownership
event) a recommendation set only keeps ``limit`` ranked and ``limit`` excluded
vendors (``engine.truncate``), so most of that work is thrown away.

Here the catalog is laid out once as arrays (``VendorTable``), each distinct
neutrality result once (``NeutralityColumn``), and each distinct
``Requirements`` once per table (its masks and score parts, cached: many labs
share templates). ``rank_top`` then computes, over all vendors at once, the
hard-filter masks and an *approximate* score, selects the vendors that can be
in the top ``limit`` (the engine's rounding to ``SCORE_DIGITS`` is reproduced;
where numpy's summation order could tip it, both neighbouring values are
allowed for), and builds the results of only those with the engine's own
functions. Every number and message returned
comes from the Python code, so the result equals
``engine.truncate(*engine.rank(...), limit)`` exactly; numpy only chooses whom
to look at.

Pure: no I/O.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from dpm.matching import engine
from dpm.matching.engine import (
    CERTIFICATION_ALSO_SATISFIES,
    SCORE_DIGITS,
    RankedSet,
)
from dpm.matching.model import (
    Candidate,
    Capability,
    Certification,
    ExcludedVendor,
    Modality,
    Need,
    Requirements,
    VendorNeutrality,
    Verdict,
    Weights,
)
from dpm.platform.names import OrganizationName
from dpm.platform.regions import EU_MEMBERS

Bools = npt.NDArray[np.bool_]
Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]

MODALITY_CODES: Mapping[Modality, int] = {m: i for i, m in enumerate(Modality)}
CERTIFICATION_BITS: Mapping[Certification, int] = {c: 1 << i for i, c in enumerate(Certification)}

# The engine orders by the score rounded to SCORE_DIGITS, i.e. by the bucket
# floor(score * 10^6 + 0.5). An approximate score this close (in buckets, so
# 1e-9 in score) to a rounding boundary may fall in either neighbouring bucket;
# any other lands in the engine's bucket: numpy's summation order changes a
# score by ~1e-15.
BOUNDARY = 1e-3

# Distinct requirements kept per table.
TEMPLATE_CACHE_SIZE = 1024
# Per requirements, the engine's results kept per (vendor, verdict): clients
# sharing a template and a verdict on a vendor get the same object. 0: none.
OUTCOME_CACHE_SIZE = 16_384
# Distinct verdicts numbered per table before the numbering starts afresh.
VERDICT_NUMBERS_SIZE = 65_536


def _certification_mask(certifications: Sequence[Certification]) -> int:
    bits = 0
    for cert in certifications:
        bits |= CERTIFICATION_BITS[cert]
    return bits


def _satisfied_mask(held: Sequence[Certification]) -> int:
    satisfied = set(held)
    for cert in held:
        satisfied |= CERTIFICATION_ALSO_SATISFIES.get(cert, frozenset())
    return _certification_mask(list(satisfied))


def _allowed_set(allowed: Sequence[str]) -> set[str]:
    """As ``engine._region_ok`` reads the client's regions."""
    return {r.strip().upper() for r in allowed if r.strip()}


@dataclass(frozen=True)
class _Template:
    """What one ``Requirements`` gives over a table, whatever the neutrality."""

    requirements: Requirements
    weights: Weights
    cheapest: list[float]
    # Capability, certification, region and clearance filters all passed.
    base_ok: Bools
    # Score parts in [0, 1] (meaningful where base_ok).
    fit: Floats
    quality: Floats
    price: Floats
    # Per vendor index, ``engine.coverage_of``: filled for the vendors looked at.
    coverage: dict[int, list[Capability | None]] = field(default_factory=dict)
    # engine.evaluate's result per (vendor index, verdict number), up to OUTCOME_CACHE_SIZE.
    outcomes: dict[tuple[int, int], engine._Scored | ExcludedVendor] = field(default_factory=dict)


@dataclass(eq=False)
class VendorTable:
    """A catalog snapshot as arrays; build once, rank many clients against it.

    Holds caches that ``rank_top`` fills: use one table from one thread.
    """

    candidates: tuple[Candidate, ...]
    index: Mapping[OrganizationName, int]
    # Vendor indices in name order.
    by_name: Ints
    # Each vendor's position in name order.
    name_rank: Ints
    # Capability rows, grouped by modality code: row indices into the cap_* arrays.
    cap_vendor: Ints
    cap_quality: Floats
    cap_price: Floats
    cap_capacity: Floats
    rows_of: Mapping[int, Ints]
    # Mean capability quality per vendor (the quality part when nothing is needed).
    mean_quality: Floats
    satisfied: Ints
    region_vendor: Ints
    region_code: Ints
    region_vocabulary: tuple[str, ...]
    clearance: Bools
    # False when a quality or price is NaN or infinite: then rank_top runs the
    # engine itself (no rounding argument holds for NaN).
    finite: bool
    _templates: OrderedDict[Requirements, _Template] = field(default_factory=OrderedDict)
    # A number per distinct verdict (equal verdicts, one number): cheap cache keys.
    # Forgotten when it grows past VERDICT_NUMBERS_SIZE; numbers are never reused,
    # so an outcome cached under an old number is only never found again.
    _verdict_numbers: dict[VendorNeutrality | None, int] = field(default_factory=dict)
    _next_number: int = 0

    @classmethod
    def build(cls, candidates: Sequence[Candidate]) -> VendorTable:
        """Raises ValueError on duplicate vendor names, as ``engine.rank`` does."""
        engine.check_unique(candidates)
        vendors = tuple(candidates)
        caps = [(i, c) for i, v in enumerate(vendors) for c in v.profile.capabilities]
        cap_vendor = np.array([i for i, _ in caps], dtype=np.int64)
        cap_modality = np.array([MODALITY_CODES[c.modality] for _, c in caps], dtype=np.int64)
        cap_quality = np.array([c.quality for _, c in caps], dtype=np.float64)
        cap_price = np.array([c.unit_price_usd for _, c in caps], dtype=np.float64)
        cap_capacity = np.array([c.monthly_capacity for _, c in caps], dtype=np.float64)
        rows_of = {
            code: np.flatnonzero(cap_modality == code) for code in np.unique(cap_modality).tolist()
        }
        n = len(vendors)
        counts = np.bincount(cap_vendor, minlength=n)
        sums = np.bincount(cap_vendor, weights=cap_quality, minlength=n)
        mean_quality = np.where(counts > 0, sums / np.maximum(counts, 1), 0.0)
        vocabulary: dict[str, int] = {}
        region_pairs = [
            (i, vocabulary.setdefault(r.strip().upper(), len(vocabulary)))
            for i, v in enumerate(vendors)
            for r in (*v.profile.workforce_regions, *v.profile.data_residency_regions)
        ]
        order = sorted(range(n), key=lambda i: vendors[i].name)
        return cls(
            candidates=vendors,
            index={v.name: i for i, v in enumerate(vendors)},
            by_name=np.array(order, dtype=np.int64),
            name_rank=np.argsort(np.array(order, dtype=np.int64)),
            cap_vendor=cap_vendor,
            cap_quality=cap_quality,
            cap_price=cap_price,
            cap_capacity=cap_capacity,
            rows_of=rows_of,
            mean_quality=mean_quality,
            satisfied=np.array(
                [_satisfied_mask(v.profile.certifications) for v in vendors], dtype=np.int64
            ),
            region_vendor=np.array([i for i, _ in region_pairs], dtype=np.int64),
            region_code=np.array([k for _, k in region_pairs], dtype=np.int64),
            region_vocabulary=tuple(vocabulary),
            clearance=np.array([v.profile.security_clearance for v in vendors], dtype=np.bool_),
            finite=bool(np.isfinite(cap_quality).all() and np.isfinite(cap_price).all()),
        )

    def __len__(self) -> int:
        return len(self.candidates)

    def neutrality_column(
        self, mapping: Mapping[OrganizationName, VendorNeutrality]
    ) -> NeutralityColumn:
        """One neutrality result aligned to the table (verdicts on other vendors are ignored)."""
        verdicts = tuple(mapping.get(v.name) for v in self.candidates)
        present = np.array([v is not None for v in verdicts], dtype=np.bool_)
        conflicted = np.array(
            [v is not None and v.verdict is Verdict.CONFLICTED for v in verdicts], dtype=np.bool_
        )
        scores = np.array([v.score if v is not None else 0 for v in verdicts], dtype=np.float64)
        return NeutralityColumn(
            table=self,
            mapping=mapping,
            verdicts=verdicts,
            verdict_numbers=[self._number(v) for v in verdicts],
            ok=present & ~conflicted,
            score=scores,
            part=np.clip(scores / 100.0, 0.0, 1.0),
        )

    def _number(self, verdict: VendorNeutrality | None) -> int:
        found = self._verdict_numbers.get(verdict)
        if found is not None:
            return found
        if len(self._verdict_numbers) >= VERDICT_NUMBERS_SIZE:
            self._verdict_numbers.clear()
        self._next_number += 1
        self._verdict_numbers[verdict] = self._next_number
        return self._next_number

    def template(self, requirements: Requirements) -> _Template:
        """The arrays of one ``Requirements``, from the cache when a client shared them."""
        found = self._templates.get(requirements)
        if found is not None:
            self._templates.move_to_end(requirements)
            return found
        made = self._make_template(requirements)
        self._templates[requirements] = made
        if len(self._templates) > TEMPLATE_CACHE_SIZE:
            self._templates.popitem(last=False)
        return made

    # The template -------------------------------------------------------------

    def _make_template(self, requirements: Requirements) -> _Template:
        n = len(self)
        needs = requirements.needs
        ok = self._certifications_ok(requirements) & self._regions_ok(requirements.allowed_regions)
        if requirements.requires_security_clearance:
            ok &= self.clearance
        cheapest: list[float] = []
        if not needs:
            ones = np.ones(n)
            return _Template(
                requirements=requirements,
                weights=engine.normalized_weights(requirements.weights),
                cheapest=cheapest,
                base_ok=ok,
                fit=ones,
                quality=np.clip(self.mean_quality, 0.0, 1.0),
                price=ones,
            )
        need_weights = engine._need_weights(needs)
        fit_sum = np.zeros(n)
        weight_sum = np.zeros(n)
        count = np.zeros(n)
        covered_rows = []
        for need, w in zip(needs, need_weights, strict=True):
            covered, frac, quality, price, low = self._best_for(need)
            cheapest.append(low)
            covered_rows.append((covered, w, quality, price))
            fit_sum += np.where(covered, w * frac, 0.0)
            weight_sum += np.where(covered, w, 0.0)
            count += covered
        # As engine._score: means by volume over the covered needs, alike when
        # those volumes are all 0.
        alike = weight_sum <= 0
        quality_sum = np.zeros(n)
        price_sum = np.zeros(n)
        for covered, w, quality, price in covered_rows:
            mean_weight = np.where(covered, np.where(alike, 1.0, w), 0.0)
            quality_sum += mean_weight * quality
            price_sum += mean_weight * price
        denominator = np.where(alike, count, weight_sum)
        denominator = np.where(denominator > 0, denominator, 1.0)
        return _Template(
            requirements=requirements,
            weights=engine.normalized_weights(requirements.weights),
            cheapest=cheapest,
            base_ok=ok & (count > 0),
            fit=np.clip(fit_sum / sum(need_weights), 0.0, 1.0),
            quality=np.clip(quality_sum / denominator, 0.0, 1.0),
            price=np.clip(price_sum / denominator, 0.0, 1.0),
        )

    def _best_for(self, need: Need) -> tuple[Bools, Floats, Floats, Floats, float]:
        """Per vendor: covered?, then the covered fraction, quality and price part of
        ``engine.best_capability``; and the cheapest known price covering the need."""
        n = len(self)
        rows = self.rows_of.get(MODALITY_CODES[need.modality], np.zeros(0, dtype=np.int64))
        quality = self.cap_quality[rows]
        price = self.cap_price[rows]
        covering = quality >= need.min_quality
        if need.max_unit_price_usd != 0:
            covering &= price <= need.max_unit_price_usd
        rows, quality, price = rows[covering], quality[covering], price[covering]
        known = price[price > 0]
        # min returns one of the prices: exactly engine._cheapest_prices's value.
        low = float(known.min()) if known.size else 0.0
        capacity = self.cap_capacity[rows]
        if need.monthly_volume <= 0:
            frac = np.ones(rows.size)
        else:
            frac = np.where(capacity <= 0, 1.0, np.minimum(1.0, capacity / need.monthly_volume))
        vendor = self.cap_vendor[rows]
        # Per vendor the last row in (vendor, fraction, quality, -price) order: the max.
        order = np.lexsort((-price, quality, frac, vendor))
        vendor = vendor[order]
        last = np.ones(vendor.size, dtype=np.bool_)
        last[:-1] = vendor[1:] != vendor[:-1]
        chosen = order[last]
        who = vendor[last]
        chosen_price = price[chosen]
        price_part = np.where(
            chosen_price <= 0,
            1.0,
            np.minimum(1.0, low / np.where(chosen_price > 0, chosen_price, 1.0)),
        )
        covered = np.zeros(n, dtype=np.bool_)
        covered[who] = True
        out_frac, out_quality, out_price = np.zeros(n), np.zeros(n), np.zeros(n)
        out_frac[who] = frac[chosen]
        out_quality[who] = quality[chosen]
        out_price[who] = price_part
        return covered, out_frac, out_quality, out_price, low

    def _certifications_ok(self, requirements: Requirements) -> Bools:
        required = _certification_mask(requirements.required_certifications)
        return np.asarray((self.satisfied & required) == required, dtype=np.bool_)

    def _regions_ok(self, allowed: Sequence[str]) -> Bools:
        allowed_set = _allowed_set(allowed)
        if not allowed_set:
            return np.ones(len(self), dtype=np.bool_)
        eu = "EU" in allowed_set
        admitted = np.array(
            [code in allowed_set or (eu and code in EU_MEMBERS) for code in self.region_vocabulary],
            dtype=np.bool_,
        )
        ok = np.zeros(len(self), dtype=np.bool_)
        if admitted.size:
            ok[self.region_vendor[admitted[self.region_code]]] = True
        return ok


@dataclass(frozen=True, eq=False)
class NeutralityColumn:
    """One neutrality result (shared by the clients of one policy) aligned to a table."""

    table: VendorTable
    mapping: Mapping[OrganizationName, VendorNeutrality]
    verdicts: tuple[VendorNeutrality | None, ...]
    verdict_numbers: list[int]
    # Scored and not CONFLICTED: no NEUTRALITY exclusion.
    ok: Bools
    # The neutrality part of the score, score / 100 in [0, 1].
    # The neutrality score (0 where not scored): the engine's first tie-break.
    score: Floats
    part: Floats


def approximate_scores(
    table: VendorTable, requirements: Requirements, neutrality: NeutralityColumn
) -> tuple[Bools, Floats]:
    """Per vendor: passes every filter?, and its score before rounding, up to float
    summation order (the engine's score is this rounded to ``SCORE_DIGITS``).

    Only meaningful where quality, price and the needs' limits are finite.
    """
    template = table.template(requirements)
    w = template.weights
    scores = (
        w.fit * template.fit
        + w.quality * template.quality
        + w.price * template.price
        + w.neutrality * neutrality.part
    )
    return template.base_ok & neutrality.ok, scores


def _contenders(
    table: VendorTable, neutrality: NeutralityColumn, passing: Ints, approximate: Floats, limit: int
) -> Ints:
    """The passing vendors that can be among the best ``limit`` (all when limit <= 0).

    The engine's key is (rounded score desc, neutrality score desc, name asc);
    only the rounded score is uncertain here, and only near a rounding
    boundary: there it is one of two buckets. The limit-th best key taking the
    lower bucket of each vendor is a bar at least ``limit`` vendors really
    reach; a vendor whose key taking its upper bucket is below the bar is out.
    """
    if limit <= 0 or passing.size <= limit:
        return passing
    shifted = approximate[passing] * 10.0**SCORE_DIGITS + 0.5
    low = np.floor(shifted - BOUNDARY)
    high = np.floor(shifted + BOUNDARY)
    score = neutrality.score[passing]
    name = table.name_rank[passing]
    # The limit-th best by (low desc, score desc, name asc).
    bar = np.lexsort((name, -score, -low))[limit - 1]
    bar_low, bar_score, bar_name = low[bar], score[bar], name[bar]
    keep = (high > bar_low) | (
        (high == bar_low) & ((score > bar_score) | ((score == bar_score) & (name <= bar_name)))
    )
    return passing[keep]


def _excluded_picks(table: VendorTable, passing: Bools, neutral_ok: Bools, limit: int) -> Ints:
    """The excluded vendors a set keeps: NEUTRALITY-excluded first, then the others, by name."""
    by_name = table.by_name
    first = by_name[~neutral_ok[by_name]]
    rest = by_name[(neutral_ok & ~passing)[by_name]]
    picks = np.concatenate([first, rest])
    return picks[:limit] if limit > 0 else picks


def _coverage(table: VendorTable, template: _Template, i: int) -> list[Capability | None]:
    found = template.coverage.get(i)
    if found is None:
        found = engine.coverage_of(table.candidates[i].profile, template.requirements.needs)
        template.coverage[i] = found
    return found


def _evaluate(
    table: VendorTable, template: _Template, neutrality: NeutralityColumn, i: int
) -> engine._Scored | ExcludedVendor:
    """The engine's result for vendor i: a pure function of the template and the verdict."""
    verdict = neutrality.verdicts[i]
    key = (i, neutrality.verdict_numbers[i])
    found = template.outcomes.get(key)
    if found is not None:
        return found
    outcome = engine.evaluate(
        template.requirements,
        table.candidates[i],
        _coverage(table, template, i),
        template.cheapest,
        verdict,
        template.weights,
    )
    if len(template.outcomes) < OUTCOME_CACHE_SIZE:
        template.outcomes[key] = outcome
    return outcome


def _disagree(table: VendorTable, i: int) -> AssertionError:
    return AssertionError(f"arrays and engine disagree on {table.candidates[i].name}")


def rank_top(
    table: VendorTable, requirements: Requirements, neutrality: NeutralityColumn, limit: int
) -> RankedSet:
    """``engine.truncate(*engine.rank(requirements, table.candidates, mapping), limit)``,
    computing the engine's results for only the vendors the set can keep."""
    if neutrality.table is not table:
        raise ValueError("the neutrality column was built for another table")
    if not (table.finite and _finite_needs(requirements.needs)):
        return engine.truncate(
            *engine.rank(requirements, table.candidates, neutrality.mapping), limit
        )
    template = table.template(requirements)
    passing, approximate = approximate_scores(table, requirements, neutrality)
    passing_at = np.flatnonzero(passing)
    scored: list[engine._Scored] = []
    for i in _contenders(table, neutrality, passing_at, approximate, limit).tolist():
        outcome = _evaluate(table, template, neutrality, i)
        if isinstance(outcome, ExcludedVendor):
            raise _disagree(table, i)
        scored.append(outcome)
    ranked = engine.numbered(scored)
    excluded: list[ExcludedVendor] = []
    for i in _excluded_picks(table, passing, neutrality.ok, limit).tolist():
        outcome = _evaluate(table, template, neutrality, i)
        if not isinstance(outcome, ExcludedVendor):
            raise _disagree(table, i)
        excluded.append(outcome)
    return RankedSet(
        ranked=ranked[:limit] if limit > 0 else ranked,
        excluded=excluded,
        ranked_total=int(passing_at.size),
        excluded_total=len(table) - int(passing_at.size),
    )


def _finite_needs(needs: Sequence[Need]) -> bool:
    return all(np.isfinite(n.min_quality) and np.isfinite(n.max_unit_price_usd) for n in needs)
