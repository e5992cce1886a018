"""Calibration arithmetic: per-unit probabilities on a logit scale that average to a target.

Each unit's chance of, say, filing online is ``sigmoid(logit(target) + offset_unit + bump + c)``
where ``offset_unit`` is its heterogeneity, ``bump`` a stratum effect (full-process vs partial,
online vs counter) and ``c`` one province-wide shift solved so that the volume-weighted mean
over units and strata equals the target exactly (in expectation).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

_LOGIT_LIMIT = 30.0


def sigmoid(x: float) -> float:
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    z = math.exp(x)
    return z / (1.0 + z)


def logit(p: float) -> float:
    """log(p / (1 - p)), clamped to ±30 so 0 and 1 stay finite."""
    if p <= 0.0:
        return -_LOGIT_LIMIT
    if p >= 1.0:
        return _LOGIT_LIMIT
    return max(-_LOGIT_LIMIT, min(_LOGIT_LIMIT, math.log(p / (1.0 - p))))


def weighted_mean(terms: Sequence[tuple[float, float]], shift: float) -> float:
    """sum(w * sigmoid(x + shift)) / sum(w) over (w, x) terms; x = -inf means impossible."""
    total = 0.0
    weight = 0.0
    for w, x in terms:
        weight += w
        if x != -math.inf:
            total += w * sigmoid(x + shift)
    return total / weight if weight > 0 else 0.0


def _mean_and_slope(terms: Sequence[tuple[float, float]], shift: float) -> tuple[float, float]:
    total = slope = weight = 0.0
    for w, x in terms:
        weight += w
        if x != -math.inf:
            s = sigmoid(x + shift)
            total += w * s
            slope += w * s * (1.0 - s)
    return (total / weight, slope / weight) if weight > 0 else (0.0, 0.0)


def solve_shift(
    terms: Sequence[tuple[float, float]], target: float, tolerance: float = 1e-7
) -> float:
    """The shift c with ``weighted_mean(terms, c) == target``.

    The mean rises monotonically with c, so Newton steps kept inside a shrinking bracket
    [-40, 40] always converge (usually in four or five passes); a target the terms cannot
    reach (above the share of possible terms) gives the nearest end of the bracket.
    """
    lo, hi = -40.0, 40.0
    c = 0.0
    for _ in range(100):
        mean, slope = _mean_and_slope(terms, c)
        error = mean - target
        if abs(error) < tolerance:
            return c
        if error < 0:
            lo = c
        else:
            hi = c
        step = c - error / slope if slope > 1e-12 else (lo + hi) / 2
        c = step if lo < step < hi else (lo + hi) / 2
        if hi - lo < 1e-12:
            break
    return c
