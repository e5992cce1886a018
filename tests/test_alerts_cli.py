"""`chiso766 alerts` commands as a user runs them (a second process, ClickHouse server): output and errors."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipeline.alerts.state import FIRING, PENDING, AlertState, Transition
from pipeline.settings import Settings
from pipeline.windows import parse_time
from sinks import alert_store, schema
from sinks.server import ServerStore
from tests.stream_harness import REPO, settings_flags

pytestmark = pytest.mark.integration

AT = parse_time("2024-05-28T11:00:00+07:00")


@pytest.fixture
def server(local_stack: Settings, namespace: str) -> Iterator[Settings]:
    settings = local_stack.replace(namespace=namespace, store="server")
    store = ServerStore(settings.clickhouse_host, settings.clickhouse_port)
    schema.migrate(store, settings.database)
    try:
        yield settings
    finally:
        schema.drop(store, settings.database)
        store.close()


def chiso766(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pipeline", "alerts", *args, *settings_flags(settings)],
        cwd=REPO, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_list_and_history(server: Settings) -> None:
    store = ServerStore(server.clickhouse_host, server.clickhouse_port)
    fired = Transition(
        "digitization-drop", "H70.05", "digitization", FIRING, AT, 0.0, 0.34, 50, "warning", "drop"
    )
    alert_store.save_states(
        store,
        server.database,
        [
            AlertState("digitization-drop", "H70.05", FIRING, AT, 2, 0, 0.0, 0.34, 50),
            AlertState("online-filing-drop", "H70.24", PENDING, AT, 1, 0, 0.1, 0.5, 40),
            AlertState("e-result-drop", "H70.09", "resolved", AT, 0, 0, 0.9, 0.9, 40),
        ],
    )
    alert_store.record_transitions(store, server.database, [fired])
    store.close()
    listed = chiso766(server, "list", "--json")
    assert listed.returncode == 0, listed.stderr
    rows = [json.loads(line) for line in listed.stdout.splitlines()]
    assert [(r["rule"], r["state"]) for r in rows] == [
        ("digitization-drop", "firing"),
        ("online-filing-drop", "pending"),
    ]
    assert (
        rows[0]["unit_name"] == "Sở Tài chính" and rows[0]["since"] == "2024-05-28T11:00:00+07:00"
    )
    shown = chiso766(server, "history", "--json")
    assert json.loads(shown.stdout) == {
        "rule": "digitization-drop", "unit_code": "H70.05", "indicator": "digitization", "state": "firing",
        "at": "2024-05-28T11:00:00+07:00", "value": 0.0, "baseline": 0.34, "denominator": 50,
        "published": False, "notified": False,
    }  # fmt: skip


def test_bad_input_is_one_line(server: Settings, tmp_path: Path) -> None:
    bad = tmp_path / "rules.yaml"
    bad.write_text("rules:\n  - name: x\n    kind: drop\n    indicator: nope\n")
    for args, message in [
        (
            ["backtest", "--from", "2024-05-01", "--to", "2024-05-02", "--rules", str(bad)],
            "rule 'x': field 'scope': required",
        ),
        (
            ["backtest", "--from", "2024-05-02", "--to", "2024-05-01"],
            "--to must not be before --from",
        ),
        (["backtest", "--from", "yesterday", "--to", "2024-05-01"], "expected 2024-06-03"),
        (["list"], "nothing stored for namespace"),
    ]:
        target = server.replace(namespace="t-nothing-here") if args == ["list"] else server
        out = chiso766(target, *args)
        assert out.returncode != 0, args
        assert "Traceback" not in out.stderr and message in out.stderr, (args, out.stderr)


RULES = """
rules:
  - name: pay-low
    kind: below
    indicator: online_payment
    scope: {units: [H70.22]}
    window: 2h
    lateness: 0h
    min_denominator: 20
    below: 0.3
    recover_above: 0.5
"""


def test_run_evaluates_due_hours_once_and_continues_after_a_restart(
    server: Settings, tmp_path: Path
) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES)
    store = ServerStore(server.clickhouse_host, server.clickhouse_port)
    monday = parse_time("2024-06-03")
    hour = 3_600_000
    # A commune of H70.22 collapses from 09:00; events are stored up to 12:30 (stream time).
    pairs = ", ".join(
        f"({(monday + h * hour) // 1000}, {2 if h >= 9 else 14})" for h in range(7, 12)
    )
    store.execute(
        f"""INSERT INTO {server.database}.hourly_counts
            SELECT 'H70.22.01', 'online_payment', toDateTime(tupleElement(x, 1)), tupleElement(x, 2), 20, 1
            FROM (SELECT arrayJoin([{pairs}]) AS x)"""
    )
    store.insert(
        f"{server.database}.events_raw",
        ("event_id", "type", "occurred_ms", "unit_code", "dossier_id", "procedure_code", "payload"),
        [("e1", "dossier.received", monday + 12 * hour + 1_800_000, "H70.22.01", "d1", "p", "{}")],
    )
    store.close()
    first = chiso766(
        server,
        "run",
        "--once",
        "--since",
        "2024-06-03T08:00:00+07:00",
        "--rules",
        str(rules),
        "--no-notify",
    )
    assert first.returncode == 0, first.stderr
    printed = [json.loads(line) for line in first.stdout.splitlines()]
    assert [(p["state"], p["at"]) for p in printed] == [("firing", "2024-06-03T11:00:00+07:00")]
    assert printed[0]["value"] == pytest.approx(0.1)
    again = chiso766(server, "run", "--once", "--rules", str(rules), "--no-notify")
    assert again.returncode == 0 and again.stdout == ""
    listed = [json.loads(line) for line in chiso766(server, "list", "--json").stdout.splitlines()]
    assert [(r["rule"], r["unit_code"], r["state"]) for r in listed] == [
        ("pay-low", "H70.22", "firing")
    ]
    history = [
        json.loads(line) for line in chiso766(server, "history", "--json").stdout.splitlines()
    ]
    assert [(h["state"], h["published"], h["notified"]) for h in history] == [
        ("firing", True, False)
    ]
