"""Render the panel model to Grafana dashboard JSON (schema 41, ClickHouse plugin v4 targets).

Pure and deterministic: ids are given in reading order, panels flow left to right in rows of 24
grid columns, and ``to_json_bytes`` sorts keys, so the same model always gives the same bytes.
"""

from __future__ import annotations

import json
from typing import Any

from dashboards.model import (
    Column,
    ConstantVariable,
    Dashboard,
    Format,
    Panel,
    QueryVariable,
    Thresholds,
    Variable,
)

TIMEZONE = "Asia/Ho_Chi_Minh"
DATASOURCE_UID = "clickhouse"
PLUGIN_TYPE = "grafana-clickhouse-datasource"
PLUGIN_VERSION = "4.20.0"
"""Targets carry it so the plugin's frontend never migrates them as v3 queries."""
DATASOURCE = {"type": PLUGIN_TYPE, "uid": DATASOURCE_UID}
SCHEMA_VERSION = 41
REFRESH = "1m"
GRID_COLUMNS = 24


def render_dashboard(dashboard: Dashboard) -> dict[str, Any]:
    """The dashboard as Grafana JSON (a dict ready for ``json.dumps``)."""
    panels: list[dict[str, Any]] = []
    next_id = 1
    y = 0
    for row in dashboard.rows:
        panels.append(
            {
                "type": "row",
                "id": next_id,
                "title": row.title,
                "collapsed": False,
                "gridPos": {"h": 1, "w": GRID_COLUMNS, "x": 0, "y": y},
                "panels": [],
            }
        )
        next_id += 1
        y += 1
        x, line_height = 0, 0
        for panel in row.panels:
            if x + panel.width > GRID_COLUMNS:
                x, y, line_height = 0, y + line_height, 0
            grid = {"h": panel.height, "w": panel.width, "x": x, "y": y}
            panels.append(render_panel(panel, next_id, grid))
            next_id += 1
            x += panel.width
            line_height = max(line_height, panel.height)
        y += line_height
    return {
        "uid": dashboard.uid,
        "title": dashboard.title,
        "description": dashboard.description,
        "tags": list(dashboard.tags),
        "timezone": TIMEZONE,
        "editable": False,
        "graphTooltip": 1,
        "fiscalYearStartMonth": 0,
        "weekStart": "monday",
        "liveNow": False,
        "time": {"from": dashboard.time_from, "to": dashboard.time_to},
        "timepicker": {"refresh_intervals": ["1m", "5m", "15m", "1h"]},
        "refresh": REFRESH,
        "schemaVersion": SCHEMA_VERSION,
        "version": 1,
        "panels": panels,
        "templating": {"list": [render_variable(v) for v in dashboard.variables]},
        "annotations": {"list": []},
        "links": [
            {
                "type": "dashboards",
                "title": "Chỉ số 766",
                "tags": ["chiso766"],
                "asDropdown": False,
                "includeVars": False,
                "keepTime": True,
                "targetBlank": False,
                "icon": "external link",
                "tooltip": "",
                "url": "",
            }
        ],
    }


def render_target(query_sql: str, fmt: Format, ref_id: str = "A") -> dict[str, Any]:
    """A ClickHouse plugin v4 SQL target."""
    return {
        "refId": ref_id,
        "datasource": dict(DATASOURCE),
        "editorType": "sql",
        "rawSql": query_sql,
        "format": int(fmt),
        "queryType": "timeseries" if fmt is Format.TIME_SERIES else "table",
        "pluginVersion": PLUGIN_VERSION,
        "meta": {"timezone": TIMEZONE},
    }


def render_panel(panel: Panel, panel_id: int, grid: dict[str, int]) -> dict[str, Any]:
    defaults: dict[str, Any] = {"unit": panel.unit, "color": {"mode": "thresholds"}}
    defaults["thresholds"] = _thresholds(panel.thresholds or Thresholds(base="blue"))
    if panel.decimals is not None:
        defaults["decimals"] = panel.decimals
    if panel.min_value is not None:
        defaults["min"] = panel.min_value
    if panel.max_value is not None:
        defaults["max"] = panel.max_value
    if panel.kind == "timeseries":
        defaults["color"] = {"mode": "palette-classic"}
        defaults["custom"] = {
            "drawStyle": "line",
            "lineWidth": 2,
            "fillOpacity": 0,
            "showPoints": "auto",
            "spanNulls": False,
            "axisPlacement": "auto",
            # A rate's 766 target drawn as a dashed line; off for plain counts.
            "thresholdsStyle": {"mode": "dashed" if panel.thresholds else "off"},
        }
    elif panel.kind == "table":
        defaults["custom"] = {"align": "auto", "inspect": False}
    out: dict[str, Any] = {
        "id": panel_id,
        "type": panel.kind,
        "title": panel.title,
        "description": panel.description,
        "datasource": dict(DATASOURCE),
        "gridPos": grid,
        "targets": [render_target(panel.query.sql, panel.query.format, panel.query.ref_id)],
        "fieldConfig": {
            "defaults": defaults,
            "overrides": [_override(panel, c) for c in panel.columns],
        },
        "options": _options(panel),
    }
    if panel.interval:
        out["interval"] = panel.interval
    return out


def render_variable(variable: Variable) -> dict[str, Any]:
    if isinstance(variable, ConstantVariable):
        return {
            "type": "constant",
            "name": variable.name,
            "description": variable.description,
            "hide": 2,
            "skipUrlSync": True,
            "query": variable.value,
            "current": {"text": variable.value, "value": variable.value},
            "options": [{"text": variable.value, "value": variable.value, "selected": True}],
        }
    assert isinstance(variable, QueryVariable)
    sql = variable.query.sql
    return {
        "type": "query",
        "name": variable.name,
        "label": variable.label,
        "description": variable.description,
        "datasource": dict(DATASOURCE),
        "definition": sql,
        "query": {
            "refId": "A",
            "editorType": "sql",
            "rawSql": sql,
            "format": int(Format.TABLE),
            "pluginVersion": PLUGIN_VERSION,
        },
        "refresh": 2,
        "sort": 0,
        "multi": False,
        "includeAll": False,
        "hide": 0,
        "options": [],
        "regex": "",
    }


def to_json_bytes(document: dict[str, Any]) -> bytes:
    """Stable bytes: sorted keys, two-space indent, UTF-8 (Vietnamese kept readable), newline."""
    return (json.dumps(document, ensure_ascii=False, indent=2, sort_keys=True) + "\n").encode()


def _thresholds(thresholds: Thresholds) -> dict[str, Any]:
    steps: list[dict[str, Any]] = [{"value": None, "color": thresholds.base}]
    steps += [{"value": value, "color": color} for value, color in thresholds.steps]
    return {"mode": "absolute", "steps": steps}


def _override(panel: Panel, column: Column) -> dict[str, Any]:
    properties: list[dict[str, Any]] = []
    if column.label is not None:
        properties.append({"id": "displayName", "value": column.label})
    if column.unit is not None:
        properties.append({"id": "unit", "value": column.unit})
    if column.decimals is not None:
        properties.append({"id": "decimals", "value": column.decimals})
    if column.thresholds is not None:
        properties.append({"id": "thresholds", "value": _thresholds(column.thresholds)})
        properties.append({"id": "color", "value": {"mode": "thresholds"}})
    if column.colored and panel.kind == "table":
        properties.append(
            {"id": "custom.cellOptions", "value": {"type": "color-background", "mode": "basic"}}
        )
    if column.hidden:
        properties.append({"id": "custom.hidden", "value": True})
    if column.dashed and panel.kind == "timeseries":
        properties.append({"id": "custom.lineStyle", "value": {"fill": "dash", "dash": [10, 10]}})
    return {"matcher": {"id": "byName", "options": column.name}, "properties": properties}


def _options(panel: Panel) -> dict[str, Any]:
    if panel.kind == "stat":
        return {
            "graphMode": "none",
            "colorMode": "value",
            "justifyMode": "auto",
            "textMode": "value_and_name",
            "wideLayout": True,
            "showPercentChange": False,
            "percentChangeColorMode": "standard",
            "orientation": "auto",
            "reduceOptions": {"values": False, "calcs": ["lastNotNull"], "fields": ""},
        }
    if panel.kind == "timeseries":
        return {
            "legend": {
                "displayMode": "list",
                "placement": "bottom",
                "showLegend": True,
                "calcs": [],
            },
            "tooltip": {"mode": "multi", "sort": "none"},
        }
    options: dict[str, Any] = {"frameIndex": 0, "showHeader": True, "cellHeight": "sm"}
    if panel.sort_by:
        options["sortBy"] = [{"displayName": panel.sort_by, "desc": True}]
    return options
