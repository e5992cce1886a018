"""Dashboard "Đơn vị": pick a level and a unit; its rates over time, 766 points, children ranked."""

from __future__ import annotations

from collections.abc import Sequence

from dashboards import sql
from dashboards.indicators import INDICATOR_LIST, Indicator
from dashboards.model import (
    PERCENT,
    Column,
    Dashboard,
    Format,
    Panel,
    Query,
    QueryVariable,
    Row,
    Variable,
)
from dashboards.panels import group_scores_table, ranking_table, rates_stat, total_score_stat
from pipeline.reference import LEVEL_NAMES

UID = "chiso766-don-vi"
UNIT = "${unit:singlequote}"
HOUR_S = 3600


def level_variable(levels: Sequence[str]) -> QueryVariable:
    """Levels present in ``units``, labelled in Vietnamese, in the province's order."""
    known = [lv for lv in levels if lv in LEVEL_NAMES] or list(LEVEL_NAMES)
    ids = ", ".join(sql.quote(lv) for lv in known)
    labels = ", ".join(sql.quote(LEVEL_NAMES[lv][0]) for lv in known)
    query = (
        f"SELECT level, transform(level, [{ids}], [{labels}], level) AS label\n"
        f"FROM (SELECT DISTINCT level FROM {sql.UNITS})\n"
        f"ORDER BY indexOf([{ids}], level), level"
    )
    return QueryVariable(
        "level",
        "Cấp",
        "Unit level (value: the level id of the units table; text: its Vietnamese name).",
        Query(query, Format.TABLE, ("level", "label")),
    )


def unit_variable() -> QueryVariable:
    query = (
        f"SELECT code, concat(name, ' (', code, ')') AS label FROM {sql.UNITS}\n"
        "WHERE level = ${level:singlequote}\nORDER BY name, code"
    )
    return QueryVariable(
        "unit",
        "Đơn vị",
        "A unit of the chosen level (value: unit code; text: name and code).",
        Query(query, Format.TABLE, ("code", "label")),
    )


def unit_dashboard(db_variable: Variable, levels: Sequence[str], depth: int) -> Dashboard:
    under = sql.leaves_under(UNIT, depth)
    return Dashboard(
        uid=UID,
        title="Đơn vị",
        description="One unit in detail: its rates (with every unit below it), its Decision 766 "
        "points, its rates over time, and its sub-units ranked.",
        variables=(db_variable, level_variable(levels), unit_variable()),
        rows=(
            Row(
                "Tỷ lệ trong kỳ",
                (
                    rates_stat(
                        "Tỷ lệ của đơn vị",
                        "The unit's rates over the time range: sum(numerator)/sum(denominator) "
                        "over the unit and every unit below it.",
                        under,
                    ),
                ),
            ),
            Row(
                "Điểm 766",
                (
                    total_score_stat(
                        "Điểm 766 (phần tính được)",
                        "The unit's Decision 766 points over the time range from the items the "
                        "pipeline counts.",
                        under,
                    ),
                    group_scores_table(
                        "Điểm 766 theo nhóm",
                        "The unit's Decision 766 points per score group over the time range.",
                        under,
                    ),
                ),
            ),
            Row("Diễn biến", tuple(_over_time(i, under) for i in INDICATOR_LIST)),
            Row(
                "Đơn vị trực thuộc",
                (
                    ranking_table(
                        "Đơn vị trực thuộc — xếp hạng",
                        "The unit's direct sub-units ranked by Decision 766 points over the time "
                        "range, each with every unit below it.",
                        f"parent = {UNIT}",
                        depth,
                        height=14,
                    ),
                ),
            ),
        ),
    )


def _over_time(indicator: Indicator, under: str) -> Panel:
    """One rate per hour, or per day (Vietnam time) when Grafana asks for fewer points than
    there are hours (its interval, at least the panel's 1h, is then above an hour): then whole
    days come from ``daily_counts`` and only the partial first and last days from the hours."""
    per_day = f"$__interval_s > {HOUR_S}"
    step = f"if({per_day}, toUInt32(toStartOfDay(toDateTime(span_start), '{sql.TZ}')), span_start)"
    where = f"indicator = {sql.quote(indicator.id)}"
    query = (
        f"SELECT toDateTime({step}) AS time,\n"
        "  sum(numerator) / nullIf(sum(denominator), 0) AS value\n"
        f"FROM {sql.counts(sql.FROM, sql.TO, where, ('day', 'hour'), per_day, units=under)}\n"
        "GROUP BY time\nORDER BY time"
    )
    return Panel(
        "timeseries",
        indicator.name_vi,
        f"{indicator.name_en} of the unit per hour, or per day when the time range is long: "
        "sum(numerator)/sum(denominator) of each bucket. Dashed: the 766 full-points target.",
        Query(query, Format.TIME_SERIES, ("time", "value")),
        unit=PERCENT,
        width=8,
        height=7,
        min_value=0.0,
        max_value=1.0,
        interval="1h",
        thresholds=indicator.thresholds,
        columns=(Column("value", label=indicator.name_vi),),
    )
