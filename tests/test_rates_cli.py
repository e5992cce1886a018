"""`chiso766 rates` on both stores: windows, roll-up to district and province, hourly output.

Snapshots are written straight into the store; the expected numbers are worked out by hand.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from pipeline.cli.main import cli
from pipeline.settings import Settings
from pipeline.windows import parse_time
from sinks import hourly, schema
from sinks.store import Store
from tests.stream_harness import REPO, settings_flags

pytestmark = pytest.mark.integration

COMMUNE_A, COMMUNE_B, DISTRICT = "H70.21.01", "H70.21.02", "H70.21"


def _received(
    dossier_id: str, unit: str, at: str, channel: str, fee: int = 0, **flags: int
) -> tuple[object, ...]:
    ts = parse_time(at)
    row = dict.fromkeys(schema.DOSSIER_STATE_COLUMNS, 0)
    row.update(dossier_id=dossier_id, unit_code=unit, procedure_code="1.000002",
               received_key=f"{ts:013d}|r-{dossier_id}", received_ms=ts, channel=channel,
               fee_amount=fee, result_is_document=1, completed_key="", outcome="")  # fmt: skip
    row.update(flags)
    return tuple(row[c] for c in schema.DOSSIER_STATE_COLUMNS)


@pytest.fixture
def loaded(store: Store, store_settings: Settings) -> Settings:
    rows = [
        _received("a1", COMMUNE_A, "2024-06-03T08:10:00+07:00", "online", fee=10000, paid_online=1),
        _received("a2", COMMUNE_A, "2024-06-03T09:20:00+07:00", "direct", fee=10000),
        _received("b1", COMMUNE_B, "2024-06-03T09:40:00+07:00", "online", digitized=1),
        _received("b2", COMMUNE_B, "2024-06-01T10:00:00+07:00", "direct"),  # 2 days earlier
        _received(
            "c1", "H70.01", "2024-05-20T10:00:00+07:00", "online"
        ),  # a department, last month
    ]
    store.insert(f"{store_settings.database}.dossier_state", schema.DOSSIER_STATE_COLUMNS, rows)
    # What the worker does after storing a batch: recompute the buckets these dossiers touch.
    hourly.refresh_dossiers(store, store_settings.database, rows)
    return store_settings


def _rates(settings: Settings, *args: str) -> dict:
    result = CliRunner().invoke(cli, ["rates", *settings_flags(settings), "--json", *args])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def _filing(report: dict) -> dict[str, tuple[int, int]]:
    return {
        u["unit_code"]: (
            u["indicators"]["online_filing"]["numerator"],
            u["indicators"]["online_filing"]["denominator"],
        )
        for u in report["units"]
    }


def test_last_24_hours_roll_up_from_communes_to_district_and_province(loaded: Settings) -> None:
    as_of = ["--as-of", "2024-06-03T09:59:00+07:00"]
    assert _filing(_rates(loaded, "--window", "24h", *as_of)) == {"H70": (2, 3)}
    assert _filing(_rates(loaded, "--unit", DISTRICT, "--window", "24h", *as_of)) == {
        DISTRICT: (2, 3)
    }
    communes = _filing(_rates(loaded, "--level", "commune", "--window", "24h", *as_of))
    assert communes[COMMUNE_A] == (1, 2) and communes[COMMUNE_B] == (1, 1)
    report = _rates(loaded, "--unit", COMMUNE_A, "--window", "1h", *as_of)
    assert (
        report["from"] == "2024-06-03T09:00:00+07:00"
        and report["to"] == "2024-06-03T10:00:00+07:00"
    )
    assert _filing(report) == {COMMUNE_A: (0, 1)}
    payment = _rates(loaded, "--unit", COMMUNE_A, "--window", "24h", *as_of)["units"][0][
        "indicators"
    ]["online_payment"]
    assert payment == {"numerator": 1, "denominator": 2, "rate": 0.5}


def test_calendar_windows_and_the_default_as_of(loaded: Settings) -> None:
    as_of = ["--as-of", "2024-06-03T09:59:00+07:00"]
    assert _filing(_rates(loaded, "--window", "mtd", *as_of)) == {"H70": (2, 4)}
    assert _filing(_rates(loaded, "--window", "qtd", *as_of)) == {"H70": (3, 5)}
    # Without --as-of the window ends at the newest event stored... which is in the raw archive:
    # none here, so the command says there is nothing yet.
    result = CliRunner().invoke(cli, ["rates", *settings_flags(loaded)])
    assert result.exit_code != 0 and "no events stored yet" in result.output


def test_hourly_granularity_prints_leaf_rows(loaded: Settings) -> None:
    result = CliRunner().invoke(cli, ["rates", *settings_flags(loaded), "--granularity", "hour",
                                      "--from", "2024-06-03", "--to", "2024-06-04", "--json"])  # fmt: skip
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.output.splitlines()]
    filing = [(r["unit_code"], r["bucket_start"], r["numerator"], r["denominator"])
              for r in rows if r["indicator"] == "online_filing"]  # fmt: skip
    assert filing == [
        (COMMUNE_A, "2024-06-03T08:00:00+07:00", 1, 1),
        (COMMUNE_A, "2024-06-03T09:00:00+07:00", 0, 1),
        (COMMUNE_B, "2024-06-03T09:00:00+07:00", 1, 1),
    ]


def test_bad_input_is_one_line(loaded: Settings) -> None:
    for args, message in [
        (["--unit", "H99"], "unknown unit 'H99'"),
        (["--level", "galaxy"], "levels are"),
        (["--as-of", "yesterday"], "expected 2024-06-03"),
        (["--granularity", "hour"], "needs --from and --to"),
    ]:
        result = CliRunner().invoke(cli, ["rates", *settings_flags(loaded), *args])
        assert result.exit_code != 0 and message in result.output, (args, result.output)


def test_an_unknown_namespace_says_so(local_stack: Settings) -> None:
    settings = local_stack.replace(namespace="t-never-written", store="server")
    result = CliRunner().invoke(cli, ["rates", *settings_flags(settings)])
    assert result.exit_code != 0
    assert "nothing stored for namespace 't-never-written' in the server store" in str(
        result.exception
    )


def test_an_embedded_store_held_by_another_process_is_named(
    tmp_path: Path, local_stack: Settings
) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", "import chdb, sys, time; c = chdb.connect(sys.argv[1]); c.query('SELECT 1');"
         " print('ready', flush=True); time.sleep(60)", f"file:{tmp_path}"],
        stdout=subprocess.PIPE,
    )  # fmt: skip
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == b"ready"
        settings = local_stack.replace(chdb_path=str(tmp_path), store="embedded")
        run = subprocess.run([sys.executable, "-m", "pipeline", "rates", *settings_flags(settings)],
                             cwd=REPO, capture_output=True, timeout=60)  # fmt: skip
        assert run.returncode == 2
        assert b"is in use by another process" in run.stderr.splitlines()[-1]
    finally:
        holder.kill()
        holder.wait()
