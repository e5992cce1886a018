"""Compare two namespaces' hourly counts bucket by bucket, and sum the differences per indicator.

Pure: takes the hourly rows of both sides (``pipeline.rates.HourlyRow``) and returns values. A
bucket missing on one side counts as 0/0 there, so a bucket present on one side only is a
difference too.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from pipeline.rates import Counts, HourlyRow

BucketKey = tuple[str, str, int]
"""(unit_code, indicator, bucket_start_ms)."""


@dataclass(frozen=True)
class Difference:
    unit_code: str
    indicator: str
    bucket_start_ms: int
    ours: Counts
    theirs: Counts


@dataclass
class IndicatorSummary:
    """One indicator over the compared range: totals on each side and how many buckets differ."""

    ours: Counts = field(default_factory=Counts)
    theirs: Counts = field(default_factory=Counts)
    buckets: int = 0
    """Buckets (unit, hour) present on either side."""
    differing: int = 0


def _by_bucket(rows: Iterable[HourlyRow]) -> dict[BucketKey, Counts]:
    out: dict[BucketKey, Counts] = {}
    for unit, indicator, bucket_ms, numerator, denominator in rows:
        key = (unit, indicator, bucket_ms)
        out[key] = out.get(key, Counts()) + Counts(numerator, denominator)
    return out


def compare(
    ours: Iterable[HourlyRow], theirs: Iterable[HourlyRow]
) -> tuple[list[Difference], dict[str, IndicatorSummary]]:
    """Every bucket whose counts differ (sorted by unit, indicator, hour), and per-indicator sums."""
    mine, other = _by_bucket(ours), _by_bucket(theirs)
    differences: list[Difference] = []
    summary: dict[str, IndicatorSummary] = {}
    empty = Counts()
    for key in sorted(mine.keys() | other.keys()):
        a, b = mine.get(key, empty), other.get(key, empty)
        per = summary.setdefault(key[1], IndicatorSummary())
        per.ours += a
        per.theirs += b
        per.buckets += 1
        if a != b:
            per.differing += 1
            differences.append(Difference(*key, ours=a, theirs=b))
    return differences, dict(sorted(summary.items()))
