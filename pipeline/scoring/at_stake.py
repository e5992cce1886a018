"""Where effort pays most: the province points each unit would add by reaching target rates.

The province's counts are sums over its units (numerators and denominators separately, as the
portal's province records are: ``dvc-progress-tree``, ``dossier-digitized`` and the payment
dossier counts in ``shared/data/portal-766`` equal the sums of their children). If unit ``u``
lifts indicator ``i`` from ``n_u/d_u`` to the target rate ``t``, its numerator becomes
``max(n_u, ceil(t * d_u))`` (whole dossiers, never lowered), the province's becomes
``N - n_u + n_u'`` over the same ``D``, and the gain is the change in the province's
unrounded points for ``i``. Indicators score independently and a group is the sum of its
indicators, so a unit's total gain is the sum over indicators. Gains are marginal values for
ranking: unrounded, and on the exact rate (the payment group's 0.01% rate rounding is left out).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from fractions import Fraction
from types import MappingProxyType

from pipeline.scoring.groups import indicator_by_id
from pipeline.scoring.pipeline_inputs import PIPELINE_TO_766, PipelineCounts, to_766_inputs
from pipeline.scoring.rules import Counts, Rate, raw_points


@dataclass(frozen=True)
class UnitStake:
    """Province points (unrounded, out of 100) gained if ``unit`` reached the targets.

    ``by_indicator``: pipeline indicator id -> province points gained through it;
    ``numerator_needed``: pipeline indicator id -> extra numerator units (dossiers,
    complaints) the unit needs to reach the target."""

    unit: str
    gain_points: float
    by_indicator: Mapping[str, float]
    numerator_needed: Mapping[str, int]


def at_stake(
    units: Mapping[str, PipelineCounts],
    targets_pct: Mapping[str, float],
    *,
    province: PipelineCounts | None = None,
) -> list[UnitStake]:
    """Rank units by the province points they would add by reaching ``targets_pct``.

    ``units``: unit code -> pipeline counts (as for ``score_pipeline_unit``).
    ``targets_pct``: pipeline indicator id -> target rate in percent (0-100).
    ``province``: the province's counts; default the sum of ``units``. Pass it when the
    province also has counts of its own (complaints filed at province level, for example).
    Returns one :class:`UnitStake` per unit, largest gain first (ties by unit code).
    Raises ``ValueError`` for unknown indicator ids or targets outside 0-100.
    """
    targets = {key: _target(key, pct) for key, pct in targets_pct.items()}
    to_766_inputs(dict.fromkeys(targets, (0, 0)))  # validates the target ids
    unit_inputs = {code: to_766_inputs(counts) for code, counts in units.items()}
    province_inputs = (
        to_766_inputs(province) if province is not None else _sum_inputs(unit_inputs.values())
    )
    stakes = []
    for code, inputs in unit_inputs.items():
        gains: dict[str, float] = {}
        needed: dict[str, int] = {}
        for key, target in targets.items():
            indicator_id = PIPELINE_TO_766[key]
            mine, theirs = inputs.get(indicator_id), province_inputs.get(indicator_id)
            if not isinstance(mine, Counts) or not isinstance(theirs, Counts):
                continue
            reached = max(mine.numerator, math.ceil(target * mine.denominator))
            extra = reached - mine.numerator
            lifted = Counts(theirs.numerator + extra, theirs.denominator)
            rule = indicator_by_id(indicator_id).rule
            assert rule is not None
            # Marginal value: score the exact rate, without the portal's 0.01% rate rounding.
            rule = replace(rule, rate_decimals=None)
            gains[key] = raw_points(rule, lifted) - raw_points(rule, theirs)
            needed[key] = extra
        stakes.append(
            UnitStake(
                unit=code,
                gain_points=math.fsum(gains.values()),
                by_indicator=MappingProxyType(gains),
                numerator_needed=MappingProxyType(needed),
            )
        )
    return sorted(stakes, key=lambda s: (-s.gain_points, s.unit))


def _target(key: str, pct: float) -> Fraction:
    if isinstance(pct, bool) or not isinstance(pct, int | float) or not 0 <= pct <= 100:
        raise ValueError(f"target for {key} must be a percent in 0-100, got {pct!r}")
    # Decimal text -> exact fraction, so 80% of 10 dossiers is 8, not 8.000000000000002 -> 9.
    return Fraction(repr(float(pct))) / 100


def _sum_inputs(all_inputs: Iterable[Mapping[str, Counts | Rate]]) -> dict[str, Counts | Rate]:
    """Sum the count inputs; a rate (4.3) cannot be summed and is left out."""
    total: dict[str, Counts | Rate] = {}
    for inputs in all_inputs:
        for indicator_id, counts in inputs.items():
            if isinstance(counts, Counts):
                so_far = total.get(indicator_id, Counts(0, 0))
                assert isinstance(so_far, Counts)
                total[indicator_id] = so_far + counts
    return total
