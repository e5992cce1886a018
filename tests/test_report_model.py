"""The report's pure parts: trend steps, colour status, the model from rows, SVG charts, the page.

The rows are written by hand for two communes of one district (and one department), so every
expected number below is worked out from them, not from the code under test.
"""

from __future__ import annotations

import re

import pytest

from dashboards.report.charts import group_chart, rate_chart, status_of, tick_label
from dashboards.report.model import build_report, previous_bounds, step_starts, trend_step
from dashboards.report.page import int_text, pct_text, render_page
from pipeline.rates import INDICATORS, Counts
from pipeline.reference import load_reference
from pipeline.windows import DAY_MS, HOUR_MS, parse_time, period_bounds, rfc3339

REFERENCE = load_reference()
A, B, DEPARTMENT = "H70.21.01", "H70.21.02", "H70.01"
JUNE = period_bounds("2024-06")


def _at(text: str) -> int:
    return parse_time(text)


@pytest.mark.parametrize(
    ("start", "end", "step"),
    [
        ("2024-06-03", "2024-06-04", "hour"),
        ("2024-06-03", "2024-06-06", "hour"),
        ("2024-06-03", "2024-06-07", "day"),
        ("2024-06-01", "2024-07-01", "day"),
        ("2024-04-01", "2024-07-01", "day"),
        ("2024-01-01", "2025-01-01", "month"),
    ],
)
def test_trend_step_by_period_length(start: str, end: str, step: str) -> None:
    assert trend_step(_at(start), _at(end)) == step


@pytest.mark.parametrize(
    ("start", "end", "before"),
    [
        ("2024-06-01", "2024-07-01", "2024-05-01"),
        ("2024-01-01", "2024-02-01", "2023-12-01"),
        ("2024-04-01", "2024-07-01", "2024-01-01"),
        ("2024-01-01", "2025-01-01", "2023-01-01"),
        ("2024-06-03", "2024-06-06", "2024-05-31"),
        ("2024-03-01", "2024-03-05", "2024-02-26"),
    ],
)
def test_the_period_before(start: str, end: str, before: str) -> None:
    assert previous_bounds(_at(start), _at(end)) == (_at(before), _at(start))


def test_step_starts_follow_the_calendar_in_vietnam_time() -> None:
    months = step_starts(*period_bounds("2024"), "month")
    assert [rfc3339(m) for m in months[:2]] == [
        "2024-01-01T00:00:00+07:00",
        "2024-02-01T00:00:00+07:00",
    ]
    assert len(months) == 12 and rfc3339(months[-1]) == "2024-12-01T00:00:00+07:00"
    days = step_starts(*JUNE, "day")
    assert len(days) == 30 and days[1] - days[0] == DAY_MS
    hours = step_starts(_at("2024-06-03"), _at("2024-06-04"), "hour")
    assert len(hours) == 24 and hours[1] - hours[0] == HOUR_MS
    assert tick_label("day", days[2]) == "03/06" and tick_label("hour", hours[8]) == "08h"
    assert tick_label("month", months[5]) == "06/2024"


@pytest.mark.parametrize(
    ("counts", "target", "status"),
    [
        (Counts(50, 100), 50.0, "good"),
        (Counts(49, 100), 50.0, "warn"),
        (Counts(40, 100), 50.0, "warn"),
        (Counts(39, 100), 50.0, "bad"),
        (Counts(80, 100), 100.0, "warn"),
        (Counts(79, 100), 100.0, "bad"),
        (Counts(0, 0), 100.0, "none"),
        (Counts(5, 10), None, "none"),
    ],
)
def test_status_against_the_target(counts: Counts, target: float | None, status: str) -> None:
    assert status_of(counts, target) == status


def test_vietnamese_numbers() -> None:
    assert pct_text(Counts(2, 3)) == "66,7%" and pct_text(Counts()) == "–"
    assert int_text(1234567) == "1.234.567"


def _rows() -> list[tuple[str, str, int, int, int]]:
    """Leaf rows summed over June (as summed_rows stamps them) and per day (stepped_rows)."""
    return [
        (A, "online_filing", JUNE[0], 3, 4),
        (B, "online_filing", JUNE[0], 1, 4),
        (DEPARTMENT, "online_filing", JUNE[0], 9, 10),
        (A, "online_payment", JUNE[0], 1, 2),
    ]


def _stepped() -> list[tuple[str, str, int, int, int]]:
    day3, day5 = _at("2024-06-03"), _at("2024-06-05")
    return [
        (A, "online_filing", day3, 2, 2),
        (A, "online_filing", day5, 1, 2),
        (B, "online_filing", day3, 1, 4),
        (DEPARTMENT, "online_filing", day5, 9, 10),
        (A, "online_payment", day3, 1, 2),
    ]


def test_the_model_sums_counts_up_the_hierarchy() -> None:
    report = build_report(REFERENCE, "H70", "2024-06", *JUNE, _rows(), _stepped(), None)
    assert report.headline["online_filing"] == Counts(13, 18)
    assert report.headline["online_payment"] == Counts(1, 2)
    assert report.headline["e_result"] == Counts(0, 0)
    assert report.step == "day" and len(report.trends) == len(INDICATORS)
    filing = dict(next(t for t in report.trends if t.indicator == "online_filing").points)
    assert len(filing) == 30
    assert filing[_at("2024-06-03")] == Counts(3, 6) and filing[_at("2024-06-05")] == Counts(10, 12)
    assert filing[_at("2024-06-04")] == Counts()
    levels = dict(report.rankings)
    assert set(levels) == {"department", "district", "commune"}
    district = next(u for u in levels["district"] if u.code == "H70.21")
    assert district.counts["online_filing"] == Counts(4, 8)
    assert len(levels["commune"]) == len(REFERENCE.units_at("commune"))
    assert report.targets_pct["online_filing"] == 50.0
    # The district's own report: only its communes, and its own trend.
    own = build_report(REFERENCE, "H70.21", "2024-06", *JUNE, _rows(), _stepped(), None)
    assert own.headline["online_filing"] == Counts(4, 8)
    assert [level for level, _ in own.rankings] == ["commune"]
    assert dict(own.trends[0].points)[_at("2024-06-05")] == Counts(1, 2)


def test_points_at_stake_rank_the_units_that_pull_the_province_down() -> None:
    report = build_report(REFERENCE, "H70", "2024-06", *JUNE, _rows(), _stepped(), None)
    assert report.stakes, "the district below target has points at stake"
    assert all(s.gain_points > 0 for s in report.stakes)
    assert [s.gain_points for s in report.stakes] == sorted(
        (s.gain_points for s in report.stakes), reverse=True
    )
    district = next(s for s in report.stakes if s.code == "H70.21")
    # Online filing scores 4.3 only through the portal's as-of formula (e-result and sync
    # included), which hourly counts cannot give: it is no hourly stake.
    assert "online_filing" not in district.by_indicator
    assert district.by_indicator["online_payment"][1] == 1  # 1 of 2 paid online; target 100%


def test_a_rate_chart_breaks_its_line_where_nothing_was_received() -> None:
    points = [
        (0, Counts(1, 2)),
        (DAY_MS, Counts(3, 4)),
        (2 * DAY_MS, Counts()),
        (3 * DAY_MS, Counts(1, 1)),
    ]
    svg = rate_chart("e_result", "t", points, "day", 100.0, "warn")
    assert 'data-points="3"' in svg
    lines = re.findall(r'class="line" d="([^"]+)"', svg)
    assert [len(re.findall("[ML]", d)) for d in lines] == [2, 1]
    assert 'class="target"' in svg and "100%" in svg and "ngày / day" in svg
    empty = rate_chart("e_result", "t", [(0, Counts())], "day", None, "none")
    assert 'data-points="0"' in empty and 'class="line"' not in empty


def test_the_group_chart_never_shows_a_missing_group_as_zero() -> None:
    svg = group_chart([("A", "Nhóm A", 6.0, 6.0, 18.0), ("B", "Nhóm B", 0.0, 0.0, 20.0)])
    values = re.findall(r'class="bar-value"[^>]*>([^<]+)<', svg)
    assert values == ["6,00 / 6 (18)", "– / 20"]


def test_the_page_is_self_contained_and_vietnamese_first() -> None:
    may = [(A, "online_filing", period_bounds("2024-05")[0], 1, 2)]
    report = build_report(REFERENCE, "H70", "2024-06", *JUNE, _rows(), _stepped(), None, may)
    assert report.previous["online_filing"] == Counts(1, 2)
    html = render_page(report, version="v1")
    assert html.startswith("<!DOCTYPE html>") and '<html lang="vi">' in html
    assert "<b>Tháng 06/2024 (01/06/2024 – 30/06/2024)</b>" in html
    assert "<script" not in html and 'data-version="v1"' in html
    assert set(re.findall(r"https?://[^\s\"'<>]+", html)) == {"http://www.w3.org/2000/svg"}
    figure = re.search(r'data-unit="H70" data-indicator="online_filing"[^>]*>([^<]+)<', html)
    assert figure is not None and figure.group(1) == "72,2%"
    assert "▲ +22,2 điểm % so với kỳ trước (50,0%)" in html  # 13/18 against 1/2
    assert "Kỳ trước: chưa có hồ sơ" in html  # the other indicators had no dossiers in May
    assert html.count('class="chart rate-chart') == len(INDICATORS)
    live = render_page(report, version="v1", live=True)
    assert "<script>" in live and "version.json" in live and "TRỰC TIẾP" in live
