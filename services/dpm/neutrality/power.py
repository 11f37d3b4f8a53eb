"""Voting power of a holder without a majority: the raw Banzhaf index.

The game: the vendor's shareholder vote, won by a coalition holding more than
half of all the votes (the unrecorded float takes no side). The players are
the holder and the n other recorded holders. The raw Banzhaf index of the
holder is the share of the 2^n coalitions of the others that lose without it
and win with it:

    beta = #{S : w(S) <= 1/2 < w(S) + w} / 2^n

Computed by dynamic programming over vote weights, never by enumerating
coalitions: with each weight an integer number of units, p[s] = the share of
coalitions of the players seen so far whose weight is s units. Each player
folds in as p <- (p + p shifted by its weight) / 2, and sums above one half
are dropped because they can never be decisive. That is O(n * units) time
and O(units) memory: thousands of holders in milliseconds.

Precision. Weights are rounded to 1/units of the votes: 1e-6 for up to 20
other holders, 1e-5 up to 200, 1e-4 beyond (so n * units stays near 10^7
steps). The index is then exactly that of the game with rounded weights
(float64 holds each p[s] exactly while n <= 53: every p[s] is a multiple of
2^-n below 1), and differs from the unrounded game only through coalitions
whose weight lies within n/2 units of one half. Shares registers state as
percentages with two decimals are multiples of 1e-4: exact at every size.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def units_for(players: int) -> int:
    """Resolution (units per whole) for a game with ``players`` other holders."""
    if players <= 20:
        return 1_000_000
    if players <= 200:
        return 100_000
    return 10_000


def banzhaf(weight: float, others: Sequence[float], units: int | None = None) -> float:
    """Raw Banzhaf index of a holder with ``weight`` of the votes, against ``others``.

    ``others`` are the vote fractions of the other recorded holders; winning
    takes more than half of all the votes.
    """
    if units is None:
        units = units_for(len(others))
    w = round(weight * units)
    if w <= 0:
        return 0.0
    # Winning: more than half of all the votes; q = the most a losing coalition has.
    q = units // 2
    p = np.zeros(q + 1)
    p[0] = 1.0
    for share in others:
        x = round(share * units)
        if x <= 0:
            continue  # a player of no weight doubles the coalitions, shares unchanged
        if x > q:
            p *= 0.5  # with it, a coalition is above one half: never decisive
            continue
        shifted = np.zeros_like(p)
        shifted[x:] = p[: q + 1 - x]
        p = 0.5 * (p + shifted)
    # Decisive: q - w < w(S) <= q.
    return float(p[max(0, q - w + 1) :].sum())
