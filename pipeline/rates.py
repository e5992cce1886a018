"""Indicator totals over windows and their roll-up through the unit hierarchy (sums, never averages)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

INDICATORS: dict[str, str] = {
    "online_filing": "Tỷ lệ hồ sơ trực tuyến",
    "online_payment": "Tỷ lệ thanh toán trực tuyến",
    "e_result": "Tỷ lệ cấp kết quả điện tử",
    "digitization": "Tỷ lệ số hóa hồ sơ",
    "data_reuse": "Tỷ lệ khai thác dữ liệu số hóa",
    "portal_sync": "Tỷ lệ đồng bộ",
}
"""Indicator id -> Vietnamese label, in the leaders' order."""
INDICATORS_EN: dict[str, str] = {
    "online_filing": "Dossiers filed online",
    "online_payment": "Fees paid online",
    "e_result": "Electronic results",
    "digitization": "Dossiers digitised",
    "data_reuse": "Digitised data reused",
    "portal_sync": "Synced to the national portal",
}
"""Indicator id -> English label (secondary to the Vietnamese one), same keys as INDICATORS."""
HEADLINE = ("online_filing", "online_payment", "e_result", "digitization")

HourlyRow = tuple[str, str, int, int, int]
"""(unit_code, indicator, bucket_start_ms, numerator, denominator) for one leaf unit and hour."""


@dataclass(frozen=True)
class Counts:
    numerator: int = 0
    denominator: int = 0

    @property
    def rate(self) -> float | None:
        """numerator / denominator, or None when there is nothing to divide."""
        return self.numerator / self.denominator if self.denominator else None

    def __add__(self, other: Counts) -> Counts:
        return Counts(self.numerator + other.numerator, self.denominator + other.denominator)


UnitTotals = dict[str, dict[str, Counts]]
"""unit_code -> indicator -> Counts."""


def totals(rows: Iterable[HourlyRow], start_ms: int, end_ms: int) -> UnitTotals:
    """Sum the hourly rows with ``start_ms <= bucket < end_ms`` per unit and indicator."""
    out: UnitTotals = {}
    for unit, indicator, bucket_ms, numerator, denominator in rows:
        if start_ms <= bucket_ms < end_ms:
            per_unit = out.setdefault(unit, {})
            per_unit[indicator] = per_unit.get(indicator, Counts()) + Counts(numerator, denominator)
    return out


def roll_up(leaf: UnitTotals, parents_of: Mapping[str, tuple[str, ...]]) -> UnitTotals:
    """Add every unit's counts to itself and to each ancestor (``parents_of[unit]``)."""
    out: UnitTotals = {}
    for unit, per_indicator in leaf.items():
        for target in (unit, *parents_of.get(unit, ())):
            bucket = out.setdefault(target, {})
            for indicator, counts in per_indicator.items():
                bucket[indicator] = bucket.get(indicator, Counts()) + counts
    return out


def weakest(
    rolled: UnitTotals,
    units: Iterable[str],
    indicators: Iterable[str] = HEADLINE,
    count: int = 5,
    min_denominator: int = 10,
) -> list[str]:
    """The ``count`` units with the lowest mean rate over ``indicators``.

    Only rates with at least ``min_denominator`` dossiers take part (a unit with three dossiers
    is not "weak", it is small); units with no such rate are left out. Ties break by code.
    """
    chosen = tuple(indicators)
    scored: list[tuple[float, str]] = []
    for unit in units:
        rates = [
            c.rate
            for c in (rolled.get(unit, {}).get(i, Counts()) for i in chosen)
            if c.denominator >= min_denominator and c.rate is not None
        ]
        if rates:
            scored.append((sum(rates) / len(rates), unit))
    return [unit for _, unit in sorted(scored)[:count]]
