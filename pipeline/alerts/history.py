"""Facts for many evaluation instants from hourly rows loaded once (backtests): prefix sums, no I/O.

Gives exactly what ``sinks.alert_reader.read_facts`` reads from ClickHouse for one instant, so
a backtest and the live evaluator judge the same numbers (tests compare the two).
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable

from pipeline.alerts.evaluate import STALL_LOOKBACK_MS, Facts, Needs
from pipeline.rates import Counts, HourlyRow, UnitTotals
from pipeline.windows import HOUR_MS

TopicHour = tuple[str, int, int, int]
"""(topic, bucket_start_ms, accepted events, newest occurred_ms in the hour)."""
DeadLetterHour = tuple[int, int]
"""(bucket_start_ms, dead letters)."""


class History:
    """Hourly counts of [start_ms, end_ms) held as prefix sums per series."""

    def __init__(
        self,
        start_ms: int,
        end_ms: int,
        hourly: Iterable[HourlyRow],
        topic_hours: Iterable[TopicHour] = (),
        dead_letter_hours: Iterable[DeadLetterHour] = (),
    ) -> None:
        self.start_ms = start_ms - start_ms % HOUR_MS
        self.hours = max(0, -(-(end_ms - self.start_ms) // HOUR_MS))
        per_series: dict[tuple[str, str], list[tuple[int, int, int]]] = {}
        for unit, indicator, bucket_ms, numerator, denominator in hourly:
            index = self._index(bucket_ms)
            if 0 <= index < self.hours and denominator > 0:
                per_series.setdefault((unit, indicator), []).append((index, numerator, denominator))
        self._series: dict[str, list[tuple[str, list[int], list[int]]]] = {}
        for (unit, indicator), points in sorted(per_series.items()):
            nums, dens = _prefix(self.hours, points)
            self._series.setdefault(indicator, []).append((unit, nums, dens))
        events = [0] * self.hours
        dead = [0] * self.hours
        newest: dict[str, tuple[list[int], list[int]]] = {}
        for topic, bucket_ms, count, max_ms in sorted(topic_hours, key=lambda r: (r[0], r[1])):
            index = self._index(bucket_ms)
            if 0 <= index < self.hours:
                events[index] += count
                hours, maxima = newest.setdefault(topic, ([], []))
                hours.append(bucket_ms)
                maxima.append(max_ms)
        for bucket_ms, count in dead_letter_hours:
            index = self._index(bucket_ms)
            if 0 <= index < self.hours:
                dead[index] += count
        self._events = _cumulative(events)
        self._dead = _cumulative(dead)
        self._newest = newest

    def facts(self, needs: Needs) -> Facts:
        facts = Facts()
        for window in needs.rate_windows:
            facts.rates[window] = self.rate_sums(window, needs.indicators)
        for topic, end_ms in needs.topic_ends:
            facts.last_event_ms[(topic, end_ms)] = self.last_event(topic, end_ms)
        for window in needs.message_windows:
            lo, hi = self._span(window)
            facts.messages[window] = (
                self._dead[hi] - self._dead[lo],
                self._events[hi] - self._events[lo],
            )
        return facts

    def rate_sums(self, window: tuple[int, int], indicators: Iterable[str]) -> UnitTotals:
        lo, hi = self._span(window)
        out: UnitTotals = {}
        for indicator in indicators:
            for unit, nums, dens in self._series.get(indicator, ()):
                denominator = dens[hi] - dens[lo]
                if denominator > 0:
                    out.setdefault(unit, {})[indicator] = Counts(nums[hi] - nums[lo], denominator)
        return out

    def last_event(self, topic: str, end_ms: int) -> int | None:
        hours, maxima = self._newest.get(topic, ([], []))
        position = bisect.bisect_left(hours, end_ms) - 1
        if position < 0 or hours[position] < end_ms - STALL_LOOKBACK_MS:
            return None
        return maxima[position]

    def _index(self, ts_ms: int) -> int:
        return (ts_ms - self.start_ms) // HOUR_MS

    def _span(self, window: tuple[int, int]) -> tuple[int, int]:
        """Prefix indexes of a window, clipped to the loaded range (it must lie inside it)."""
        lo = min(max(self._index(window[0]), 0), self.hours)
        hi = min(max(self._index(window[1]), 0), self.hours)
        return lo, hi


def _cumulative(values: list[int]) -> list[int]:
    out = [0] * (len(values) + 1)
    total = 0
    for i, value in enumerate(values):
        total += value
        out[i + 1] = total
    return out


def _prefix(hours: int, points: list[tuple[int, int, int]]) -> tuple[list[int], list[int]]:
    nums = [0] * hours
    dens = [0] * hours
    for index, numerator, denominator in points:
        nums[index] += numerator
        dens[index] += denominator
    return _cumulative(nums), _cumulative(dens)
