"""Vietnam's working calendar in local day numbers: weekends, public holidays, office hours.

Times are integer epoch seconds (``*_s``); a *day* is the number of whole local days
(Asia/Ho_Chi_Minh, UTC+7, no daylight saving) since 1970-01-01, so ``day_of(ts_s)`` and
``day_start_s(day)`` are plain integer arithmetic. Working days are the office days of
``pipeline.holidays``.
"""

from __future__ import annotations

import bisect
from datetime import date
from functools import cached_property

from pipeline.holidays import is_office_day

LOCAL_OFFSET_S = 7 * 3600
DAY_S = 86_400
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()


def day_of(ts_s: int) -> int:
    """The local day number of an epoch-seconds instant."""
    return (ts_s + LOCAL_OFFSET_S) // DAY_S


def day_start_s(day: int) -> int:
    """Epoch seconds of local midnight starting ``day``."""
    return day * DAY_S - LOCAL_OFFSET_S


def to_day(moment: date) -> int:
    return moment.toordinal() - _EPOCH_ORDINAL


def to_date(day: int) -> date:
    return date.fromordinal(day + _EPOCH_ORDINAL)


def weekday(day: int) -> int:
    """0 = Monday ... 6 = Sunday (1970-01-01 was a Thursday)."""
    return (day + 3) % 7


def is_working_day(day: int) -> bool:
    """An office day (``pipeline.holidays``): Monday to Friday or a make-up Saturday, not a
    public day off."""
    return is_office_day(to_date(day))


class WorkingDays:
    """Working-day arithmetic over a fixed range of local days (plus a margin after it)."""

    def __init__(self, first_day: int, last_day: int) -> None:
        self.first_day = first_day
        self.last_day = last_day
        self._days = [d for d in range(first_day, last_day + 1) if is_working_day(d)]
        self.days = tuple(self._days)
        """The working days of the range, in order."""
        self.index = tuple(
            bisect.bisect_left(self._days, d) for d in range(first_day, last_day + 1)
        )
        """``index[day - first_day]``: position in ``days`` of the first working day >= day."""

    def index_at_or_after(self, day: int) -> int:
        """Position in the working-day list of the first working day on or after ``day``."""
        return self.index[day - self.first_day]

    def add(self, day: int, count: int) -> int:
        """The working day ``count`` working days after ``day`` (``count`` 0: ``day`` or the next).

        Hot loops inline this as ``days[index[day - first_day] + count]``. Raises IndexError if
        that falls beyond the range the calendar was built for.
        """
        return self.days[self.index[day - self.first_day] + count]

    def working_days_in(self, first_day: int, last_day: int) -> list[int]:
        lo = bisect.bisect_left(self._days, first_day)
        hi = bisect.bisect_right(self._days, last_day)
        return self._days[lo:hi]


TABLE_SIZE = 1 << 15


class TimeOfDay:
    """Draw a second of the local day from a table of (start, end, weight) periods.

    ``table[int(u * TABLE_SIZE)]`` for one uniform ``u`` is the fast way (the distribution's
    quantiles, about a second apart); ``draw(u1, u2)`` is the exact one.
    """

    def __init__(self, periods: list[tuple[float, float, float]]) -> None:
        # Cut every period into 5-minute slots with the period's weight per slot.
        starts: list[int] = []
        cumulative: list[float] = []
        total = 0.0
        for start_h, end_h, weight in periods:
            slot = int(start_h * 3600)
            while slot < int(end_h * 3600):
                total += weight
                starts.append(slot)
                cumulative.append(total)
                slot += 300
        self._starts = starts
        self._cumulative = cumulative
        self._total = total
        self.latest_s = max(int(end_h * 3600) for _, end_h, _ in periods)

    @cached_property
    def table(self) -> tuple[int, ...]:
        """TABLE_SIZE seconds of the day at evenly spaced quantiles of the distribution."""
        return tuple(self._quantile((i + 0.5) / TABLE_SIZE) for i in range(TABLE_SIZE))

    def _quantile(self, u: float) -> int:
        target = u * self._total
        index = min(bisect.bisect_right(self._cumulative, target), len(self._starts) - 1)
        below = self._cumulative[index - 1] if index else 0.0
        within = (target - below) / (self._cumulative[index] - below)
        return self._starts[index] + min(299, int(within * 300))

    def draw(self, u1: float, u2: float) -> int:
        """A second of the day from two uniform numbers in [0, 1)."""
        index = bisect.bisect_right(self._cumulative, u1 * self._total)
        if index >= len(self._starts):
            index = len(self._starts) - 1
        return self._starts[index] + int(u2 * 300)


# Counters (tiếp nhận) take dossiers 7:30-11:30 and 13:30-17:00, busiest mid-morning.
RECEPTION = TimeOfDay(
    [(7.5, 8.0, 0.6), (8.0, 10.0, 1.6), (10.0, 11.5, 1.0), (13.5, 15.5, 1.1), (15.5, 17.0, 0.6)]
)
# Handling, results and counter payments: even through office hours.
OFFICE = TimeOfDay([(7.5, 11.5, 1.0), (13.5, 17.0, 1.0)])
# People at home: online payments, ratings, feedback; evenings included.
WAKING = TimeOfDay(
    [(6.0, 8.0, 0.4), (8.0, 17.0, 1.0), (17.0, 19.0, 0.7), (19.0, 22.5, 0.9), (22.5, 24.0, 0.2)]
)
