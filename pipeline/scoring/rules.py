"""Point rules of Decision 766: how one indicator's counts become points, as the portal does it.

A rule maps a numerator/denominator pair to points in ``[0, max_points]``:

    points = min(max_points, max_points * rate_pct / full_at_pct)

``full_at_pct = 100`` is the proportional rule, anything lower is "full marks at T%" (the
portal formula document's wording); the ``min`` is the cap. An empty denominator is decided
by the indicator's :class:`EmptyDenominator` policy, never by dividing by zero.

Rounding is part of the rule because the portal publishes rounded figures and a province
compares them digit by digit: each indicator's points are rounded to 2 decimals, half up, on
the exact binary value of the double the portal computed (fitted to portal data: this, and
only this, reproduces every published score in ``shared/data/portal-766``, including
``formality-online-payment-tree/month-all.json`` units H44.156 and H44.197 where 5.925 and
3.945 are stored just below the half and round down). A group's score is the sum of its
rounded indicator points, rounded again.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

POINTS_DECIMALS = 2
"""The portal publishes points with 2 decimals (portal formula document; seen in every file)."""


@dataclass(frozen=True)
class Counts:
    """One indicator's numerator and denominator for one unit and period (whole dossiers,
    procedures or complaints). Both are non-negative; a numerator above the denominator is
    allowed (late syncs can do that) and is capped by the rule, not rejected."""

    numerator: int
    denominator: int

    def __post_init__(self) -> None:
        for name in ("numerator", "denominator"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"Counts.{name} must be a non-negative int, got {value!r}")

    @property
    def is_empty(self) -> bool:
        return self.denominator == 0

    def rate_pct(self) -> float | None:
        """The rate in percent (0-100, above 100 if numerator > denominator), ``None`` if empty."""
        if self.denominator == 0:
            return None
        return self.numerator / self.denominator * 100

    def __add__(self, other: Counts) -> Counts:
        return Counts(self.numerator + other.numerator, self.denominator + other.denominator)

    def __sub__(self, other: Counts) -> Counts:
        return Counts(self.numerator - other.numerator, self.denominator - other.denominator)


@dataclass(frozen=True)
class Rate:
    """An indicator given only as a published rate in percent, without counts.

    The portal does this for item 3.7 (e-certified copies): numerator and denominator are
    ``null``, the ratio is published (``dossier-digitized/*.json``)."""

    pct: float

    def __post_init__(self) -> None:
        if isinstance(self.pct, bool) or not isinstance(self.pct, int | float):
            raise ValueError(f"Rate.pct must be a number, got {self.pct!r}")
        if not math.isfinite(self.pct) or self.pct < 0:
            raise ValueError(f"Rate.pct must be a finite non-negative percent, got {self.pct!r}")


class EmptyDenominator(enum.Enum):
    """What an indicator scores when its denominator is 0."""

    ZERO = "zero"
    """No points. The portal shows ``score: null`` and counts it as 0 in the group total
    (fitted to portal data: transparency, dossier-digitized, dvc-progress-tree,
    formality-online-payment-tree and DOSSIER_RECEIVING_SATISFACTION, every empty row)."""

    FULL = "full"
    """Full points: nothing to handle means nothing handled badly. The portal gives 6 to each
    complaint (PAKN) rate of a unit without complaints (fitted to portal data:
    ``handling-satisfaction/month-all.json``, 145 units; spec 5.1/5.2 [R])."""


@dataclass(frozen=True)
class PointRule:
    """How one indicator's rate becomes points.

    ``max_points``: the indicator's weight. ``full_at_pct``: the rate (percent) that earns
    ``max_points``; 100 means proportional. ``if_empty``: the empty-denominator policy.
    ``rate_decimals``: round the rate in percent to this many decimals before scoring (the
    payment group does, fitted to portal data); ``None`` scores the unrounded rate.
    ``source``: where the rule comes from, for docs and reports.
    """

    max_points: float
    full_at_pct: float = 100.0
    if_empty: EmptyDenominator = EmptyDenominator.ZERO
    rate_decimals: int | None = None
    source: str = ""

    def __post_init__(self) -> None:
        if self.max_points < 0:
            raise ValueError(f"max_points must be >= 0, got {self.max_points}")
        if not 0 < self.full_at_pct <= 100:
            raise ValueError(f"full_at_pct must be in (0, 100], got {self.full_at_pct}")


def round_half_up(value: float, decimals: int) -> float:
    """Round ``value`` half up (away from zero on a tie) at ``decimals`` decimals.

    The tie is judged on the exact binary value of the float, as the portal's arithmetic does:
    ``round_half_up(5.925, 2) == 5.92`` because the double nearest 5.925 is 5.92499999...
    (fitted to portal data, see the module docstring).
    """
    quantum = Decimal(1).scaleb(-decimals)
    return float(Decimal(value).quantize(quantum, rounding=ROUND_HALF_UP))


def round_points(points: float) -> float:
    """Points as the portal publishes them: 2 decimals, half up on the exact double."""
    return round_half_up(points, POINTS_DECIMALS)


def points_for_rate(rule: PointRule, rate_pct: float) -> float:
    """Unrounded points for a rate in percent: ``min(max, max * rate / full_at)``, never below 0.

    Source: Decision 766 (proportional scoring) and the portal formula document ("full at T%").
    The arithmetic order ``max * rate / full_at`` is the one that reproduces the portal's
    rounding (fitted to portal data)."""
    if rule.rate_decimals is not None:
        rate_pct = round_half_up(rate_pct, rule.rate_decimals)
    return max(0.0, min(rule.max_points, rule.max_points * rate_pct / rule.full_at_pct))


def raw_points(rule: PointRule, value: Counts | Rate) -> float:
    """Unrounded points for counts (or a published rate), applying the empty-denominator rule."""
    if isinstance(value, Rate):
        return points_for_rate(rule, value.pct)
    rate = value.rate_pct()
    if rate is None:
        return float(rule.max_points) if rule.if_empty is EmptyDenominator.FULL else 0.0
    return points_for_rate(rule, rate)


def points(rule: PointRule, value: Counts | Rate) -> float:
    """Points as published: :func:`raw_points` rounded to 2 decimals, half up."""
    return round_points(raw_points(rule, value))


def sum_points(indicator_points: list[float]) -> float:
    """A group's points: the sum of its (already rounded) indicator points, rounded again.

    Fitted to portal data: every ``totalScore`` in the overview/evaluation files equals the sum
    of the published metric scores, not the rounded sum of unrounded points."""
    return round_points(math.fsum(indicator_points))
