"""SQL pieces the panels share, in the subset ClickHouse 18.16 and current ClickHouse both run.

Every number comes from the hour buckets of ``${db}.hourly_counts``, each at its newest version
and with a denominator (``latest``: what ``FINAL WHERE denominator > 0`` reads); a rate is
always ``sum(numerator) / sum(denominator)`` (NULL on an empty denominator), never a mean of
rates. Time bounds use the plugin's ``$__fromTime`` / ``$__toTime`` with a
half-open range ``[from, to)`` on the hour buckets, the same range ``chiso766 rates`` sums
(``$__timeFilter`` would include a bucket that starts exactly at ``to``). A range of days or
more reads its whole months from ``monthly_counts`` and its other whole days from
``daily_counts`` (the worker keeps both equal to the sums of their hours), and only the hours
of its partial first and last days from ``hourly_counts`` (``counts``): the same sums, from
tens of rows per unit instead of every hour. Units roll up through the ``units`` table: a
unit's counts are those of every leaf unit in its subtree.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from dashboards.indicators import Indicator, points_if_empty

TZ = "Asia/Ho_Chi_Minh"
DB = "${db}"
UNITS = f"{DB}.units FINAL"
WEEK_S = 7 * 86400
FROM, TO = "$__fromTime", "$__toTime"


def quote(text: str) -> str:
    """A ClickHouse string literal."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def in_range(start: str, end: str, column: str = "bucket_start") -> str:
    return f"{column} >= {start} AND {column} < {end}"


def rate(
    indicator: str, condition: str = "", num: str = "numerator", den: str = "denominator"
) -> str:
    """sum(num) / sum(den) of one indicator's rows (and ``condition``), NULL when 0 / 0."""
    where = f"indicator = {quote(indicator)}" + (f" AND {condition}" if condition else "")
    return f"sumIf({num}, {where}) / nullIf(sumIf({den}, {where}), 0)"


def count(indicator: str, column: str = "denominator") -> str:
    return f"sumIf({column}, indicator = {quote(indicator)})"


def points(indicator: Indicator, num: str, den: str) -> str:
    """The indicator's 766 points (2 decimals) from summed counts, as the point rule says:
    ``min(max, max * rate% / full_at%)``, the empty-denominator policy when ``den`` is 0.

    Rounding is ClickHouse's ``round``, which may differ from the portal's half-up on the exact
    double by 0.01 at an exact tie; ``chiso766 score`` is the reference figure."""
    rule = indicator.rule
    # The same operations in the same order as pipeline.scoring.rules, so the doubles agree.
    pct = f"({num} / {den} * 100)"
    if rule.rate_decimals is not None:
        pct = f"round({num} / {den} * 100, {rule.rate_decimals})"
    value = f"least({float(rule.max_points)}, {float(rule.max_points)} * {pct} / {float(rule.full_at_pct)})"
    return f"if({den} = 0, {points_if_empty(rule)}, round(greatest(0., {value}), 2))"


TABLES = {"month": "monthly_counts", "day": "daily_counts", "hour": "hourly_counts"}
TIME_COLUMNS = {"month": "month", "day": "day", "hour": "bucket_start"}


def latest(table: str, time_column: str, where: str, time_condition: str) -> str:
    """The rows of a counts table (``hourly_counts``, ``daily_counts``, ``monthly_counts``)
    matching the conditions, each key at its highest version, as ``n`` and ``d``: what
    ``FINAL`` reads, and half the cost or less on both engines (ClickHouse 18.16 merges
    ``FINAL`` over whole month partitions before it filters: 52 ms of CPU against 9 for the
    hours of one day of a province-year). Keep ``d > 0``: a key whose newest row is zero lost
    its dossiers. ``where`` and ``time_condition`` may only test the key (unit, indicator,
    time): they filter every version alike."""
    conditions = " AND ".join(c for c in (where, f"({time_condition})") if c)
    return (
        f"(SELECT unit_code, indicator, {time_column},\n"
        "      argMax(numerator, version) AS n, argMax(denominator, version) AS d\n"
        f"    FROM {DB}.{table}\n"
        f"    WHERE {conditions}\n"
        f"    GROUP BY unit_code, indicator, {time_column})"
    )


SPANS = ("month", "day", "hour")
_READ_SPANS: ContextVar[frozenset[str]] = ContextVar("read_spans", default=frozenset(SPANS))


@contextmanager
def hours_only() -> Iterator[None]:
    """Dashboards built inside read every hour, no roll-up: the panels as they were before the
    roll-ups, the same sums. Tests and ``benchmarks/bench_queries.py`` compare the two."""
    token = _READ_SPANS.set(frozenset({"hour"}))
    try:
        yield
    finally:
        _READ_SPANS.reset(token)


def counts(
    start: str,
    end: str,
    where: str = "",
    spans: Sequence[str] = SPANS,
    coarse_if: str = "",
    units: str = "",
) -> str:
    """A relation (``unit_code``, ``indicator``, ``numerator``, ``denominator``,
    ``span_start``) whose rows hold exactly the counts of the hour buckets in [start, end)
    matching ``where`` (a condition on unit and indicator), each from the coarsest table that
    fits: the whole months of the range (``spans`` with ``month``), its other whole days
    (``day``), and the hours of its partial first and last days. ``span_start`` is the epoch
    second the row's month, day or hour starts (Vietnam time). ``coarse_if``: an SQL condition
    (say on ``$__interval_s``) without which everything is read per hour. ``units``: a condition
    on ``unit_code`` applied once to all of it (a subquery in ``where`` is analysed once per
    table read, and 18.16 spends tens of ms on each copy of the units' ancestry).

    ``start`` and ``end`` are SQL DateTime expressions; a range inside one day reads hours only.
    """
    return counts_over([(start, end)], where, spans, coarse_if, units)


def counts_over(
    ranges: Sequence[tuple[str, str]],
    where: str = "",
    spans: Sequence[str] = SPANS,
    coarse_if: str = "",
    units: str = "",
    from_midnight: bool = False,
) -> str:
    """``counts`` of several disjoint ranges at once, each table read once for all of them,
    with a column ``part``: the index of the range holding the row. ``from_midnight``: every
    range starts at midnight (Vietnam time), which keeps the SQL shorter (ClickHouse 18.16
    spends milliseconds of CPU analysing each nested constant bound).

    Every condition on a table's time column compares it with constant expressions, so that
    ClickHouse 18.16 too reads only the partitions and granules of the ranges (a constant
    ``coarse_if`` in an ``OR`` would make it read all of them): without ``coarse_if`` the whole
    days end where they start.
    """
    spans = [span for span in spans if span in _READ_SPANS.get()]
    per_table: dict[str, list[str]] = {"month": [], "day": [], "hour": []}
    for start, end in ranges:
        first_day = (  # the first whole day
            f"toDate({start}, '{TZ}')"
            if from_midnight
            else f"toDate(toDateTime(toUInt32({start}) + 86399), '{TZ}')"
        )
        end_day = f"toDate({end}, '{TZ}')"
        if coarse_if:
            end_day = f"if({coarse_if}, {end_day}, {first_day})"
        first_month = f"addMonths(toStartOfMonth(addDays({first_day}, -1)), 1)"
        end_month = f"toStartOfMonth({end_day})"
        per_table["month"].append(in_range(first_month, end_month, "month"))
        not_months = f" AND (day < {first_month} OR day >= {end_month})"
        per_table["day"].append(
            in_range(first_day, end_day, "day") + (not_months if "month" in spans else "")
        )
        day_lo, day_hi = f"toDateTime({first_day}, '{TZ}')", f"toDateTime({end_day}, '{TZ}')"
        not_days = f" AND (bucket_start < {day_lo} OR bucket_start >= {day_hi})"
        per_table["hour"].append(in_range(start, end) + (not_days if "day" in spans else ""))
    starts = {
        "month": f"toUInt32(toDateTime(month, '{TZ}'))",
        "day": f"toUInt32(toDateTime(day, '{TZ}'))",
        "hour": "toUInt32(bucket_start)",
    }
    parts = []
    for span in ("month", "day", "hour"):
        if span not in spans and span != "hour":
            continue
        conditions = per_table[span]
        # The index of the range holding the row (the ranges are disjoint).
        choices = [f"{c}, {i}" for i, c in enumerate(conditions[:-1])]
        part = f"multiIf({', '.join(choices)}, {len(conditions) - 1})" if choices else "0"
        parts.append(
            f"SELECT unit_code, indicator, n AS numerator, d AS denominator,\n"
            f"    {starts[span]} AS span_start, toUInt8({part}) AS part\n"
            f"  FROM {latest(TABLES[span], TIME_COLUMNS[span], where, _any_of(conditions))}\n"
            "  WHERE d > 0"
        )
    union = "(\n  " + "\n  UNION ALL\n  ".join(parts) + "\n)"
    return f"(SELECT * FROM {union}\n WHERE {units})" if units else union


def _any_of(conditions: Sequence[str]) -> str:
    return "(" + ") OR (".join(conditions) + ")"


def leaf_totals(where: str = "") -> str:
    """Per leaf unit and indicator: counts ``n`` / ``d`` summed over [from, to) (and ``where``).

    (Not aliased ``numerator``/``denominator``: ClickHouse resolves a WHERE name to a SELECT
    alias first, and ``denominator > 0`` would then test the aggregate.)"""
    return (
        "SELECT unit_code AS leaf, indicator, sum(numerator) AS n, sum(denominator) AS d\n"
        f"  FROM {counts(FROM, TO, where)}\n"
        "  GROUP BY leaf, indicator"
    )


def ancestry(depth: int) -> str:
    """(leaf, ancestor) for every unit and each unit of its roll-up chain, itself included.

    ``depth`` is the longest chain of parents in the province (2: commune, district, province);
    one self-join of ``units`` per level, as 18.16 has no recursive queries."""
    columns = ["leaf"] + [f"a{i}" for i in range(1, depth + 1)]
    query = f"SELECT code AS leaf, parent AS a1 FROM {UNITS}"
    for level in range(2, depth + 1):
        kept = ", ".join(columns[:level])
        query = (
            f"SELECT {kept}, a{level} FROM ({query}) AS chain{level} "
            f"ANY LEFT JOIN (SELECT code AS a{level - 1}, parent AS a{level} FROM {UNITS}) "
            f"AS up{level} USING a{level - 1}"
        )
    return (
        f"SELECT leaf, arrayJoin(arrayFilter(x -> x != '', [{', '.join(columns)}])) AS ancestor "
        f"FROM ({query})"
    )


def leaves_under(unit_sql: str, depth: int) -> str:
    """Condition: ``unit_code`` is a leaf in the subtree of the unit ``unit_sql`` (an SQL string)."""
    return f"unit_code IN (SELECT leaf FROM ({ancestry(depth)}) WHERE ancestor = {unit_sql})"


def rolled_totals(depth: int, units_where: str) -> str:
    """Per unit matching ``units_where`` (on ``units``) and indicator: counts of its subtree
    over [from, to)."""
    return (
        "SELECT ancestor AS code, indicator, sum(n) AS numerator, sum(d) AS denominator\n"
        f"FROM ({leaf_totals()}) AS leaves\n"
        f"ALL INNER JOIN ({ancestry(depth)}) AS ancestors USING leaf\n"
        f"WHERE ancestor IN (SELECT code FROM {UNITS} WHERE {units_where})\n"
        "GROUP BY code, indicator"
    )


def wide_rates(indicators: Sequence[Indicator], *, with_points: bool = True) -> list[str]:
    """One column per indicator (its rate), then ``received`` and the summed 766 ``points``."""
    columns = [f"{rate(i.id)} AS {i.id}" for i in indicators]
    columns.append(f"{count(indicators[0].id)} AS received")
    if with_points:
        parts = [
            points(i, count(i.id, "numerator"), count(i.id, "denominator")) for i in indicators
        ]
        columns.append(f"round({' + '.join(parts)}, 2) AS points")
    return columns


@dataclass(frozen=True)
class Period:
    """A to-date period ending at ``$__toTime`` and the same span of the period before."""

    key: str
    title: str
    before_title: str
    description: str
    start: str
    before_start: str
    before_end: str
    spans: tuple[str, ...] = SPANS
    """What its counts are read from (``counts``): a day reads its hours only, a month to date
    and its comparison never hold a whole month."""


def _month_like(
    key: str,
    title: str,
    before: str,
    description: str,
    trunc: str,
    add: str,
    spans: tuple[str, ...] = SPANS,
) -> Period:
    start = f"toUInt32(toDateTime({trunc}({TO}, '{TZ}'), '{TZ}'))"
    before_start = f"toUInt32(toDateTime({add}({trunc}({TO}, '{TZ}'), -1), '{TZ}'))"
    before_end = f"least({before_start} + (toUInt32({TO}) - {start}), {start})"
    return Period(
        key,
        title,
        before,
        description,
        f"toDateTime({start})",
        f"toDateTime({before_start})",
        f"toDateTime({before_end})",
        spans,
    )


PERIODS: tuple[Period, ...] = (
    Period(
        "today",
        "Hôm nay",
        "cùng ngày tuần trước",
        "today (Vietnam time) up to the end of the time range; compared with the same hours "
        "of the same weekday one week earlier (filing follows the day of the week)",
        f"toStartOfDay({TO}, '{TZ}')",
        f"toDateTime(toUInt32(toStartOfDay({TO}, '{TZ}')) - {WEEK_S})",
        f"toDateTime(toUInt32({TO}) - {WEEK_S})",
        spans=("hour",),
    ),
    _month_like(
        "mtd",
        "Từ đầu tháng",
        "cùng kỳ tháng trước",
        "month to date up to the end of the time range; compared with the same span from the "
        "first of the previous month (cut at the month's end)",
        "toStartOfMonth",
        "addMonths",
        spans=("day", "hour"),  # neither span ever holds a whole month
    ),
    _month_like(
        "ytd",
        "Từ đầu năm",
        "cùng kỳ năm trước",
        "year to date up to the end of the time range; compared with the same span of the "
        "previous year",
        "toStartOfYear",
        "addYears",
    ),
)


def period_rates(period: Period, indicators: Sequence[Indicator], change: bool) -> str:
    """One row: each indicator's rate over the period, or (``change``) its change against the
    period before in rate points (0.05 = 5 percentage points)."""
    if change:
        columns = [
            f"{rate(i.id, 'is_now')} - {rate(i.id, 'NOT is_now')} AS {i.id}" for i in indicators
        ]
    else:
        columns = [f"{rate(i.id, 'is_now')} AS {i.id}" for i in indicators]
    names = f"indicator IN ({', '.join(quote(i.id) for i in indicators)})"
    both = [(period.start, TO), (period.before_start, period.before_end)]
    return (
        "SELECT\n  " + ",\n  ".join(columns) + "\n"
        "FROM (\n"
        "  SELECT indicator, numerator, denominator, part = 0 AS is_now\n"
        f"  FROM {counts_over(both, names, period.spans, from_midnight=True)}\n"
        ")"
    )
