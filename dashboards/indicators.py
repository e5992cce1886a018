"""What the dashboards show per indicator, read from the pipeline's own definitions.

Names come from ``pipeline.rates`` (Vietnamese and English), the 766 point rules and the
full-points targets from ``pipeline.scoring``; nothing is re-listed here. The colours: red
below ``target - NEAR_TARGET``, orange up to the target, green at or above it.
"""

from __future__ import annotations

from dataclasses import dataclass

from dashboards.model import GREEN, ORANGE, RED, Thresholds
from pipeline.rates import HEADLINE, INDICATOR_NAMES_EN, INDICATORS
from pipeline.scoring.groups import Group, indicator_by_id
from pipeline.scoring.period import hourly_rate_targets
from pipeline.scoring.pipeline_inputs import HOURLY_RATE_ITEMS, PIPELINE_TO_766
from pipeline.scoring.rules import EmptyDenominator, PointRule

NEAR_TARGET = 0.10
"""Within 10 percentage points below the target a rate shows orange (our choice, not 766's)."""


@dataclass(frozen=True)
class Indicator:
    id: str
    name_vi: str
    name_en: str
    target: float
    """The rate (0..1) that earns the indicator's full 766 points."""
    item_766: str
    """The Decision 766 item it scores, e.g. ``4.3``."""
    rule: PointRule

    @property
    def thresholds(self) -> Thresholds:
        near = max(0.0, round(self.target - NEAR_TARGET, 4))
        return Thresholds(base=RED, steps=((near, ORANGE), (self.target, GREEN)))


def counted_indicators() -> tuple[Indicator, ...]:
    """Every indicator the store counts by the hour, in the leaders' order."""
    targets = hourly_rate_targets()
    out = []
    for key, name_vi in INDICATORS.items():
        item = HOURLY_RATE_ITEMS[key]
        rule = indicator_by_id(item).rule
        assert rule is not None  # every mapped item is scored (tested in pipeline.scoring)
        out.append(Indicator(key, name_vi, INDICATOR_NAMES_EN[key], targets[key] / 100, item, rule))
    return tuple(out)


INDICATOR_LIST = counted_indicators()
HEADLINE_LIST = tuple(i for i in INDICATOR_LIST if i.id in HEADLINE)


def counted_items(group: Group) -> tuple[Indicator, ...]:
    """The group's 766 items whose input is an hourly count itself (the part of its score that
    SQL over ``hourly_counts`` computes exactly; as-of items such as 2.1, 3.2 and 4.3 are not)."""
    by_item = {i.item_766: i for i in INDICATOR_LIST if PIPELINE_TO_766.get(i.id) == i.item_766}
    return tuple(by_item[item.id] for item in group.indicators if item.id in by_item)


def points_if_empty(rule: PointRule) -> float:
    """Points for an empty denominator under the rule's 766 policy."""
    return float(rule.max_points) if rule.if_empty is EmptyDenominator.FULL else 0.0
