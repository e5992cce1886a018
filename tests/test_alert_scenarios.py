"""Scenarios on five generated weeks of the province with noise and incidents, through the worker's core.

One dataset (module fixture) on the embedded store: incidents of several kinds at districts and
departments. The default rules must fire on each incident's first working day and resolve after
it ends, and say nothing anywhere else in the five weeks. The live evaluator (state in
ClickHouse, restarted midway) must produce exactly the backtest's transitions, never twice; the
Grafana rendering of the same rules must compute the same values on chdb.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from datetime import date

import pytest

from dashboards.alert_rules import render_alert_rules
from pipeline.alerts.evaluate import Evaluator
from pipeline.alerts.rules import RATE_KINDS, load_rules
from pipeline.alerts.state import Transition
from pipeline.generator import parse_incident
from pipeline.reference import load_reference
from pipeline.settings import Settings
from pipeline.windows import HOUR_MS, parse_time, rfc3339
from sinks import alert_store, schema
from sinks.alert_runner import backtest, evaluate_due
from sinks.embedded import EmbeddedStore
from tests.alert_data import load_weeks
from tests.namespaces import new_namespace
from tests.stream_harness import REPO, settings_flags

START = date(2024, 5, 6)  # a Monday; five weeks without public holidays follow
DAYS = 35
INCIDENTS = {
    # spec: (rule expected to fire, unit)
    "payment-outage:H70.22:2024-05-21:2024-05-22": ("online-payment-drop", "H70.22"),
    "digitization-outage:H70.05:2024-05-28:2024-05-28": ("digitization-drop", "H70.05"),
    "online-filing-outage:H70.24:2024-06-04:2024-06-05": ("online-filing-drop", "H70.24"),
    "e-result-outage:H70.09:2024-05-29:2024-05-30": ("e-result-drop", "H70.09"),
}
FROM, TO = "2024-05-13", "2024-06-10"  # after a week of history, to the end of the data
REFERENCE = load_reference()
RULES = load_rules(None, REFERENCE.unit_codes, REFERENCE.levels)
RULE_BY_NAME = {r.name: r for r in RULES.rules}


@pytest.fixture(scope="module")
def loaded(base_settings: Settings) -> Iterator[tuple[EmbeddedStore, Settings]]:
    settings = base_settings.replace(namespace=new_namespace("alerts"), store="embedded")
    store = EmbeddedStore(settings.chdb_dir)
    load_weeks(store, settings.database, REFERENCE, START, DAYS, tuple(INCIDENTS))
    yield store, settings
    schema.drop(store, settings.database)


@pytest.fixture(scope="module")
def transitions(loaded: tuple[EmbeddedStore, Settings]) -> list[Transition]:
    store, settings = loaded
    return backtest(
        store, settings.database, Evaluator(RULES, REFERENCE), parse_time(FROM), parse_time(TO)
    )


def test_each_incident_fires_on_its_first_working_day_and_resolves_after_it(
    transitions: list[Transition],
) -> None:
    for spec, (rule, unit) in INCIDENTS.items():
        incident = parse_incident(spec, REFERENCE)
        mine = [t for t in transitions if (t.rule, t.unit_code) == (rule, unit)]
        assert [t.state for t in mine] == ["firing", "resolved"], (spec, mine)
        fired, resolved = mine
        first_day = rfc3339(incident.start_s * 1000)[:10]
        assert rfc3339(fired.at_ms)[:10] == first_day, (spec, rfc3339(fired.at_ms))
        assert fired.value is not None and fired.baseline is not None
        drop = RULE_BY_NAME[rule].drop.amount / 100  # the default drop rules are relative
        assert fired.value <= (1 - drop) * fired.baseline
        assert resolved.at_ms > incident.end_s * 1000, (spec, rfc3339(resolved.at_ms))
        # resolved within days (e-results of dossiers completed in the outage lag behind)
        late = resolved.at_ms - incident.end_s * 1000
        assert late < 6 * 24 * HOUR_MS, (spec, rfc3339(resolved.at_ms))


def test_no_other_rate_alert_in_five_weeks(transitions: list[Transition]) -> None:
    expected = set(INCIDENTS.values())
    unexpected = [
        (t.rule, t.unit_code, t.state, rfc3339(t.at_ms), t.value, t.baseline)
        for t in transitions
        if RULES.rule(t.rule).kind in RATE_KINDS and (t.rule, t.unit_code) not in expected
    ]
    assert unexpected == []
    # The feeds never stopped and dead letters stayed at their usual 0.5%.
    assert [t for t in transitions if RULES.rule(t.rule).kind not in RATE_KINDS] == []


def test_live_with_a_restart_equals_the_backtest_and_never_fires_twice(
    loaded: tuple[EmbeddedStore, Settings],
) -> None:
    store, settings = loaded
    start, middle, end = (
        parse_time(t) for t in ("2024-05-20", "2024-05-21T11:00:00+07:00", "2024-05-24")
    )
    expected = backtest(store, settings.database, Evaluator(RULES, REFERENCE), start, end)
    assert any(t.state == "firing" for t in expected)
    try:
        live = evaluate_due(
            store, settings.database, Evaluator(RULES, REFERENCE), middle, start_ms=start
        )
        # a restart: a new evaluator, everything else from the store; then again with nothing new
        live += evaluate_due(store, settings.database, Evaluator(RULES, REFERENCE), end)
        assert evaluate_due(store, settings.database, Evaluator(RULES, REFERENCE), end) == []
        assert live == expected
        stored = [e.transition for e in alert_store.load_events(store, settings.database)]
        assert sorted(stored, key=_order) == sorted(expected, key=_order)
        assert alert_store.load_progress(store, settings.database) == end
    finally:
        for table in ("alert_state", "alert_events", "alert_progress"):
            store.execute(f"TRUNCATE TABLE {settings.database}.{table}")


def test_backtest_command_prints_one_json_object_per_transition(
    loaded: tuple[EmbeddedStore, Settings], transitions: list[Transition]
) -> None:
    _, settings = loaded
    # chdb allows one process per data directory: run the command in this process' engine.
    from click.testing import CliRunner

    from pipeline.cli.main import cli

    result = CliRunner().invoke(
        cli,
        [
            "alerts",
            "backtest",
            "--from",
            "2024-05-20",
            "--to",
            "2024-05-24",
            "--json",
            *settings_flags(settings),
        ],
    )
    assert result.exit_code == 0, result.output
    printed = [json.loads(line) for line in result.output.splitlines()]
    window = [
        t for t in transitions if parse_time("2024-05-20") <= t.at_ms <= parse_time("2024-05-24")
    ]
    assert printed and len(printed) == len(window)
    assert set(printed[0]) == {
        "rule",
        "unit_code",
        "indicator",
        "state",
        "at",
        "value",
        "baseline",
        "denominator",
    }
    assert printed[0]["rule"] == "online-payment-drop" and printed[0]["state"] == "firing"


def test_grafana_rules_compute_the_same_values_on_chdb(
    loaded: tuple[EmbeddedStore, Settings], transitions: list[Transition]
) -> None:
    store, settings = loaded
    fired = next(t for t in transitions if t.rule == "online-payment-drop" and t.state == "firing")
    pinned = f"toDateTime({fired.at_ms // 1000}, 'Asia/Ho_Chi_Minh')"
    document = render_alert_rules(RULES, REFERENCE, settings.database, now_sql=pinned)
    rules = {r["labels"]["rule"]: r for r in document["groups"][0]["rules"]}
    assert set(rules) == {r.name for r in RULES.rules}
    for name, rule in rules.items():
        sql = rule["data"][0]["model"]["rawSql"]
        rows = store.query(sql)  # every rule's SQL runs on chdb
        if name == "online-payment-drop":
            values = {str(unit): float(value) for unit, value in rows}
            assert values[fired.unit_code] == pytest.approx(fired.value / fired.baseline - 1)
            threshold = rule["data"][2]["model"]["conditions"][0]
            payment = RULE_BY_NAME[name]
            drop, recover = payment.drop.amount / 100, payment.recover_within.amount / 100
            assert threshold["evaluator"] == {"type": "lt", "params": [-drop]}
            assert threshold["unloadEvaluator"] == {"type": "gt", "params": [-recover]}
            assert (
                rule["for"] == "1h"
                and rule["keepFiringFor"] == "1h"
                and rule["noDataState"] == "OK"
            )
            # the other units at that hour stay above the threshold, as the evaluator said
            assert [u for u, v in values.items() if v < -drop] == [fired.unit_code]


def _order(t: Transition) -> tuple[int, str, str]:
    return (t.at_ms, t.rule, t.unit_code)


def test_alerts_help_has_examples() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "pipeline", "alerts", "backtest", "--help"],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0 and "Examples" in out.stdout
