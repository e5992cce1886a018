"""Dashboard "Chỉ số 766 — Tổng quan tỉnh": the province at a glance, for its leaders."""

from __future__ import annotations

from collections.abc import Sequence

from dashboards import sql
from dashboards.indicators import HEADLINE_LIST, INDICATOR_LIST, Indicator
from dashboards.model import (
    COUNT,
    PERCENT,
    TEXT,
    Column,
    Dashboard,
    Format,
    Panel,
    Query,
    Row,
    Variable,
)
from dashboards.panels import (
    CHANGE_THRESHOLDS,
    group_scores_table,
    ranking_table,
    rate_columns,
    total_score_stat,
)
from pipeline.rates import WEAKEST_COUNT, WEAKEST_MIN_DENOMINATOR
from pipeline.reference import LEVEL_NAMES

UID = "chiso766-tong-quan"
TODAY, LAST_WEEK = "Hôm nay", "Cùng ngày tuần trước"
ALL_UNITS = ""


def overview_dashboard(
    variables: Sequence[Variable], levels: Sequence[tuple[str, int]], depth: int
) -> Dashboard:
    """``levels``: (level, number of units) below the province, ranked one table each;
    ``depth``: the longest parent chain of the province's units."""
    rows = [_period_row(period) for period in sql.PERIODS]
    rows.append(
        Row("Xu hướng hôm nay theo giờ", tuple(_trend(i) for i in HEADLINE_LIST) + (_volume(),))
    )
    rows.append(
        Row(
            "Điểm 766 và đơn vị yếu nhất",
            (
                total_score_stat(
                    "Điểm 766 của tỉnh (phần tính được)",
                    "The province's Decision 766 points over the time range, from the items the "
                    "pipeline counts (the others need data outside the pipeline).",
                    ALL_UNITS,
                ),
                group_scores_table(
                    "Điểm 766 theo nhóm",
                    "Decision 766 points per score group over the time range: the items the "
                    "pipeline counts, their maximum, and the group's full maximum.",
                    ALL_UNITS,
                ),
                _weakest(depth),
            ),
        )
    )
    for level, unit_count in levels:
        label_vi, label_en = LEVEL_NAMES.get(level, (level, level))
        rows.append(
            Row(
                f"Xếp hạng: {label_vi}",
                (
                    ranking_table(
                        f"Xếp hạng {label_vi.lower()}",
                        f"{label_en} ranked by Decision 766 points over the time range; each "
                        "rate is sum(numerator)/sum(denominator) of the unit and every unit below "
                        "it. Green at the 766 full-points target, orange within 10 points of it.",
                        f"level = {sql.quote(level)}",
                        depth,
                        height=min(20, 3 + unit_count),
                    ),
                ),
            )
        )
    return Dashboard(
        uid=UID,
        title="Chỉ số 766 — Tổng quan tỉnh",
        description="Decision 766 service-delivery indicators of the province: today, month and "
        "year to date against the period before, today's hourly trend, 766 points, rankings.",
        rows=tuple(rows),
        variables=tuple(variables),
        time_from="now/M",
    )


def _period_row(period: sql.Period) -> Row:
    ids = tuple(i.id for i in INDICATOR_LIST)
    rates = Panel(
        "stat",
        f"Tỷ lệ — {period.title.lower()}",
        f"Province rates {period.description}. Each is sum(numerator)/sum(denominator).",
        Query(sql.period_rates(period, INDICATOR_LIST, change=False), Format.TABLE, ids),
        unit=PERCENT,
        width=14,
        height=5,
        decimals=1,
        columns=rate_columns(),
    )
    change = Panel(
        "stat",
        f"Thay đổi so với {period.before_title}",
        f"Change of each rate against the period before, in percentage points: {period.description}.",
        Query(sql.period_rates(period, INDICATOR_LIST, change=True), Format.TABLE, ids),
        unit=PERCENT,
        width=10,
        height=5,
        decimals=1,
        thresholds=CHANGE_THRESHOLDS,
        columns=tuple(Column(i.id, label=i.name_vi) for i in INDICATOR_LIST),
    )
    return Row(period.title, (rates, change))


def _trend_sql(indicator: str, count: bool) -> str:
    """Per hour of today: the rate (or dossiers received, ``count``) today and on the same
    weekday a week earlier, shifted onto today; one column each, empty where a day has no row."""
    day = f"toStartOfDay({sql.TO}, '{sql.TZ}')"
    week_start = f"toDateTime(toUInt32({day}) - {sql.WEEK_S})"
    week_end = f"toDateTime(toUInt32({day}) - {sql.WEEK_S - 86400})"
    columns = []
    for name, side in (("today", "is_today"), ("last_week", "NOT is_today")):
        if count:
            columns.append(
                f"if(countIf({side}) > 0, toNullable(sumIf(denominator, {side})), NULL) AS {name}"
            )
        else:
            columns.append(
                f"sumIf(numerator, {side}) / nullIf(sumIf(denominator, {side}), 0) AS {name}"
            )
    source = sql.counts_over(
        [(day, sql.TO), (week_start, week_end)],
        f"indicator = {sql.quote(indicator)}",
        spans=("hour",),
        from_midnight=True,
    )
    return (
        f"SELECT time, {', '.join(columns)} FROM (\n"
        "  SELECT\n"
        "    part = 0 AS is_today,\n"
        f"    toDateTime(span_start + if(is_today, 0, {sql.WEEK_S})) AS time,\n"
        "    numerator, denominator\n"
        f"  FROM {source}\n"
        ")\nGROUP BY time\nORDER BY time"
    )


TREND_COLUMNS = (Column("today", label=TODAY), Column("last_week", label=LAST_WEEK, dashed=True))


def _trend(indicator: Indicator) -> Panel:
    return Panel(
        "timeseries",
        indicator.name_vi,
        f"{indicator.name_en} per hour today (Vietnam time) and, dashed, on the same weekday "
        "one week earlier (whole day, shifted onto today). Dashed line: the 766 target.",
        Query(
            _trend_sql(indicator.id, count=False),
            Format.TIME_SERIES,
            ("time", "today", "last_week"),
        ),
        unit=PERCENT,
        width=6,
        height=8,
        min_value=0.0,
        max_value=1.0,
        interval="1h",
        thresholds=indicator.thresholds,
        columns=TREND_COLUMNS,
    )


def _volume() -> Panel:
    return Panel(
        "timeseries",
        "Hồ sơ tiếp nhận theo giờ",
        "Dossiers received per hour today and, dashed, on the same weekday one week earlier.",
        Query(
            _trend_sql(INDICATOR_LIST[0].id, count=True),
            Format.TIME_SERIES,
            ("time", "today", "last_week"),
        ),
        unit=COUNT,
        width=24,
        height=7,
        interval="1h",
        columns=TREND_COLUMNS,
    )


def _weakest(depth: int) -> Panel:
    """Leaf units with the lowest mean of the headline rates that have enough dossiers behind
    them, as ``pipeline.rates.weakest`` picks them (the mean is across indicators; each rate is
    a ratio of sums)."""
    ids = [i.id for i in HEADLINE_LIST]
    usable = [f"({sql.count(i, 'd')} >= {WEAKEST_MIN_DENOMINATOR})" for i in ids]
    mean = (
        "("
        + " + ".join(
            f"if({u}, {sql.rate(i, num='n', den='d')}, 0)" for u, i in zip(usable, ids, strict=True)
        )
        + ")"
        f" / ({' + '.join(usable)})"
    )
    rates = ",\n    ".join(f"{sql.rate(i, num='n', den='d')} AS {i}" for i in ids)
    query = (
        f"SELECT code AS unit_code, name AS unit_name, mean_rate, {', '.join(ids)}\n"
        "FROM (\n"
        f"  SELECT leaf AS code, {mean} AS mean_rate,\n    {rates}\n"
        f"  FROM ({sql.leaf_totals()})\n"
        f"  WHERE leaf NOT IN (SELECT parent FROM {sql.UNITS})\n"
        "  GROUP BY code\n"
        f"  HAVING {' + '.join(usable)} > 0\n"
        f") AS weak ANY INNER JOIN (SELECT code, name FROM {sql.UNITS}) AS named USING code\n"
        f"ORDER BY mean_rate, unit_code\nLIMIT {WEAKEST_COUNT}"
    )
    return Panel(
        "table",
        f"{WEAKEST_COUNT} đơn vị yếu nhất",
        f"The {WEAKEST_COUNT} units without sub-units whose headline rates are lowest on average "
        f"over the time range; only rates with at least {WEAKEST_MIN_DENOMINATOR} dossiers count.",
        Query(query, Format.TABLE, ("unit_code", "unit_name", "mean_rate", *ids)),
        unit=PERCENT,
        width=24,
        height=7,
        columns=(
            Column("unit_code", label="Mã", unit=TEXT),
            Column("unit_name", label="Đơn vị", unit=TEXT),
            Column("mean_rate", label="Trung bình 4 tỷ lệ chính", decimals=1),
            *rate_columns(HEADLINE_LIST, colored=True),
        ),
    )
