"""Office time in Vietnam: which hours are working hours, and how many office minutes lie between two instants.

Times are epoch milliseconds; days and clock times are local (Asia/Ho_Chi_Minh, UTC+7, no
daylight saving). An office day is Monday to Friday, or a make-up Saturday, that is not a day off
in ``pipeline.holidays``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from pipeline import holidays
from pipeline.windows import DAY_MS, VN_OFFSET_MS

MINUTE_MS = 60_000
_EPOCH = date(1970, 1, 1)


@dataclass(frozen=True)
class OfficeHours:
    """The daily opening of public offices, in minutes after local midnight: [start, end)."""

    start_min: int = 7 * 60 + 30
    end_min: int = 17 * 60

    def __post_init__(self) -> None:
        if not 0 <= self.start_min < self.end_min <= 24 * 60:
            raise ValueError(
                f"office hours {self.start_min}-{self.end_min}: need 0 <= start < end <= 24h"
            )


def local_date(ts_ms: int) -> date:
    return _EPOCH + timedelta(days=(ts_ms + VN_OFFSET_MS) // DAY_MS)


def is_office_day(day: date, holidays_closed: bool = True) -> bool:
    """Monday to Friday or a make-up Saturday, and (unless ``holidays_closed`` is False) not a day off."""
    if holidays_closed:
        return holidays.is_office_day(day)
    return day.weekday() < 5 or day in holidays.MAKEUP_WORKDAYS


def holiday_name(day: date) -> str | None:
    """The reason offices are closed on ``day`` if it is a public day off, else None."""
    return holidays.day_off_reason(day)


def is_office_hour(bucket_start_ms: int, office: OfficeHours, holidays_closed: bool = True) -> bool:
    """Does the hour [bucket_start_ms, +1 h) overlap office hours on an office day?"""
    if not is_office_day(local_date(bucket_start_ms), holidays_closed):
        return False
    minute = (bucket_start_ms + VN_OFFSET_MS) % DAY_MS // MINUTE_MS
    return minute + 60 > office.start_min and minute < office.end_min


def office_minutes_between(start_ms: int, end_ms: int, office: OfficeHours) -> int:
    """Whole office minutes in [start_ms, end_ms) (0 when end <= start)."""
    if end_ms <= start_ms:
        return 0
    total_ms = 0
    day_ms = (start_ms + VN_OFFSET_MS) // DAY_MS * DAY_MS - VN_OFFSET_MS
    while day_ms < end_ms:
        if is_office_day(local_date(day_ms)):
            open_ms = day_ms + office.start_min * MINUTE_MS
            close_ms = day_ms + office.end_min * MINUTE_MS
            total_ms += max(0, min(close_ms, end_ms) - max(open_ms, start_ms))
        day_ms += DAY_MS
    return total_ms // MINUTE_MS
