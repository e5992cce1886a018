"""Every query the dashboards send, expanded for one time range: what ``check`` and benchmarks run.

``panel_queries`` lists each panel's and each query variable's SQL after the same expansion
Grafana and the ClickHouse plugin apply (``dashboards.macros``), with the columns it must return.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from dashboards.macros import TimeRange, expand
from dashboards.model import ConstantVariable, Dashboard, Format, QueryVariable

TARGET_POINTS = 1000
"""Grafana's interval is about range / max data points (the panel's width in pixels)."""
_INTERVAL_MS = {"1m": 60_000, "1h": 3_600_000}


@dataclass(frozen=True)
class PanelQuery:
    dashboard: str
    """The dashboard's uid."""
    title: str
    """The panel's title, or ``$name`` for a variable's query."""
    sql: str
    """Expanded: what ClickHouse receives."""
    format: Format
    columns: tuple[str, ...]


def interval_ms(time_range_ms: int, min_interval: str | None) -> int:
    """Grafana's interval for a range: range / TARGET_POINTS, not below the panel's minimum."""
    floor = _INTERVAL_MS.get(min_interval or "", 1)
    return max(floor, time_range_ms // TARGET_POINTS, 1)


def panel_queries(
    dashboards: Sequence[Dashboard],
    from_ms: int,
    to_ms: int,
    choices: Mapping[str, str] | None = None,
    portable: bool = True,
) -> list[PanelQuery]:
    """Each panel's and variable's expanded SQL for [from_ms, to_ms).

    ``choices``: values of the query variables (``level``, ``unit``); constants take their own
    value. Raises MacroError for a query that cannot be expanded (or, ``portable``, would not
    run on ClickHouse 18.16), or KeyError for a query variable without a value."""
    choices = dict(choices or {})
    out: list[PanelQuery] = []
    for dashboard in dashboards:
        values: dict[str, str] = {}
        for variable in dashboard.variables:
            if isinstance(variable, ConstantVariable):
                values[variable.name] = variable.value
        for variable in dashboard.variables:
            if isinstance(variable, QueryVariable):
                span = TimeRange(from_ms, to_ms, interval_ms(to_ms - from_ms, None))
                q = variable.query
                out.append(
                    PanelQuery(
                        dashboard.uid,
                        f"${variable.name}",
                        expand(q.sql, span, values, portable),
                        q.format,
                        q.columns,
                    )
                )
                values[variable.name] = choices[variable.name]
        for panel in dashboard.panels():
            span = TimeRange(from_ms, to_ms, interval_ms(to_ms - from_ms, panel.interval))
            out.append(
                PanelQuery(
                    dashboard.uid,
                    panel.title,
                    expand(panel.query.sql, span, values, portable),
                    panel.query.format,
                    panel.query.columns,
                )
            )
    return out


def panel_sql(
    dashboards: Sequence[Dashboard], from_ms: int, to_ms: int, choices: Mapping[str, str]
) -> list[tuple[str, str]]:
    """(title, expanded SQL) of every panel: the real queries, e.g. for benchmarks."""
    return [
        (q.title, q.sql)
        for q in panel_queries(dashboards, from_ms, to_ms, choices)
        if not q.title.startswith("$")
    ]
