"""Score a calendar period as of a moment: counts -> rolled-up counts per unit -> scorecards -> ranks.

The glue behind ``chiso766 score``, and its JSON records; pure (rows, period bounds, the moment
and the reference come in as values). Inputs, all summed up the unit hierarchy (numerators and
denominators, never rates):

- hourly rows (``hourly_counts``): ``portal_sync``, ``e_result``, ``data_reuse``,
  ``online_payment``; a counted indicator with no rows for a unit is 0 of 0, so the 766
  empty-denominator rule applies (the portal gives 0 points there);
- the dossier state as of the moment (:class:`StateCounts`, ``STATE_KEYS``); without it
  (a store before schema 4) those indicators are ``NotAvailable``, never 0;
- the procedure catalogue and unit register (``catalogue.py``), when the reference has them.

Ranks compare ``available_points`` (the total, once every input is there) among units of the
same level (competition ranking: tied units share a rank and the next rank skips, 1, 1, 3).
Every unit of the reference is scored, so a rank counts units with no dossiers in the period
too (they score what the portal gives them).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

from pipeline.rates import Counts as RateCounts
from pipeline.rates import HourlyRow, UnitTotals, roll_up, totals
from pipeline.reference import Reference
from pipeline.scoring.at_stake import UnitStake, at_stake
from pipeline.scoring.catalogue import ACTIVITY_KEYS, CATALOGUE_KEYS, catalogue_counts
from pipeline.scoring.groups import indicator_by_id
from pipeline.scoring.pipeline_inputs import (
    HOURLY_RATE_ITEMS,
    ONLINE_DOSSIERS,
    ONLINE_RATE_ID,
    PIPELINE_TO_766,
    to_766_inputs,
)
from pipeline.scoring.rules import Counts
from pipeline.scoring.score import GroupScore, IndicatorScore, NotAvailable, Scorecard, score_card
from pipeline.scoring.state_inputs import STATE_KEYS, StateCounts

HOURLY_KEYS: tuple[str, ...] = ("portal_sync", "e_result", "data_reuse", "online_payment")
"""Pipeline counts read from the hourly counts."""
TARGETABLE: tuple[str, ...] = (
    *HOURLY_KEYS,
    *(key for key in STATE_KEYS if key in PIPELINE_TO_766),
)
"""Dossier and complaint counts a unit can lift (``--at-stake`` targets)."""
COUNTED = HOURLY_KEYS
"""Pipeline counts present for every unit whatever else the store holds."""
_TO_PIPELINE = {indicator_id: key for key, indicator_id in PIPELINE_TO_766.items()}
_TO_PIPELINE[ONLINE_RATE_ID] = ONLINE_DOSSIERS
_NO_CLOCKS = "needs the dossier clocks of schema 4 (run `chiso766 migrate` and replay)"
_NO_CATALOGUE = "the reference data has no procedure catalogue columns (published_on, ...)"
_NO_REGISTER = "the reference data has no e_certified_copy_on column in units.csv"


@dataclass(frozen=True)
class UnitScore:
    """One unit's 766 scorecard for the period; ``counts`` are its rolled-up pipeline counts
    (pipeline count id -> Counts; every available count present, 0/0 when none)."""

    code: str
    level: str
    counts: Mapping[str, Counts]
    card: Scorecard
    rank: int
    rank_of: int


@dataclass(frozen=True)
class PeriodScores:
    """Every unit of the reference scored for one period as of one moment.

    ``counted``: the pipeline counts available (the rest are not available).
    ``has_counts``: whether any dossier fell in the period (False: nothing stored for it).
    ``unknown_units``: unit codes in the rows that the reference does not know; their counts
    reach no unit, so a caller should say so rather than publish a smaller province."""

    units: Mapping[str, UnitScore]
    counted: tuple[str, ...]
    has_counts: bool
    unknown_units: tuple[str, ...]
    as_of_ms: int


def score_period(
    rows: Iterable[HourlyRow],
    start_ms: int,
    end_ms: int,
    reference: Reference,
    *,
    state: StateCounts | None = None,
    as_of_ms: int | None = None,
    catalogue_as_of_ms: int | None = None,
) -> PeriodScores:
    """Score every unit of ``reference`` for [start_ms, end_ms) as of ``as_of_ms`` (default the
    period end). ``rows`` are the leaf hourly rows (buckets outside the period are ignored);
    ``state`` the as-of counts from the dossier state (``None``: not available).
    ``catalogue_as_of_ms`` judges the catalogue at another moment (projections use the period
    end); default ``as_of_ms``. Rows of indicators outside the 766 mapping are ignored."""
    as_of = end_ms if as_of_ms is None else as_of_ms
    hourly = totals(rows, start_ms, min(end_ms, _hour_ceiling(as_of)))
    leaf: UnitTotals = {
        unit: {k: c for k, c in per.items() if k in HOURLY_KEYS} for unit, per in hourly.items()
    }
    counted: list[str] = list(HOURLY_KEYS)
    if state is not None:
        counted += [*STATE_KEYS]
        for unit, per in state.leaf.items():
            leaf.setdefault(unit, {}).update(per)
    rolled = roll_up(leaf, reference.ancestry)
    catalogue = catalogue_counts(
        reference,
        start_ms,
        end_ms,
        as_of if catalogue_as_of_ms is None else catalogue_as_of_ms,
        state.activity if state is not None else None,
    )
    counted += [k for k in (*CATALOGUE_KEYS, *ACTIVITY_KEYS)
                if k in catalogue.get(reference.root.code, {})]  # fmt: skip
    reasons = _missing_reasons(reference, state is not None)
    cards: dict[str, tuple[dict[str, Counts], Scorecard]] = {}
    for member in reference.units:
        per = rolled.get(member.code, {})
        counts = {
            key: Counts(c.numerator, c.denominator)
            for key in counted
            if key not in CATALOGUE_KEYS and key not in ACTIVITY_KEYS
            for c in [per.get(key, RateCounts())]
        }
        counts.update(catalogue.get(member.code, {}))
        cards[member.code] = (counts, scorecard(counts, reasons))
    units: dict[str, UnitScore] = {}
    for level in reference.levels:
        codes = [u.code for u in reference.units_at(level)]
        ranks = competition_ranks({code: cards[code][1].available_points for code in codes})
        for code in codes:
            counts, card = cards[code]
            units[code] = UnitScore(
                code, level, MappingProxyType(counts), card, ranks[code], len(codes)
            )
    seen = set(hourly) | (set(state.leaf) if state is not None else set())
    return PeriodScores(
        units=MappingProxyType(units),
        counted=tuple(counted),
        has_counts=bool(seen),
        unknown_units=tuple(sorted(seen - reference.unit_codes)),
        as_of_ms=as_of,
    )


def _hour_ceiling(ts_ms: int) -> int:
    """Hourly buckets starting before ``ts_ms`` are in: an as-of moment mid-hour keeps its hour."""
    return -(-ts_ms // 3_600_000) * 3_600_000


def _missing_reasons(reference: Reference, has_state: bool) -> dict[str, str]:
    reasons: dict[str, str] = {}
    for key, indicator_id in PIPELINE_TO_766.items():
        if (key in STATE_KEYS or key in ACTIVITY_KEYS) and not has_state:
            reasons[indicator_id] = _NO_CLOCKS
        elif key == "e_certified_copy_units":
            reasons[indicator_id] = _NO_REGISTER
        elif key in CATALOGUE_KEYS:
            reasons[indicator_id] = _NO_CATALOGUE
        else:
            reasons[indicator_id] = f"no {key} counts"
    reasons[ONLINE_RATE_ID] = _NO_CLOCKS
    return reasons


def scorecard(counts: Mapping[str, Counts], reasons: Mapping[str, str] | None = None) -> Scorecard:
    """The 766 scorecard from pipeline counts; an input absent from ``counts`` is not
    available, with the reason from ``reasons`` (766 indicator id -> why)."""
    return score_card(to_766_inputs(counts), missing_reasons=reasons)


def competition_ranks(points: Mapping[str, float]) -> dict[str, int]:
    """key -> 1 + the number of keys with strictly more points (ties share a rank: 1, 1, 3)."""
    ordered = sorted(points.values(), reverse=True)
    first_at: dict[float, int] = {}
    for position, value in enumerate(ordered, start=1):
        first_at.setdefault(value, position)
    return {key: first_at[value] for key, value in points.items()}


def full_points_targets(counted: Sequence[str] = TARGETABLE) -> dict[str, float]:
    """Pipeline count id -> the rate (percent) that earns the indicator's full 766 points.

    These are the default targets of ``chiso766 score --at-stake``: 80% data reuse (3.3), 90%
    satisfied dossiers (5.3), 100% for the proportional ones, for every dossier or complaint
    count in ``counted``. They come from the engine's rules."""
    out = {}
    for key in counted:
        if key not in TARGETABLE:
            continue
        rule = indicator_by_id(PIPELINE_TO_766[key]).rule
        assert rule is not None  # every mapped indicator is scored (tested in scoring)
        out[key] = float(rule.full_at_pct)
    return out


def hourly_rate_targets() -> dict[str, float]:
    """Hourly rate id -> the rate (percent) that earns full points of the 766 item it stands for
    (``HOURLY_RATE_ITEMS``): the colour thresholds of the dashboards and the report."""
    out = {}
    for key, item in HOURLY_RATE_ITEMS.items():
        rule = indicator_by_id(item).rule
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
    if key not in TARGETABLE:
        raise ValueError(f"{key!r}: not a dossier indicator; known: {', '.join(TARGETABLE)}")
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
