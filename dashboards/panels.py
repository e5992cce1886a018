"""Panels both leaders' dashboards use: rates of a set of units, ranked tables, 766 points."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from dashboards import sql
from dashboards.indicators import INDICATOR_LIST, Indicator, counted_items
from dashboards.model import (
    COUNT,
    GREEN,
    ORANGE,
    PERCENT,
    POINTS,
    RED,
    TEXT,
    Column,
    Format,
    Panel,
    Query,
    Thresholds,
)
from pipeline.scoring.groups import GROUPS

NO_POINTS = "CAST(NULL AS Nullable(Float64))"
"""A group none of whose items the pipeline counts."""
CHANGE_THRESHOLDS = Thresholds(base=RED, steps=((0.0, GREEN),))


def rate_columns(
    indicators: Sequence[Indicator] = INDICATOR_LIST, colored: bool = False
) -> tuple[Column, ...]:
    return tuple(
        Column(
            i.id,
            label=i.name_vi,
            unit=PERCENT,
            thresholds=i.thresholds,
            decimals=1,
            colored=colored,
        )
        for i in indicators
    )


def rates_stat(title: str, description: str, units: str = "", width: int = 24) -> Panel:
    """One value per indicator: sum(num) / sum(den) over [from, to) of the units matching
    ``units`` (a condition on ``unit_code``, "" for all)."""
    columns = [f"{sql.rate(i.id)} AS {i.id}" for i in INDICATOR_LIST]
    query = (
        "SELECT\n  " + ",\n  ".join(columns) + f"\nFROM {sql.counts(sql.FROM, sql.TO, units=units)}"
    )
    return Panel(
        "stat",
        title,
        description,
        Query(query, Format.TABLE, tuple(i.id for i in INDICATOR_LIST)),
        unit=PERCENT,
        width=width,
        height=5,
        decimals=1,
        columns=rate_columns(),
    )


def ranking_table(
    title: str, description: str, units_where: str, depth: int, height: int = 10
) -> Panel:
    """Every unit matching ``units_where``, with its subtree's rates over [from, to), dossiers
    received and the 766 points of the counted items; best first. Units without dossiers show
    empty rates and the points 766 gives an empty denominator."""
    columns = ", ".join(i.id for i in INDICATOR_LIST)
    inner = ",\n    ".join(sql.wide_rates(INDICATOR_LIST))
    query = (
        f"SELECT code AS unit_code, name AS unit_name, {columns}, received, points\n"
        f"FROM (SELECT code, name FROM {sql.UNITS} WHERE {units_where}) AS named\n"
        "ANY LEFT JOIN (\n"
        f"  SELECT code,\n    {inner}\n"
        f"  FROM ({sql.rolled_totals(depth, units_where)})\n"
        "  GROUP BY code\n"
        ") AS scored USING code\n"
        "ORDER BY points DESC, unit_code"
    )
    names = ("unit_code", "unit_name", *(i.id for i in INDICATOR_LIST), "received", "points")
    return Panel(
        "table",
        title,
        description,
        Query(query, Format.TABLE, names),
        unit=PERCENT,
        width=24,
        height=height,
        columns=(
            Column("unit_code", label="Mã", unit=TEXT),
            Column("unit_name", label="Đơn vị", unit=TEXT),
            *rate_columns(colored=True),
            Column("received", label="Hồ sơ tiếp nhận", unit=COUNT, decimals=0),
            Column("points", label="Điểm 766 (tính được)", unit=POINTS, decimals=2),
        ),
        sort_by="Điểm 766 (tính được)",
    )


@dataclass(frozen=True)
class _GroupPoints:
    """SQL for the 766 groups' points over some buckets: ``source`` sums each indicator's counts
    (``n_<id>``, ``d_<id>``) in one row; ``points`` holds one expression per group on it."""

    source: str
    names: tuple[str, ...]
    points: tuple[str, ...]
    available_max: tuple[float, ...]
    max_points: tuple[float, ...]


def _group_points(units: str) -> _GroupPoints:
    """Over [from, to), of the units matching ``units`` (on ``unit_code``, "" for all)."""
    names, points, available, maxima = [], [], [], []
    for group in GROUPS:
        items = counted_items(group)
        names.append(sql.quote(group.name_vi))
        maxima.append(float(group.max_points))
        available.append(float(sum(i.rule.max_points for i in items)))
        parts = [sql.points(i, f"n_{i.id}", f"d_{i.id}") for i in items]
        points.append(f"toNullable(round({' + '.join(parts)}, 2))" if parts else NO_POINTS)
    sums = ", ".join(
        f"{sql.count(i.id, 'numerator')} AS n_{i.id}, {sql.count(i.id)} AS d_{i.id}"
        for i in INDICATOR_LIST
    )
    source = f"SELECT {sums} FROM {sql.counts(sql.FROM, sql.TO, units=units)}"
    return _GroupPoints(source, tuple(names), tuple(points), tuple(available), tuple(maxima))


def group_scores_table(title: str, description: str, units: str, width: int = 18) -> Panel:
    """One row per 766 group: points of the items the pipeline counts, their maximum, the
    group's full maximum. Groups with nothing countable show empty points."""
    g = _group_points(units)
    query = (
        "SELECT group_name, points, available_max, max_points FROM (\n"
        f"  SELECT [{', '.join(g.points)}] AS all_points\n"
        f"  FROM ({g.source})\n"
        ")\n"
        f"ARRAY JOIN all_points AS points, [{', '.join(g.names)}] AS group_name,\n"
        f"  [{', '.join(map(str, g.available_max))}] AS available_max,\n"
        f"  [{', '.join(map(str, g.max_points))}] AS max_points"
    )
    return Panel(
        "table",
        title,
        description,
        Query(query, Format.TABLE, ("group_name", "points", "available_max", "max_points")),
        unit=POINTS,
        width=width,
        height=8,
        columns=(
            Column("group_name", label="Nhóm chỉ số", unit=TEXT),
            Column("points", label="Điểm (tính được)", decimals=2),
            Column("available_max", label="Tối đa tính được", decimals=0),
            Column("max_points", label="Tối đa của nhóm", decimals=0),
        ),
    )


def total_score_stat(title: str, description: str, units: str, width: int = 6) -> Panel:
    """The sum of the groups' countable points; orange from half of what is countable, green
    from 80% of it (a reading aid: 766 itself has no such bands)."""
    g = _group_points(units)
    known = [p for p in g.points if p != NO_POINTS]
    query = f"SELECT assumeNotNull(round({' + '.join(known)}, 2)) AS points FROM ({g.source})"
    top = sum(g.available_max)
    return Panel(
        "stat",
        title,
        description,
        Query(query, Format.TABLE, ("points",)),
        unit=POINTS,
        width=width,
        height=8,
        decimals=2,
        min_value=0.0,
        max_value=top,
        thresholds=Thresholds(base=RED, steps=((top * 0.5, ORANGE), (top * 0.8, GREEN))),
        columns=(Column("points", label=f"Điểm / {top:g}"),),
    )
