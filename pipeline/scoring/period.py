"""Score a calendar period: hourly rows -> rolled-up counts per unit -> 766 scorecards -> ranks.

The glue behind ``chiso766 score``, and its JSON records; pure (rows, period bounds and the
reference come in as values). What the pipeline counts and what it does not are kept apart:

- an indicator the store counts (``indicator_hourly``) but with no rows for a unit and period
  is 0 of 0, so the 766 empty-denominator rule applies (the portal gives 0 points there);
- an indicator the pipeline does not count yet (``on_time``, the complaint and satisfaction
  rates, everything that needs the national procedure database) is ``NotAvailable`` with the
  reason, never 0; its group then shows ``available_points`` of ``available_max`` only.

Ranks compare ``available_points`` among units of the same level (competition ranking: tied
units share a rank and the next rank skips, 1, 1, 3). Every unit of the reference is scored,
so a rank counts units with no dossiers in the period too (they score 0, as on the portal).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

from pipeline.rates import INDICATORS, HourlyRow, roll_up, totals
from pipeline.rates import Counts as RateCounts
from pipeline.reference import Reference
from pipeline.scoring.at_stake import UnitStake, at_stake
from pipeline.scoring.groups import indicator_by_id
from pipeline.scoring.pipeline_inputs import NOT_IN_PIPELINE, PIPELINE_TO_766, to_766_inputs
from pipeline.scoring.rules import Counts
from pipeline.scoring.score import GroupScore, IndicatorScore, NotAvailable, Scorecard, score_card

COUNTED: tuple[str, ...] = tuple(INDICATORS)
"""Pipeline indicators the store counts now (``pipeline.rates.INDICATORS``)."""
_TO_PIPELINE = {indicator_id: key for key, indicator_id in PIPELINE_TO_766.items()}


@dataclass(frozen=True)
class UnitScore:
    """One unit's 766 scorecard for the period; ``counts`` are its rolled-up pipeline counts
    (pipeline indicator id -> Counts, every counted indicator present, 0/0 when none)."""

    code: str
    level: str
    counts: Mapping[str, Counts]
    card: Scorecard
    rank: int
    rank_of: int


@dataclass(frozen=True)
class PeriodScores:
    """Every unit of the reference scored for one period.

    ``counted``: the pipeline indicators scored from counts (the rest are not available).
    ``has_counts``: whether any row fell in the period (False: nothing stored for it).
    ``unknown_units``: unit codes in the rows that the reference does not know; their counts
    reach no unit, so a caller should say so rather than publish a smaller province."""

    units: Mapping[str, UnitScore]
    counted: tuple[str, ...]
    has_counts: bool
    unknown_units: tuple[str, ...]


def score_period(
    rows: Iterable[HourlyRow], start_ms: int, end_ms: int, reference: Reference
) -> PeriodScores:
    """Score every unit of ``reference`` from the leaf rows with a bucket in [start_ms, end_ms).

    A unit's counts include every unit below it (sums of numerators and denominators, never
    averages of rates). Rows of indicators outside the 766 mapping are ignored."""
    leaf = totals(rows, start_ms, end_ms)
    seen = {indicator for per in leaf.values() for indicator in per}
    counted = tuple(dict.fromkeys([*COUNTED, *sorted(seen & set(PIPELINE_TO_766))]))
    rolled = roll_up(leaf, reference.ancestry)
    cards: dict[str, tuple[dict[str, Counts], Scorecard]] = {}
    for unit in reference.units:
        per = rolled.get(unit.code, {})
        counts = {
            key: Counts(c.numerator, c.denominator)
            for key in counted
            for c in [per.get(key, RateCounts())]
        }
        cards[unit.code] = (counts, scorecard(counts))
    units: dict[str, UnitScore] = {}
    for level in reference.levels:
        codes = [u.code for u in reference.units_at(level)]
        ranks = competition_ranks({code: cards[code][1].available_points for code in codes})
        for code in codes:
            counts, card = cards[code]
            units[code] = UnitScore(
                code, level, MappingProxyType(counts), card, ranks[code], len(codes)
            )
    return PeriodScores(
        units=MappingProxyType(units),
        counted=counted,
        has_counts=bool(leaf),
        unknown_units=tuple(sorted(set(leaf) - reference.unit_codes)),
    )


def scorecard(counts: Mapping[str, Counts]) -> Scorecard:
    """The 766 scorecard from pipeline counts; a pipeline indicator absent from ``counts`` is
    not available, with the reason that the pipeline does not count it yet."""
    reasons = dict(NOT_IN_PIPELINE)
    for key, indicator_id in PIPELINE_TO_766.items():
        reasons[indicator_id] = f"the pipeline does not count {key} yet"
    return score_card(to_766_inputs(counts), missing_reasons=reasons)


def competition_ranks(points: Mapping[str, float]) -> dict[str, int]:
    """key -> 1 + the number of keys with strictly more points (ties share a rank: 1, 1, 3)."""
    ordered = sorted(points.values(), reverse=True)
    first_at: dict[float, int] = {}
    for position, value in enumerate(ordered, start=1):
        first_at.setdefault(value, position)
    return {key: first_at[value] for key, value in points.items()}


def full_points_targets(counted: Sequence[str] = COUNTED) -> dict[str, float]:
    """Pipeline indicator id -> the rate (percent) that earns the indicator's full 766 points.

    These are the default targets of ``chiso766 score --at-stake``: 50% online filing (4.3),
    80% data reuse (3.3), 100% for the proportional ones. They come from the engine's rules."""
    out = {}
    for key in counted:
        rule = indicator_by_id(PIPELINE_TO_766[key]).rule
        assert rule is not None  # every mapped indicator is scored (tested in scoring)
        out[key] = float(rule.full_at_pct)
    return out


def parse_target(text: str) -> tuple[str, float]:
    """``"online_payment=80"`` -> ``("online_payment", 80.0)``.

    Raises ``ValueError`` naming the expected form, the known indicator ids or the 0-100 range.
    """
    key, sep, value = text.partition("=")
    key = key.strip()
    if not sep:
        raise ValueError(f"{text!r}: expected INDICATOR=PCT, e.g. online_payment=80")
    if key not in PIPELINE_TO_766:
        raise ValueError(f"{key!r}: not an indicator; known: {', '.join(PIPELINE_TO_766)}")
    try:
        pct = float(value)
    except ValueError:
        raise ValueError(f"{text!r}: {value.strip()!r} is not a number") from None
    if not 0 <= pct <= 100:
        raise ValueError(f"{text!r}: a target is a percent in 0-100")
    return key, pct


def stakes(
    scores: PeriodScores, codes: Sequence[str], targets_pct: Mapping[str, float], province: str
) -> list[UnitStake]:
    """Per unit in ``codes``: the points ``province`` would gain if that unit alone reached
    ``targets_pct``, largest gain first (see ``pipeline.scoring.at_stake``). Passing
    ``codes=[province]`` gives the gain if every unit reached them.

    Raises ``ValueError`` for a target on an indicator that is not counted."""
    not_counted = sorted(set(targets_pct) - set(scores.counted))
    if not_counted:
        raise ValueError(
            f"the pipeline does not count {', '.join(not_counted)} yet; "
            f"targets apply to {', '.join(scores.counted)}"
        )
    return at_stake(
        {code: scores.units[code].counts for code in codes},
        targets_pct,
        province=scores.units[province].counts,
    )


# --- JSON records -----------------------------------------------------------------------------


def _points(value: float | NotAvailable) -> float | None:
    return None if isinstance(value, NotAvailable) else value


def unit_to_json(unit: UnitScore, name: str) -> dict[str, object]:
    """The ``chiso766 score --json`` record of one unit: rank, available points and every
    group and scored indicator; ``None`` points with a ``not_available`` reason where the
    pipeline has no input."""
    card = unit.card
    return {
        "unit_code": unit.code,
        "name": name,
        "level": unit.level,
        "rank": unit.rank,
        "rank_of": unit.rank_of,
        "available_points": card.available_points,
        "available_max": card.available_max,
        "max_points": card.max_points,
        "total": _points(card.total),
        "not_available": card.total.reason if isinstance(card.total, NotAvailable) else None,
        "groups": [_group_json(g) for g in card.groups],
    }


def _group_json(group: GroupScore) -> dict[str, object]:
    return {
        "id": group.id,
        "code": group.group.code,
        "name": group.group.name_vi,
        "points": _points(group.points),
        "not_available": group.points.reason if isinstance(group.points, NotAvailable) else None,
        "available_points": group.available_points,
        "available_max": group.available_max,
        "max_points": group.max_points,
        "indicators": [_indicator_json(i) for i in group.indicators if i.indicator.is_scored],
    }


def _indicator_json(score: IndicatorScore) -> dict[str, object]:
    counts = score.input
    return {
        "id": score.id,
        "name": score.indicator.name_vi,
        "pipeline_indicator": _TO_PIPELINE.get(score.id),
        "points": _points(score.points),
        "max_points": float(score.max_points),
        "rate_pct": score.rate_pct,
        "numerator": getattr(counts, "numerator", None),
        "denominator": getattr(counts, "denominator", None),
        "not_available": score.points.reason if isinstance(score.points, NotAvailable) else None,
    }


def stake_to_json(stake: UnitStake, unit: UnitScore, name: str, position: int) -> dict[str, object]:
    """The ``chiso766 score --at-stake --json`` record of one unit (gains to 4 decimals)."""
    return {
        "position": position,
        "unit_code": stake.unit,
        "name": name,
        "level": unit.level,
        "gain_points": round(float(stake.gain_points), 4),
        "by_indicator": {
            key: {
                "gain_points": round(float(gain), 4),
                "numerator_needed": stake.numerator_needed[key],
                "numerator": unit.counts[key].numerator,
                "denominator": unit.counts[key].denominator,
            }
            for key, gain in stake.by_indicator.items()
        },
    }
