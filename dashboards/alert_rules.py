"""The alert rules as Grafana file provisioning (apiVersion 1): one rule group, mute timings, a webhook contact point.

``render_alert_rules`` is pure: the same rules file and reference data give the same document.
Each rate rule becomes one Grafana rule whose ClickHouse query returns one row per unit of its
scope (``unit_code`` label, numeric ``value``), so Grafana keeps one alert instance per unit.
Thresholds, windows, lateness, minimum volume, ``for`` and ``keep_firing_for`` are the rule's;
the recovery threshold is the threshold expression's ``unloadEvaluator``. Office hours and
holidays become mute timings on the rule's notifications (Grafana still evaluates then, unlike
the chiso766 evaluator, which does not judge muted hours).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date

from dashboards import sql
from pipeline.alerts.evaluate import indicator_of, targets
from pipeline.alerts.notification import DASHBOARD_UID
from pipeline.alerts.rules import Rule, RuleSet
from pipeline.holidays import FIRST_YEAR, LUNAR_NEW_YEAR, MAKEUP_WORKDAYS, days_off
from pipeline.reference import Reference
from sinks.alert_reader import DEAD_LETTER_MS_SQL, TOPIC_SQL

DATASOURCE = {"type": "grafana-clickhouse-datasource", "uid": "clickhouse"}
EXPRESSION = {"type": "__expr__", "uid": "__expr__"}
FOLDER = "Chỉ số 766"
GROUP = "chiso766-alerts"
RECEIVER = "chiso766-oncall"
OUTSIDE_OFFICE = "chiso766-outside-office-hours"
HOLIDAYS = "chiso766-public-holidays"
WEEK_S = 7 * 86400
STALL_LOOKBACK_S = 7 * 86400


def render_alert_rules(
    ruleset: RuleSet, reference: Reference, database: str, now_sql: str = "now()"
) -> dict[str, object]:
    """The provisioning document (write it as YAML or JSON under provisioning/alerting/).

    ``now_sql`` is the SQL for the evaluation instant; Grafana needs ``now()``, tests pin it.
    """
    rules = [_rule(rule, reference, database, now_sql) for rule in ruleset.rules]
    return {
        "apiVersion": 1,
        "groups": [{"orgId": 1, "name": GROUP, "folder": FOLDER, "interval": "1h", "rules": rules}],
        "contactPoints": [
            {
                "orgId": 1,
                "name": RECEIVER,
                "receivers": [
                    {
                        "uid": "chiso766-webhook",
                        "type": "webhook",
                        "settings": {"url": "${CHISO766_ALERT_WEBHOOK}", "httpMethod": "POST"},
                        "disableResolveMessage": False,
                    }
                ],
            }
        ],
        "muteTimes": [_outside_office(ruleset), _holidays()],
    }


def _rule(rule: Rule, reference: Reference, database: str, now_sql: str) -> dict[str, object]:
    sql, lookback_s = _query(rule, reference, database, now_sql)
    evaluator, unload = _thresholds(rule)
    threshold: dict[str, object] = {"evaluator": evaluator}
    if unload is not None:
        threshold["unloadEvaluator"] = unload
    mutes = []
    if rule.mute_outside_office_hours:
        mutes.append(OUTSIDE_OFFICE)
    if rule.mute_on_holidays:
        mutes.append(HOLIDAYS)
    notification_settings: dict[str, object] = {"receiver": RECEIVER}
    if mutes:
        notification_settings["mute_time_intervals"] = mutes
    return {
        "uid": f"chiso766-{rule.name}"[:40],
        "title": rule.description or rule.name,
        "condition": "C",
        "data": [
            {
                "refId": "A",
                "datasourceUid": DATASOURCE["uid"],
                "relativeTimeRange": {"from": lookback_s, "to": 0},
                "model": {
                    "refId": "A",
                    "datasource": DATASOURCE,
                    "editorType": "sql",
                    "format": 1,
                    "pluginVersion": "4.20.0",
                    "rawSql": sql,
                },
            },
            {
                "refId": "B",
                "datasourceUid": "__expr__",
                "model": {
                    "refId": "B",
                    "type": "reduce",
                    "expression": "A",
                    "reducer": "last",
                    "datasource": EXPRESSION,
                },
            },
            {
                "refId": "C",
                "datasourceUid": "__expr__",
                "model": {
                    "refId": "C",
                    "type": "threshold",
                    "expression": "B",
                    "datasource": EXPRESSION,
                    "conditions": [threshold],
                },
            },
        ],
        "noDataState": "OK",
        "execErrState": "Error",
        "for": f"{rule.for_hours}h",
        "keepFiringFor": f"{rule.keep_firing_for_hours}h",
        "labels": {
            "severity": rule.severity,
            "rule": rule.name,
            "kind": rule.kind,
            "indicator": indicator_of(rule),
        },
        "annotations": {
            "summary": f"{rule.name}: {{{{ $labels.unit_code }}}} value {{{{ $values.B }}}}",
            "description": rule.description,
            "dashboard": f"/d/{DASHBOARD_UID}?var-unit={{{{ $labels.unit_code }}}}",
        },
        "notification_settings": notification_settings,
        "isPaused": False,
    }


def _thresholds(rule: Rule) -> tuple[dict[str, object], dict[str, object] | None]:
    """Fire (evaluator) and recover (unloadEvaluator) on the value the query returns."""
    if rule.kind == "below":
        return {"type": "lt", "params": [rule.below]}, {
            "type": "gt",
            "params": [rule.recover_above],
        }
    if rule.kind == "drop":
        # value = rate - baseline (pp rules) or rate / baseline - 1 (% rules), as a fraction.
        return (
            {"type": "lt", "params": [-rule.drop.amount / 100]},
            {"type": "gt", "params": [-rule.recover_within.amount / 100]},
        )
    if rule.kind == "stalled":
        return {"type": "gt", "params": [rule.minutes]}, None
    return {"type": "gt", "params": [rule.above]}, {"type": "lt", "params": [rule.recover_below]}


def _query(rule: Rule, reference: Reference, database: str, now_sql: str) -> tuple[str, int]:
    """The rule's SQL (returns unit_code, value) and how far back it reads, in seconds."""
    end = f"toUInt32(toStartOfHour({now_sql})) - {rule.lateness_hours * 3600}"
    window_s = rule.window_hours * 3600
    root = reference.root.code
    if rule.kind == "stalled":
        sql = (
            f"WITH {end} AS e\n"
            f"SELECT '{root}' AS unit_code, intDiv(e - intDiv(max(occurred_ms), 1000), 60) AS value\n"
            f"FROM (SELECT occurred_ms, {TOPIC_SQL} AS topic FROM {database}.events_raw\n"
            f"      WHERE occurred_ms >= (e - {STALL_LOOKBACK_S}) * 1000 AND occurred_ms < e * 1000)\n"
            f"WHERE topic = '{rule.topic}'"
        )
        return sql, STALL_LOOKBACK_S + rule.lateness_hours * 3600
    if rule.kind == "dead_letter_surge":
        sql = (
            f"WITH {end} AS e\n"
            f"SELECT '{root}' AS unit_code, dead / (dead + accepted) AS value FROM (\n"
            f"  SELECT (SELECT uniqExact(source) FROM {database}.dead_letters\n"
            f"          WHERE {DEAD_LETTER_MS_SQL} >= (e - {window_s}) * 1000 AND {DEAD_LETTER_MS_SQL} < e * 1000) AS dead,\n"
            f"         (SELECT uniqExact(event_id) FROM {database}.events_raw\n"
            f"          WHERE occurred_ms >= (e - {window_s}) * 1000 AND occurred_ms < e * 1000) AS accepted)\n"
            f"WHERE dead + accepted >= {rule.min_messages}"
        )
        return sql, window_s + rule.lateness_hours * 3600
    codes = targets(rule, reference)
    members = [[code, *reference.descendants(code)] for code in codes]
    weeks = rule.baseline_weeks if rule.kind == "drop" else 0
    lookback_s = window_s + weeks * WEEK_S
    targets_sql = "[" + ", ".join(f"'{c}'" for c in codes) + "]"
    members_sql = (
        "[" + ", ".join("[" + ", ".join(f"'{m}'" for m in group) + "]" for group in members) + "]"
    )
    inner = (
        f"  SELECT targets[i] AS unit_code, numerator, denominator,\n"
        f"         intDiv(e - b - 1, {WEEK_S}) AS w\n"
        f"  FROM (SELECT unit_code AS leaf, numerator, denominator, toUInt32(bucket_start) AS b\n"
        f"        FROM {database}.hourly_counts FINAL\n"
        f"        WHERE indicator = '{rule.indicator}' AND denominator > 0\n"
        f"          AND bucket_start >= toDateTime(e - {lookback_s}) AND bucket_start < toDateTime(e))\n"
        f"  ARRAY JOIN arrayFilter(j -> has(members[j], leaf), arrayEnumerate(targets)) AS i\n"
        f"  WHERE (e - b - 1) % {WEEK_S} < {window_s}"
    )
    head = f"WITH {end} AS e, {targets_sql} AS targets, {members_sql} AS members\n"
    if rule.kind == "below":
        sql = (
            f"{head}SELECT unit_code, value FROM (\n"
            f"  SELECT unit_code, sum(numerator) / sum(denominator) AS value, sum(denominator) AS den\n"
            f"  FROM (\n{inner}) GROUP BY unit_code)\n"
            f"WHERE den >= {rule.min_denominator}"
        )
        return sql, lookback_s + rule.lateness_hours * 3600
    week_rates = ", ".join(
        f"if(sumIf(denominator, w = {k}) >= {rule.min_denominator}, "
        f"sumIf(numerator, w = {k}) / sumIf(denominator, w = {k}), -1)"
        for k in range(1, weeks + 1)
    )
    change = "rate - baseline" if rule.drop.unit == "pp" else "rate / baseline - 1"
    # A fall that fails the z test is reported just above the firing threshold: it cannot fire,
    # and it does not count as recovered either (as in the chiso766 evaluator).
    not_significant = f"greatest({change}, {-rule.drop.amount / 100 + 1e-9!r})"
    sql = (
        f"{head}SELECT unit_code, if(z >= {rule.min_z!r}, {change}, {not_significant}) AS value FROM (\n"
        f"  SELECT unit_code, sumIf(numerator, w = 0) / sumIf(denominator, w = 0) AS rate,\n"
        f"         sumIf(numerator, w = 0) AS num, sumIf(denominator, w = 0) AS den,\n"
        f"         arraySort(arrayFilter(x -> x >= 0, [{week_rates}])) AS past, length(past) AS n,\n"
        f"         if(n % 2 = 1, past[intDiv(n, 2) + 1], (past[intDiv(n, 2)] + past[intDiv(n, 2) + 1]) / 2) AS baseline,\n"
        f"         sqrt(den * baseline * (1 - baseline)) AS sd,\n"
        f"         if(sd = 0, if(baseline * den > num, 1e9, 0), (baseline * den - num) / sd) AS z\n"
        f"  FROM (\n{inner}) GROUP BY unit_code)\n"
        f"WHERE den >= {rule.min_denominator} AND n >= {rule.min_baseline_weeks}"
    )
    return sql, lookback_s + rule.lateness_hours * 3600


def _outside_office(ruleset: RuleSet) -> dict[str, object]:
    """Before and after office hours on Monday to Friday and on make-up Saturdays; all of
    Sunday and of every other Saturday (as the evaluator's ``is_office_hour`` without holidays,
    which the holidays mute timing adds)."""
    start = f"{ruleset.office.start_min // 60:02d}:{ruleset.office.start_min % 60:02d}"
    end = f"{ruleset.office.end_min // 60:02d}:{ruleset.office.end_min % 60:02d}"
    off_hours = [
        {"times": [{"start_time": "00:00", "end_time": start}]},
        {"times": [{"start_time": end, "end_time": "24:00"}]},
    ]
    intervals: list[dict[str, object]] = [
        {**hours, "weekdays": ["monday:friday"]} for hours in off_hours
    ]
    intervals += [{**hours, **_on(day)} for day in sorted(MAKEUP_WORKDAYS) for hours in off_hours]
    intervals.append({"weekdays": ["sunday"]})
    intervals += [{"weekdays": ["saturday"], **when} for when in _except(MAKEUP_WORKDAYS)]
    return {
        "orgId": 1,
        "name": OUTSIDE_OFFICE,
        "time_intervals": [{**interval, "location": sql.TZ} for interval in intervals],
    }


def _on(day: date) -> dict[str, list[str]]:
    return {"years": [str(day.year)], "months": [str(day.month)], "days_of_month": [str(day.day)]}


def _except(days: Iterable[date]) -> list[dict[str, list[str]]]:
    """Time-interval fields that together match every date but ``days``: the other years, then
    per year of ``days`` its other months, then per month its other days."""
    excluded = sorted(set(days))
    years = sorted({d.year for d in excluded})
    matches = [{"years": _gaps(years, 1, 9999)}]
    for year in years:
        months = sorted({d.month for d in excluded if d.year == year})
        matches.append({"years": [str(year)], "months": _gaps(months, 1, 12)})
        for month in months:
            month_days = [d.day for d in excluded if (d.year, d.month) == (year, month)]
            matches.append(
                {
                    "years": [str(year)],
                    "months": [str(month)],
                    "days_of_month": _gaps(month_days, 1, 31),
                }
            )
    return [match for match in matches if all(match.values())]


def _gaps(taken: Sequence[int], first: int, last: int) -> list[str]:
    """The numbers from ``first`` to ``last`` not in sorted ``taken``, as Grafana ranges."""
    ranges, low = [], first
    for number in [*taken, last + 1]:
        if number > low:
            ranges.append(f"{low}:{number - 1}" if number - 1 > low else str(low))
        low = number + 1
    return ranges


def _holidays() -> dict[str, object]:
    return {
        "orgId": 1,
        "name": HOLIDAYS,
        # The announced years, then the law's estimate as far as it knows Tết (as the
        # evaluator mutes them).
        "time_intervals": [
            _day_interval(day)
            for year in range(FIRST_YEAR, max(LUNAR_NEW_YEAR) + 1)
            for day in sorted(days_off(year))
        ],
    }


def _day_interval(day: date) -> dict[str, object]:
    return {**_on(day), "location": sql.TZ}
