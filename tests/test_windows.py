"""Hour buckets, rolling windows and calendar periods in Vietnam time."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline.rates import Counts, roll_up, totals, weakest
from pipeline.windows import HOUR_MS, bucket_of, parse_time, period_bounds, rfc3339, window_bounds

AS_OF = "2024-06-03T08:15:00+07:00"


@pytest.mark.parametrize(
    ("window", "start", "end"),
    [
        ("1h", "2024-06-03T08:00:00+07:00", "2024-06-03T09:00:00+07:00"),
        ("24h", "2024-06-02T09:00:00+07:00", "2024-06-03T09:00:00+07:00"),
        ("7d", "2024-05-27T09:00:00+07:00", "2024-06-03T09:00:00+07:00"),
        ("30d", "2024-05-04T09:00:00+07:00", "2024-06-03T09:00:00+07:00"),
        ("mtd", "2024-06-01T00:00:00+07:00", "2024-06-03T09:00:00+07:00"),
        ("qtd", "2024-04-01T00:00:00+07:00", "2024-06-03T09:00:00+07:00"),
        ("ytd", "2024-01-01T00:00:00+07:00", "2024-06-03T09:00:00+07:00"),
    ],
)
def test_window_bounds(window: str, start: str, end: str) -> None:
    assert tuple(map(rfc3339, window_bounds(window, parse_time(AS_OF)))) == (start, end)


@pytest.mark.parametrize(
    ("period", "start", "end"),
    [
        ("2024-06", "2024-06-01T00:00:00+07:00", "2024-07-01T00:00:00+07:00"),
        ("2024-12", "2024-12-01T00:00:00+07:00", "2025-01-01T00:00:00+07:00"),
        ("2024-Q4", "2024-10-01T00:00:00+07:00", "2025-01-01T00:00:00+07:00"),
        ("2024", "2024-01-01T00:00:00+07:00", "2025-01-01T00:00:00+07:00"),
    ],
)
def test_period_bounds(period: str, start: str, end: str) -> None:
    assert tuple(map(rfc3339, period_bounds(period))) == (start, end)


@pytest.mark.parametrize("bad", ["2024-13", "2024-Q5", "June", "24"])
def test_bad_periods_are_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="expected YYYY"):
        period_bounds(bad)


def test_midnight_local_is_1700_utc_the_day_before() -> None:
    assert parse_time("2024-06-03") == parse_time("2024-06-02T17:00:00Z")
    assert (
        rfc3339(bucket_of(parse_time("2024-06-03T00:59:59+07:00"))) == "2024-06-03T00:00:00+07:00"
    )


@given(st.integers(min_value=0, max_value=4_102_444_800_000))
def test_a_time_lies_in_its_bucket(ts_ms: int) -> None:
    start = bucket_of(ts_ms)
    assert start <= ts_ms < start + HOUR_MS and start % HOUR_MS == 0


def test_rates_are_sums_rolled_up_never_averages() -> None:
    rows = [
        ("C1", "online_filing", 0, 1, 1),          # 100 %
        ("C2", "online_filing", 0, 1, 9),          # 11 %
        ("C2", "online_filing", HOUR_MS, 1, 10),   # outside [0, HOUR_MS)
    ]  # fmt: skip
    rolled = roll_up(totals(rows, 0, HOUR_MS), {"C1": ("D", "P"), "C2": ("P",)})
    assert rolled["P"]["online_filing"] == Counts(2, 10)  # 20 %, not the 55.6 % average of rates
    assert rolled["D"]["online_filing"] == Counts(1, 1)
    assert Counts(0, 0).rate is None


def test_weakest_units_ignore_tiny_denominators_and_sort_by_mean_rate() -> None:
    rolled = {
        "A": {"online_filing": Counts(9, 10), "digitization": Counts(1, 10)},  # mean 0.5
        "B": {"online_filing": Counts(2, 10)},  # 0.2
        "C": {"online_filing": Counts(0, 3)},  # too small to judge
        "D": {"online_filing": Counts(3, 10), "e_result": Counts(3, 10)},  # 0.3
    }
    assert weakest(rolled, ["A", "B", "C", "D"], count=2) == ["B", "D"]
    assert weakest(rolled, ["A", "B", "C", "D"]) == ["B", "D", "A"]
