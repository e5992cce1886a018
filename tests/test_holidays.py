"""The office calendar: the exact table where it exists, the law's estimate elsewhere.

Expected days are written out here from the announcements and the calendar, not derived from
the module's table."""

from __future__ import annotations

from datetime import date

import pytest

from pipeline.holidays import day_off_reason, is_office_day


@pytest.mark.parametrize(
    ("day", "open_"),
    [
        (date(2024, 4, 26), True),  # Friday
        (date(2024, 4, 29), False),  # bridge Monday before 30 April
        (date(2024, 5, 4), True),  # the Saturday worked for it
        (date(2024, 5, 11), False),  # an ordinary Saturday
        (date(2024, 9, 3), False),  # the day beside National Day in 2024
        (date(2025, 9, 1), False),  # ...and in 2025, the day before
        (date(2025, 9, 3), True),
        (date(2026, 4, 27), False),  # Hùng Kings' day fell on a Sunday: Monday off instead
        (date(2023, 1, 20), False),  # estimate: Tết Quý Mão (mùng 1 on 22 January)
        (date(2023, 1, 27), True),
        (date(2028, 5, 1), False),  # estimate: 1 May, a Monday
        (date(2028, 5, 2), True),
    ],
)
def test_office_days(day: date, open_: bool) -> None:
    assert is_office_day(day) is open_


def test_a_day_off_says_why_and_whether_it_is_estimated() -> None:
    assert day_off_reason(date(2025, 1, 29)) == "Tết Nguyên đán"
    assert day_off_reason(date(2028, 5, 1)) == "Quốc tế Lao động (estimated)"
    assert day_off_reason(date(2024, 5, 4)) is None
    assert day_off_reason(date(2024, 5, 5)) is None  # Sunday: closed, but not a holiday
