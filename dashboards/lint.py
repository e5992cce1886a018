"""Rules every generated dashboard must keep, beyond Grafana's schema: a list of problems, or none.

They encode what Grafana, the ClickHouse plugin and our own conventions need: unique panel ids,
panels inside the 24-column grid without overlaps, every query on the ``clickhouse`` data source
as a plugin v4 SQL target whose ``format`` fits the panel, English descriptions, units and
thresholds on rates, only the macros ClickHouse 18.16 can run, only variables the dashboard defines.
"""

from __future__ import annotations

import re
from typing import Any

from dashboards.render import DATASOURCE_UID, REFRESH, TIMEZONE

PORTABLE_MACROS = frozenset(
    {"fromTime", "toTime", "timeFilter", "timeFrom", "timeTo", "interval_s"}
)
_MACRO = re.compile(r"\$__(\w+)")
_VARIABLE = re.compile(r"\$\{(\w+)(?::\w+)?\}|\$(?!__)(\w+)")
_UID = re.compile(r"^[a-z0-9-]{1,40}$")


def dashboard_problems(doc: dict[str, Any]) -> list[str]:
    """Everything wrong with one rendered dashboard (empty when it is fine)."""
    problems: list[str] = []
    uid = str(doc.get("uid", ""))
    if not _UID.match(uid):
        problems.append(f"uid {uid!r}: use 1-40 of a-z, 0-9, '-'")
    for key, want in (("timezone", TIMEZONE), ("refresh", REFRESH), ("editable", False)):
        if doc.get(key) != want:
            problems.append(f"{uid}: {key} is {doc.get(key)!r}, expected {want!r}")
    variables = {v["name"] for v in doc.get("templating", {}).get("list", [])}
    for variable in doc.get("templating", {}).get("list", []):
        problems += _variable_problems(uid, variable, variables)
    ids: set[int] = set()
    cells: dict[tuple[int, int], int] = {}
    for panel in doc.get("panels", []):
        where = f"{uid} panel {panel.get('id')} {panel.get('title')!r}"
        if panel.get("id") in ids:
            problems.append(f"{where}: duplicate id")
        ids.add(panel.get("id"))
        problems += _grid_problems(where, panel, cells)
        if panel.get("type") == "row":
            if panel.get("collapsed") or panel.get("panels"):
                problems.append(f"{where}: rows are open with their panels after them")
            continue
        problems += _panel_problems(where, panel, variables)
    return problems


def _grid_problems(
    where: str, panel: dict[str, Any], cells: dict[tuple[int, int], int]
) -> list[str]:
    grid = panel.get("gridPos", {})
    x, y, w, h = (grid.get(k, -1) for k in ("x", "y", "w", "h"))
    if min(x, y) < 0 or w < 1 or h < 1 or x + w > 24:
        return [f"{where}: gridPos {grid} outside the 24-column grid"]
    for cx in range(x, x + w):
        for cy in range(y, y + h):
            if (cx, cy) in cells:
                return [f"{where}: overlaps panel {cells[(cx, cy)]}"]
            cells[(cx, cy)] = panel.get("id", -1)
    return []


def _panel_problems(where: str, panel: dict[str, Any], variables: set[str]) -> list[str]:
    problems = []
    if not panel.get("title") or not panel.get("description"):
        problems.append(f"{where}: needs a title and a description")
    if panel.get("datasource", {}).get("uid") != DATASOURCE_UID:
        problems.append(f"{where}: data source must be uid {DATASOURCE_UID!r}")
    defaults = panel.get("fieldConfig", {}).get("defaults", {})
    if not defaults.get("unit"):
        problems.append(f"{where}: no unit")
    if defaults.get("unit") == "percentunit" and not _has_thresholds(panel):
        problems.append(f"{where}: a rate panel needs thresholds")
    targets = panel.get("targets", [])
    if len(targets) != 1:
        problems.append(f"{where}: expected one target, got {len(targets)}")
    want_format = 0 if panel.get("type") == "timeseries" else 1
    for target in targets:
        problems += _target_problems(where, target, want_format, variables)
    return problems


def _has_thresholds(panel: dict[str, Any]) -> bool:
    config = panel["fieldConfig"]
    configs = [config["defaults"].get("thresholds", {})] + [
        p["value"] for o in config["overrides"] for p in o["properties"] if p["id"] == "thresholds"
    ]
    return any(len(t.get("steps", [])) > 1 for t in configs)


def _target_problems(
    where: str, target: dict[str, Any], want_format: int, variables: set[str]
) -> list[str]:
    problems = []
    if target.get("datasource", {}).get("uid") != DATASOURCE_UID:
        problems.append(f"{where}: target data source must be uid {DATASOURCE_UID!r}")
    if target.get("editorType") != "sql" or not target.get("rawSql") or not target.get("refId"):
        problems.append(f"{where}: target needs editorType 'sql', rawSql and refId")
    if target.get("format") != want_format:
        problems.append(f"{where}: format {target.get('format')!r}, expected {want_format}")
    if _version(str(target.get("pluginVersion", "0"))) < (4, 0, 0):
        problems.append(
            f"{where}: pluginVersion must be >= 4.0.0 (else the plugin migrates it as v3)"
        )
    problems += _sql_problems(where, str(target.get("rawSql", "")), variables)
    return problems


def _variable_problems(uid: str, variable: dict[str, Any], variables: set[str]) -> list[str]:
    if variable.get("type") != "query":
        return []
    where = f"{uid} variable ${variable.get('name')}"
    problems = []
    query = variable.get("query", {})
    if variable.get("refresh") != 2:
        problems.append(f"{where}: refresh must be 2 (on time range change)")
    if variable.get("datasource", {}).get("uid") != DATASOURCE_UID:
        problems.append(f"{where}: data source must be uid {DATASOURCE_UID!r}")
    if query.get("editorType") != "sql" or query.get("rawSql") != variable.get("definition"):
        problems.append(f"{where}: query must be editorType 'sql' with rawSql == definition")
    return problems + _sql_problems(where, str(query.get("rawSql", "")), variables)


def _sql_problems(where: str, sql: str, variables: set[str]) -> list[str]:
    problems = [
        f"{where}: macro $__{name} is not portable to ClickHouse 18.16"
        for name in sorted(set(_MACRO.findall(sql)) - PORTABLE_MACROS)
    ]
    for braced, bare in _VARIABLE.findall(sql):
        if (braced or bare) not in variables:
            problems.append(f"{where}: unknown variable ${braced or bare}")
    return problems


def _version(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in text.split("."))
    except ValueError:
        return (0,)
