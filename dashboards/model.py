"""The panel model: dashboards, rows, panels, ClickHouse queries and variables as plain values.

Builders (``overview``, ``unit_view``, ``operations``) describe dashboards with these values;
``render`` turns them into Grafana JSON. Nothing here knows a database or a clock. Every query
also states the columns it must return (``Query.columns``), which ``chiso766 dashboards check``
compares with what the store answers.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Literal

PanelKind = Literal["stat", "timeseries", "table"]

# Grafana unit ids.
PERCENT = "percentunit"
"""A ratio 0..1 shown as a percent."""
SECONDS = "s"
COUNT = "short"
POINTS = "none"
TEXT = "string"

RED, ORANGE, GREEN, BLUE = "red", "orange", "green", "blue"


class Format(enum.IntEnum):
    """The ClickHouse plugin's result format (sqlds enum): how Grafana frames the rows."""

    TIME_SERIES = 0
    TABLE = 1


@dataclass(frozen=True)
class Thresholds:
    """Colour steps: ``base`` below the first value, then each (value, colour) from that value up."""

    base: str
    steps: tuple[tuple[float, str], ...] = ()


@dataclass(frozen=True)
class Column:
    """How one result column shows: its label, unit, colours, decimals; ``hidden`` drops it."""

    name: str
    label: str | None = None
    unit: str | None = None
    thresholds: Thresholds | None = None
    decimals: int | None = None
    hidden: bool = False
    colored: bool = False
    """Colour the table cell by the thresholds (tables only)."""
    dashed: bool = False
    """Draw the series dashed (time series only; the series is matched by display name)."""


@dataclass(frozen=True)
class Query:
    """One ClickHouse SQL target. ``sql`` may use the plugin's portable macros (``$__fromTime``,
    ``$__toTime``, ``$__interval_s``) and dashboard variables (``${db}``, ``${unit:singlequote}``).
    ``columns``: the names the result must have, in order."""

    sql: str
    format: Format
    columns: tuple[str, ...]
    ref_id: str = "A"


@dataclass(frozen=True)
class Panel:
    kind: PanelKind
    title: str
    """Vietnamese, for the leaders."""
    description: str
    """English: what the panel shows and how it is computed."""
    query: Query
    unit: str = COUNT
    width: int = 12
    height: int = 8
    thresholds: Thresholds | None = None
    columns: tuple[Column, ...] = ()
    decimals: int | None = None
    min_value: float | None = None
    max_value: float | None = None
    sort_by: str | None = None
    """Table: the column (display label) to sort by, descending."""
    interval: str | None = None
    """Minimum query interval, e.g. ``1h`` (hourly data has nothing finer)."""


@dataclass(frozen=True)
class Row:
    title: str
    panels: tuple[Panel, ...]


@dataclass(frozen=True)
class QueryVariable:
    """A variable whose options come from SQL: one column (value) or two (value, text)."""

    name: str
    label: str
    description: str
    query: Query


@dataclass(frozen=True)
class ConstantVariable:
    """A hidden constant, e.g. the namespace's database."""

    name: str
    value: str
    description: str


Variable = QueryVariable | ConstantVariable


@dataclass(frozen=True)
class Dashboard:
    uid: str
    title: str
    description: str
    rows: tuple[Row, ...]
    variables: tuple[Variable, ...] = ()
    tags: tuple[str, ...] = ("chiso766",)
    time_from: str = "now/M"
    time_to: str = "now"

    def panels(self) -> tuple[Panel, ...]:
        return tuple(p for row in self.rows for p in row.panels)
