"""Vietnam's office calendar for public bodies: which days offices are open.

One calendar for everything that counts working days: the alerts mute on days off, the scoring
counts working days between dates (catalogue indicators 1.1 and 1.2), and the simulated
province receives dossiers only on office days.

An office day is Monday to Friday, or a make-up Saturday, that is not a public day off.

``DAYS_OFF`` is the exact list for 2024-2027: each entry is a weekday on which offices are
closed (weekends are closed anyway and are not listed); ``MAKEUP_WORKDAYS`` are Saturdays
worked in exchange for a bridge day. The legal basis is the Labour Code 2019, art. 112 (New
Year 1 day, Tết 5 days, Hùng Kings 1, 30 April 1, 1 May 1, National Day 2: 2 September and one
adjacent day) and, for civil servants, the yearly notice of the Ministry of Labour, Invalids and
Social Affairs (from 2025 the Ministry of Home Affairs) that fixes the exact Tết dates, bridge
days and make-up Saturdays. A holiday that falls on a weekend is compensated on the next
working day (art. 112(3)).

Years not yet announced when this table was written are marked "expected": they follow the
law and the usual pattern and must be checked against the notice when it is published. Add a
year by adding its lines and widening ``FIRST_YEAR``/``LAST_YEAR``.

Other years get an estimate from the law alone (``estimated_days_off``): the fixed-date
holidays, 1 September beside National Day, Tết from two days before the lunar new year to
four days after it, and the Hùng Kings' day, where ``LUNAR_NEW_YEAR`` and ``HUNG_KINGS`` know
the date. It has no bridge days, compensations or make-up Saturdays.
"""

from __future__ import annotations

from datetime import date, timedelta
from functools import cache

DAYS_OFF: dict[date, str] = {
    # --- 2024 (Ministry of Labour's notice on the 2024 holidays, November 2023) ---
    date(2024, 1, 1): "Tết Dương lịch",
    # Tết Giáp Thìn: 2024-02-08 (29 tháng Chạp) to 2024-02-14 (mùng 5), weekend included.
    date(2024, 2, 8): "Tết Nguyên đán",
    date(2024, 2, 9): "Tết Nguyên đán",
    date(2024, 2, 12): "Tết Nguyên đán",
    date(2024, 2, 13): "Tết Nguyên đán",
    date(2024, 2, 14): "Tết Nguyên đán",
    date(2024, 4, 18): "Giỗ Tổ Hùng Vương",
    date(2024, 4, 29): "Nghỉ bù 30/4 (làm bù thứ Bảy 04/5)",
    date(2024, 4, 30): "Ngày Giải phóng miền Nam",
    date(2024, 5, 1): "Quốc tế Lao động",
    date(2024, 9, 2): "Quốc khánh",
    date(2024, 9, 3): "Quốc khánh (ngày liền kề)",
    # --- 2025 (Ministry of Labour's notice on the 2025 holidays, late 2024; 30/4 bridge by the
    # Prime Minister's 2025 decision to swap Friday 2 May with Saturday 26 April) ---
    date(2025, 1, 1): "Tết Dương lịch",
    # Tết Ất Tỵ: 2025-01-25 to 2025-02-02, weekends included.
    date(2025, 1, 27): "Tết Nguyên đán",
    date(2025, 1, 28): "Tết Nguyên đán",
    date(2025, 1, 29): "Tết Nguyên đán",
    date(2025, 1, 30): "Tết Nguyên đán",
    date(2025, 1, 31): "Tết Nguyên đán",
    date(2025, 4, 7): "Giỗ Tổ Hùng Vương",
    date(2025, 4, 30): "Ngày Giải phóng miền Nam",
    date(2025, 5, 1): "Quốc tế Lao động",
    date(2025, 5, 2): "Nghỉ bù (làm bù thứ Bảy 26/4)",
    date(2025, 9, 1): "Quốc khánh (ngày liền kề)",
    date(2025, 9, 2): "Quốc khánh",
    # --- 2026 (Tết dates from the Ministry of Home Affairs' 2025 notice on Tết Bính Ngọ;
    # the rest from the Labour Code: check the notice for bridge days) ---
    date(2026, 1, 1): "Tết Dương lịch",
    # Tết Bính Ngọ (mùng 1 = 2026-02-17): 2026-02-14 to 2026-02-22, weekends included.
    date(2026, 2, 16): "Tết Nguyên đán",
    date(2026, 2, 17): "Tết Nguyên đán",
    date(2026, 2, 18): "Tết Nguyên đán",
    date(2026, 2, 19): "Tết Nguyên đán",
    date(2026, 2, 20): "Tết Nguyên đán",
    date(2026, 4, 27): "Nghỉ bù Giỗ Tổ Hùng Vương (26/4 là Chủ nhật)",
    date(2026, 4, 30): "Ngày Giải phóng miền Nam",
    date(2026, 5, 1): "Quốc tế Lao động",
    date(2026, 9, 1): "Quốc khánh (ngày liền kề; expected)",
    date(2026, 9, 2): "Quốc khánh",
    # --- 2027 (expected: not announced yet; law + usual pattern) ---
    date(2027, 1, 1): "Tết Dương lịch",
    # Tết Đinh Mùi (mùng 1 = 2027-02-06, a Saturday): 5 days around it, expected 02-04..02-10.
    date(2027, 2, 4): "Tết Nguyên đán (expected)",
    date(2027, 2, 5): "Tết Nguyên đán (expected)",
    date(2027, 2, 8): "Tết Nguyên đán (expected)",
    date(2027, 2, 9): "Tết Nguyên đán (expected)",
    date(2027, 2, 10): "Tết Nguyên đán (expected)",
    date(2027, 4, 16): "Giỗ Tổ Hùng Vương",
    date(2027, 4, 30): "Ngày Giải phóng miền Nam",
    date(2027, 5, 3): "Nghỉ bù Quốc tế Lao động (01/5 là thứ Bảy)",
    date(2027, 9, 2): "Quốc khánh",
    date(2027, 9, 3): "Quốc khánh (ngày liền kề; expected)",
}
"""Weekdays on which public offices are closed, with the reason (Vietnamese)."""

MAKEUP_WORKDAYS: frozenset[date] = frozenset({date(2024, 5, 4), date(2025, 4, 26)})
"""Saturdays worked in exchange for a bridge day: offices are open."""

FIRST_YEAR, LAST_YEAR = 2024, 2027
"""The years ``DAYS_OFF`` covers; other years get ``estimated_days_off``."""

LUNAR_NEW_YEAR = {
    2020: date(2020, 1, 25),
    2021: date(2021, 2, 12),
    2022: date(2022, 2, 1),
    2023: date(2023, 1, 22),
    2028: date(2028, 1, 26),
    2029: date(2029, 2, 13),
    2030: date(2030, 2, 3),
}
"""Lunar new year's day (mùng 1 Tết) of the years outside the table that the estimate knows."""
HUNG_KINGS = {
    2022: date(2022, 4, 10),
    2023: date(2023, 4, 29),
}
"""Giỗ Tổ Hùng Vương (10th day of the 3rd lunar month) of the years outside the table that the
estimate knows."""


def day_off_reason(day: date) -> str | None:
    """Why public offices are closed on ``day``, if it is a weekday public day off."""
    return days_off(day.year).get(day)


@cache
def days_off(year: int) -> dict[date, str]:
    """The weekday public days off of ``year``: the table's, or the estimate outside it."""
    if FIRST_YEAR <= year <= LAST_YEAR:
        return {day: reason for day, reason in DAYS_OFF.items() if day.year == year}
    return estimated_days_off(year)


def is_office_day(day: date) -> bool:
    """Monday to Friday or a make-up Saturday, and not a public day off."""
    if day in MAKEUP_WORKDAYS:
        return True
    return day.weekday() < 5 and day_off_reason(day) is None


@cache
def estimated_days_off(year: int) -> dict[date, str]:
    """The weekday public days off of a year outside the table, from the law alone (estimate)."""
    days = {
        date(year, 1, 1): "Tết Dương lịch",
        date(year, 4, 30): "Ngày Giải phóng miền Nam",
        date(year, 5, 1): "Quốc tế Lao động",
        date(year, 9, 1): "Quốc khánh (ngày liền kề)",
        date(year, 9, 2): "Quốc khánh",
    }
    new_year = LUNAR_NEW_YEAR.get(year)
    if new_year is not None:
        for offset in range(-2, 5):
            days[new_year + timedelta(days=offset)] = "Tết Nguyên đán"
    if year in HUNG_KINGS:
        days[HUNG_KINGS[year]] = "Giỗ Tổ Hùng Vương"
    return {
        day: f"{reason} (estimated)"
        for day, reason in days.items()
        if day.year == year and day.weekday() < 5
    }
