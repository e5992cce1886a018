"""What the leaders' report shows, as plain values computed from summed rows and the reference.

Pure: rows read from the store, the reference and the period come in; a :class:`Report` goes
out, ready for ``dashboards.report.page.render_page``. Every figure is a sum of numerators over
a sum of denominators (``pipeline.rates``); scores, ranks and points at stake come from
``pipeline.scoring`` unchanged.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from pipeline.rates import HEADLINE, INDICATORS, Counts, HourlyRow, roll_up, totals, weakest
from pipeline.reference import Reference
from pipeline.scoring.period import (
    PeriodScores,
    full_points_targets,
    hourly_rate_targets,
    score_period,
    stakes,
)
from pipeline.scoring.score import NotAvailable
from pipeline.scoring.state_inputs import StateCounts
from pipeline.windows import DAY_MS, to_local, to_ms

WEAKEST_COUNT = 5
STAKES_COUNT = 8


@dataclass(frozen=True)
class Trend:
    """One indicator of one unit per step: (step start ms, counts), in time order, every step
    of the period present (0/0 where nothing was received)."""

    indicator: str
    points: tuple[tuple[int, Counts], ...]


@dataclass(frozen=True)
class UnitLine:
    """One unit in a ranking or the weakest list: its 766 rank among units of its level and its
    rolled-up counts per indicator."""

    code: str
    name: str
    level: str
    rank: int
    rank_of: int
    available_points: float
    counts: Mapping[str, Counts]


@dataclass(frozen=True)
class GroupLine:
    """One 766 score group: points where every indicator is counted, else ``None`` and the
    available part; ``missing`` names the indicators the pipeline cannot compute."""

    code: str
    name: str
    points: float | None
    available_points: float
    available_max: float
    max_points: float
    missing: tuple[str, ...]


@dataclass(frozen=True)
class StakeLine:
    """Points the report unit would gain if ``code`` alone reached the targets; per indicator
    (gain, extra dossiers needed)."""

    code: str
    name: str
    gain_points: float
    by_indicator: Mapping[str, tuple[float, int]]


@dataclass(frozen=True)
class Report:
    unit_code: str
    unit_name: str
    unit_level: str
    province: str
    period_label: str
    start_ms: int
    end_ms: int
    stored_until_ms: int | None
    """Newest event time stored (None: nothing stored yet)."""
    step: str
    """Trend step: hour, day or month."""
    indicators: tuple[str, ...]
    targets_pct: Mapping[str, float]
    """Indicator -> the rate that earns full 766 points (the colour thresholds)."""
    headline: Mapping[str, Counts]
    previous: Mapping[str, Counts]
    """The report unit's counts over the period before (``previous_bounds``), for the change."""
    previous_start_ms: int
    trends: tuple[Trend, ...]
    available_points: float
    available_max: float
    max_points: float
    rank: int
    rank_of: int
    groups: tuple[GroupLine, ...]
    rankings: tuple[tuple[str, tuple[UnitLine, ...]], ...]
    """(level, units of that level under the report unit, best first), levels top-down."""
    weakest: tuple[UnitLine, ...]
    stakes: tuple[StakeLine, ...]
    gain_if_all: float
    """Points gained if every unit under the report unit reached the targets."""


def previous_bounds(start_ms: int, end_ms: int) -> tuple[int, int]:
    """The period just before [start_ms, end_ms): as many calendar months back when both
    bounds are month starts in Vietnam time (June -> May, Q2 -> Q1, 2024 -> 2023), else the
    same length back."""
    first, after = to_local(start_ms), to_local(end_ms)
    if _is_month_start(first) and _is_month_start(after):
        months = (after.year - first.year) * 12 + after.month - first.month
        index = first.year * 12 + first.month - 1 - months
        return to_ms(first.replace(year=index // 12, month=index % 12 + 1)), start_ms
    return start_ms - (end_ms - start_ms), start_ms


def _is_month_start(moment: datetime) -> bool:
    return (moment.day, moment.hour, moment.minute, moment.second) == (1, 0, 0, 0)


def trend_step(start_ms: int, end_ms: int) -> str:
    """hour for periods up to 3 days, day up to 93 days, month beyond."""
    span = end_ms - start_ms
    if span <= 3 * DAY_MS:
        return "hour"
    return "day" if span <= 93 * DAY_MS else "month"


def step_starts(start_ms: int, end_ms: int, step: str) -> list[int]:
    """Every step start in [start_ms, end_ms); months follow the calendar (Vietnam time)."""
    if step in ("hour", "day"):
        size = 3_600_000 if step == "hour" else DAY_MS
        return list(range(start_ms, end_ms, size))
    out, moment = [], to_local(start_ms).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    while to_ms(moment) < end_ms:
        out.append(max(start_ms, to_ms(moment)))
        year, month = divmod(moment.month, 12)
        moment = moment.replace(year=moment.year + year, month=month + 1)
    return out


def build_report(
    reference: Reference,
    unit_code: str,
    period_label: str,
    start_ms: int,
    end_ms: int,
    summed: Iterable[HourlyRow],
    stepped: Iterable[HourlyRow],
    stored_until_ms: int | None,
    previous: Iterable[HourlyRow] = (),
    state: StateCounts | None = None,
    as_of_ms: int | None = None,
) -> Report:
    """Assemble the report of ``unit_code`` (and every unit below it) for [start_ms, end_ms).

    ``summed``: leaf rows summed over the period (``sinks.reader.summed_rows``); ``stepped``:
    leaf rows summed per trend step (``sinks.reader.stepped_rows`` with ``trend_step``);
    ``previous``: leaf rows summed over ``previous_bounds`` (for the change against it)."""
    summed = list(summed)
    scores = score_period(summed, start_ms, end_ms, reference, state=state, as_of_ms=as_of_ms)
    rolled = roll_up(totals(summed, start_ms, end_ms), reference.ancestry)
    indicators = tuple(INDICATORS)
    step = trend_step(start_ms, end_ms)
    own = scores.units[unit_code]
    targets = full_points_targets(scores.counted)
    rate_targets = hourly_rate_targets()
    below = reference.descendants(unit_code)
    previous_start, _ = previous_bounds(start_ms, end_ms)
    before = roll_up(totals(previous, previous_start, start_ms), reference.ancestry)
    return Report(
        unit_code=unit_code,
        unit_name=reference.unit(unit_code).name,
        unit_level=own.level,
        province=reference.province,
        period_label=period_label,
        start_ms=start_ms,
        end_ms=end_ms,
        stored_until_ms=stored_until_ms,
        step=step,
        indicators=indicators,
        targets_pct={k: rate_targets[k] for k in indicators if k in rate_targets},
        headline={i: rolled.get(unit_code, {}).get(i, Counts()) for i in indicators},
        previous={i: before.get(unit_code, {}).get(i, Counts()) for i in indicators},
        previous_start_ms=previous_start,
        trends=_trends(reference, unit_code, stepped, start_ms, end_ms, step, indicators),
        available_points=own.card.available_points,
        available_max=own.card.available_max,
        max_points=own.card.max_points,
        rank=own.rank,
        rank_of=own.rank_of,
        groups=tuple(
            GroupLine(
                code=g.group.code,
                name=g.group.name_vi,
                points=None if isinstance(g.points, NotAvailable) else g.points,
                available_points=g.available_points,
                available_max=g.available_max,
                max_points=g.max_points,
                missing=tuple(
                    s.id
                    for s in g.indicators
                    if s.indicator.is_scored and isinstance(s.points, NotAvailable)
                ),
            )
            for g in own.card.groups
        ),
        rankings=_rankings(reference, scores, rolled, below),
        weakest=tuple(
            _line(reference, scores, rolled, code)
            for code in weakest(
                rolled,
                [c for c in below if not reference.children(c)],
                HEADLINE,
                count=WEAKEST_COUNT,
            )
        ),
        stakes=_stakes(reference, scores, unit_code, targets),
        gain_if_all=stakes(scores, [unit_code], targets, unit_code)[0].gain_points,
    )


def _trends(
    reference: Reference,
    unit_code: str,
    stepped: Iterable[HourlyRow],
    start_ms: int,
    end_ms: int,
    step: str,
    indicators: Sequence[str],
) -> tuple[Trend, ...]:
    inside = {unit_code, *reference.descendants(unit_code)}
    per_step: dict[tuple[str, int], Counts] = {}
    for unit, indicator, step_ms, numerator, denominator in stepped:
        if unit in inside and start_ms <= step_ms < end_ms:
            key = (indicator, step_ms)
            per_step[key] = per_step.get(key, Counts()) + Counts(numerator, denominator)
    starts = step_starts(start_ms, end_ms, step)
    return tuple(
        Trend(i, tuple((s, per_step.get((i, s), Counts())) for s in starts)) for i in indicators
    )


def _line(
    reference: Reference,
    scores: PeriodScores,
    rolled: Mapping[str, Mapping[str, Counts]],
    code: str,
) -> UnitLine:
    unit = scores.units[code]
    per = rolled.get(code, {})
    return UnitLine(
        code=code,
        name=reference.unit(code).name,
        level=unit.level,
        rank=unit.rank,
        rank_of=unit.rank_of,
        available_points=unit.card.available_points,
        counts={i: per.get(i, Counts()) for i in INDICATORS},
    )


def _rankings(
    reference: Reference,
    scores: PeriodScores,
    rolled: Mapping[str, Mapping[str, Counts]],
    below: Sequence[str],
) -> tuple[tuple[str, tuple[UnitLine, ...]], ...]:
    out = []
    for level in reference.levels:
        codes = [c for c in below if scores.units[c].level == level]
        if codes:
            lines = sorted(
                (_line(reference, scores, rolled, c) for c in codes), key=lambda u: (u.rank, u.code)
            )
            out.append((level, tuple(lines)))
    return tuple(out)


def _stakes(
    reference: Reference, scores: PeriodScores, unit_code: str, targets: Mapping[str, float]
) -> tuple[StakeLine, ...]:
    children = list(reference.children(unit_code))
    if not children:
        return ()
    ranked = stakes(scores, children, targets, unit_code)
    return tuple(
        StakeLine(
            code=s.unit,
            name=reference.unit(s.unit).name,
            gain_points=s.gain_points,
            by_indicator={
                k: (gain, s.numerator_needed.get(k, 0)) for k, gain in s.by_indicator.items()
            },
        )
        for s in ranked[:STAKES_COUNT]
        if s.gain_points > 0
    )
