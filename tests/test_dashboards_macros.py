"""The macro expander against the ClickHouse plugin's documented expansions and Grafana's variables."""

from __future__ import annotations

import pytest

from dashboards.macros import MacroError, TimeRange, expand, expand_macros, strip_comments
from dashboards.queries import interval_ms
from pipeline.windows import parse_time

FROM_MS = parse_time("2024-06-03T08:00:00+07:00")  # 1717376400 s
TO_MS = parse_time("2024-06-04T08:30:00.250+07:00")  # 1717464600.25 s
RANGE = TimeRange(FROM_MS, TO_MS, interval_ms=300_000)


@pytest.mark.parametrize(
    ("sql", "expanded"),
    [
        ("SELECT $__fromTime, $__toTime", "SELECT toDateTime(1717376400), toDateTime(1717464600)"),
        ("WHERE $__timeFilter(t)", "WHERE t >= toDateTime(1717376400) AND t <= toDateTime(1717464600)"),
        ("WHERE $__timeFilter( toDateTime(x, 'UTC') )",
         "WHERE toDateTime(x, 'UTC') >= toDateTime(1717376400) AND toDateTime(x, 'UTC') <= toDateTime(1717464600)"),
        ("WHERE $__timeFrom(t) AND $__timeTo(t)",
         "WHERE t >= toDateTime(1717376400) AND t <= toDateTime(1717464600)"),
        ("WHERE $__dateFilter(d)", "WHERE d >= toDate('2024-06-03') AND d <= toDate('2024-06-04')"),
        ("WHERE $__dt(d, t)",
         "WHERE (d >= toDate('2024-06-03') AND d <= toDate('2024-06-04')) AND (t >= toDateTime(1717376400) AND t <= toDateTime(1717464600))"),
        ("SELECT $__interval_s, $__interval, $__interval_ms", "SELECT 300, 5m, 300000"),
        # A longer macro name is never taken for a shorter one, nor a name with a suffix.
        ("SELECT $__fromTimeX, $__interval_sec", "SELECT $__fromTimeX, $__interval_sec"),
        # Arguments only when '(' follows at once; later parentheses are plain SQL.
        ("SELECT $__toTime + (1)", "SELECT toDateTime(1717464600) + (1)"),
        # Macros inside comments are never expanded (comments are blanked, same length).
        ("SELECT 1 -- $__toTime\n", "SELECT 1 " + " " * len("-- $__toTime") + "\n"),
        ("SELECT /* $__fromTime */ 2", "SELECT                   2"),
        # ... but inside string literals they are, as in the plugin.
        ("SELECT '$__fromTime -- x'", "SELECT 'toDateTime(1717376400) -- x'"),
    ],
)  # fmt: skip
def test_macros_expand_as_the_plugin_does(sql: str, expanded: str) -> None:
    assert expand_macros(sql, RANGE) == expanded


def test_interval_s_is_at_least_one_second() -> None:
    assert expand_macros("$__interval_s", TimeRange(0, 1000, interval_ms=20)) == "1"


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("SELECT $__timeInterval(t)", "toStartOfInterval"),
        ("SELECT $__timeGroup(t, 5m)", "toStartOfInterval"),
        ("WHERE $__timeFilter_ms(t)", "fromUnixTimestamp64Milli"),
        ("SELECT $__fromTime_ms", "fromUnixTimestamp64Milli"),
        ("SELECT $__rateColumns(a, b, c) FROM t", "window functions"),
        ("WHERE $__timeFilter(a, b)", "expected 1 argument"),
        ("WHERE $__timeFilter()", "expected 1 argument"),
        ("WHERE $__dt(a)", "expected 2 argument"),
    ],
)
def test_macros_18_16_cannot_run_or_bad_calls_raise(sql: str, message: str) -> None:
    with pytest.raises(MacroError, match=message):
        expand_macros(sql, RANGE)


def test_non_portable_macros_expand_when_portability_is_not_asked() -> None:
    assert expand_macros("$__timeInterval(t)", RANGE, portable=False) == (
        "toStartOfInterval(toDateTime(t), INTERVAL 300 second)"
    )


def test_variables_expand_like_grafanas_template_service() -> None:
    values = {"db": "prod_a", "unit": "H70.21", "name": "Bù Đăng's"}
    sql = "SELECT * FROM ${db}.units FINAL WHERE code = ${unit:singlequote} OR name = ${name:singlequote} OR x = $unit OR y = [[db]]"
    assert expand(sql, RANGE, values) == (
        "SELECT * FROM prod_a.units FINAL WHERE code = 'H70.21' OR name = 'Bù Đăng\\'s' "
        "OR x = H70.21 OR y = prod_a"
    )
    # Grafana's own and the plugin's names are left for the macro pass.
    assert expand("$__toTime", RANGE, {}) == "toDateTime(1717464600)"


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("SELECT ${nope}", "no such dashboard variable"),
        ("SELECT ${db:csv}", "format 'csv'"),
        ("WHERE $__conditionalAll(a = $db, $db)", "frontend"),
    ],
)
def test_unknown_variables_and_formats_raise(sql: str, message: str) -> None:
    with pytest.raises(MacroError, match=message):
        expand(sql, RANGE, {"db": "x"})


def test_comment_stripping_respects_quotes_and_keeps_length() -> None:
    sql = "SELECT 'a -- b', `c /* d`, $q$ -- $q$ -- tail\nFROM t /* x */"
    stripped = strip_comments(sql)
    assert len(stripped) == len(sql)
    assert stripped == "SELECT 'a -- b', `c /* d`, $q$ -- $q$        \nFROM t        "
    assert strip_comments("SELECT 'it\\'s -- no comment'") == "SELECT 'it\\'s -- no comment'"


def test_interval_follows_the_range_and_the_panel_minimum() -> None:
    day = 86_400_000
    assert interval_ms(day, None) == 86_400
    assert interval_ms(day, "1h") == 3_600_000
    assert interval_ms(400 * day, "1h") == 34_560_000
