"""Score one unit: indicator points, group points and the total out of 100, from counts.

Missing input is never scored as zero. An indicator with no input gets a :class:`NotAvailable`
marker saying why; a group with any such indicator has ``points`` = ``NotAvailable`` too (its
``available_points``/``available_max`` still tell what could be computed), and so does the
total. Indicators left out of ``applicable`` are not part of the unit's index at all (the
portal drops item 3.6 for a single procedure): they count neither in points nor in maxima.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass

from pipeline.scoring.groups import GROUPS, Group, Indicator
from pipeline.scoring.rules import Counts, Rate, raw_points, round_points, sum_points


@dataclass(frozen=True)
class NotAvailable:
    """Explicit "cannot be computed" marker; ``reason`` is for people (reports, dashboards)."""

    reason: str


Points = float | NotAvailable
IndicatorInput = Counts | Rate


def is_available(value: object) -> bool:
    return not isinstance(value, NotAvailable)


@dataclass(frozen=True)
class IndicatorScore:
    """``points`` as published (2 decimals) and ``raw_points`` unrounded (for marginal gains);
    ``rate_pct`` is ``None`` when the denominator is empty or the input is missing."""

    indicator: Indicator
    input: IndicatorInput | None
    points: Points
    raw_points: Points
    rate_pct: float | None

    @property
    def id(self) -> str:
        return self.indicator.id

    @property
    def max_points(self) -> float:
        return self.indicator.max_points


@dataclass(frozen=True)
class GroupScore:
    group: Group
    indicators: tuple[IndicatorScore, ...]
    points: Points
    max_points: float
    available_points: float
    available_max: float

    @property
    def id(self) -> str:
        return self.group.id


@dataclass(frozen=True)
class Scorecard:
    """A unit's six groups and total. ``total`` is ``NotAvailable`` unless every group is."""

    groups: tuple[GroupScore, ...]
    total: Points
    max_points: float
    available_points: float
    available_max: float

    def group(self, group_id: str) -> GroupScore:
        for group in self.groups:
            if group.id == group_id:
                return group
        raise KeyError(f"scorecard has no group {group_id!r}")


def score_indicator(
    indicator: Indicator, value: IndicatorInput | None, *, missing_reason: str = "no input"
) -> IndicatorScore:
    """Points of one indicator. Monitoring-only indicators (no rule) score 0 of 0."""
    if value is None:
        marker = NotAvailable(missing_reason)
        return IndicatorScore(indicator, None, marker, marker, None)
    rate = value.pct if isinstance(value, Rate) else value.rate_pct()
    if indicator.rule is None:
        return IndicatorScore(indicator, value, 0.0, 0.0, rate)
    raw = raw_points(indicator.rule, value)
    return IndicatorScore(indicator, value, round_points(raw), raw, rate)


def score_group(
    group: Group,
    inputs: Mapping[str, IndicatorInput],
    *,
    applicable: Collection[str] | None = None,
    missing_reasons: Mapping[str, str] | None = None,
) -> GroupScore:
    """Score ``group`` from ``inputs`` (indicator id -> counts or published rate).

    ``applicable``: the indicator ids that make up this unit's group (default: all). Inputs
    for indicators outside the group raise ``KeyError`` (a caller bug, not bad data).
    ``missing_reasons``: why an absent input is absent, per indicator id.
    """
    known = {i.id for i in group.indicators}
    unknown = set(inputs) - known
    if unknown:
        raise KeyError(f"group {group.id} has no indicator(s) {sorted(unknown)}")
    wanted = known if applicable is None else set(applicable)
    reasons = missing_reasons or {}
    scores = tuple(
        score_indicator(i, inputs.get(i.id), missing_reason=reasons.get(i.id, "no input"))
        for i in group.indicators
        if i.id in wanted
    )
    scored = [s for s in scores if s.indicator.is_scored]
    available = [s for s in scored if isinstance(s.points, float)]
    available_points = sum_points([s.points for s in available if isinstance(s.points, float)])
    max_points = float(sum(s.max_points for s in scored))
    missing = [(s.id, s.points) for s in scored if isinstance(s.points, NotAvailable)]
    if missing:
        why = "; ".join(f"{i}: {marker.reason}" for i, marker in missing)
        points: Points = NotAvailable(f"missing {len(missing)} indicator(s): {why}")
    else:
        points = available_points
    return GroupScore(
        group=group,
        indicators=scores,
        points=points,
        max_points=max_points,
        available_points=available_points,
        available_max=float(sum(s.max_points for s in available)),
    )


def score_card(
    inputs: Mapping[str, IndicatorInput],
    *,
    missing_reasons: Mapping[str, str] | None = None,
) -> Scorecard:
    """Score all six groups from one mapping of indicator id -> input (ids are unique across
    groups). The total is the sum of group points out of 100 (Decision 766)."""
    all_ids = {i.id for g in GROUPS for i in g.indicators}
    unknown = set(inputs) - all_ids
    if unknown:
        raise KeyError(f"unknown indicator id(s) {sorted(unknown)}")
    groups = tuple(
        score_group(
            g,
            {k: v for k, v in inputs.items() if k in {i.id for i in g.indicators}},
            missing_reasons=missing_reasons,
        )
        for g in GROUPS
    )
    available_points = sum_points([g.available_points for g in groups])
    missing = [g for g in groups if not is_available(g.points)]
    total: Points = (
        NotAvailable(f"{len(missing)} group(s) incomplete: {', '.join(g.id for g in missing)}")
        if missing
        else available_points
    )
    return Scorecard(
        groups=groups,
        total=total,
        max_points=sum(g.max_points for g in groups),
        available_points=available_points,
        available_max=sum(g.available_max for g in groups),
    )
