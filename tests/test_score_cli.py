"""``chiso766 score`` end to end on the ClickHouse server and on chdb, against hand computations.

The dossiers below are written as ``dossier_state`` snapshots (as the worker writes them); every
expected number in this file was worked out by hand from that table and the rules of
``shared/spec/decision-766.md`` §3-4, and is written out, never recomputed with the code under
test. Points per indicator (rounded to 2 decimals, then summed):

    1.4 portal_sync     6 x R/100             3.1 e_result      6 x R/100
    3.2 digitization    4 x R/100             3.3 data_reuse    2 x min(1, R/80)
    4.3 online_filing   6 x min(1, R/50)      4.6 online_payment 6 x R/100

Dossiers (times +07:00; fee > 0 means fee-bearing; "doc" = the result is a document):

    unit       id  received          channel fee    paid dig reuse sync completed         doc e-res
    H70.01     a1  06-03 08:15       online  20000  1    1   1     1    06-05 10:00       1   1
    H70.01     a2  06-10 09:00       online  0      -    1   0     1    06-12 15:00       1   0
    H70.01     a3  06-17 14:20       direct  10000  0    1   0     1    -
    H70.01     a4  06-30 23:30 (!)   direct  0      -    0   0     1    -
    H70.02     b1  06-04 08:00       online  5000   1    1   1     1    06-06 09:00       1   1
    H70.02     b2  06-11 10:00       online  0      -    1   1     0    06-20 09:00       0   0
    H70.03     c1  06-05 09:00       online  15000  1    1   1     1    06-07 09:00       1   1
    H70.03     c2  06-06 09:00       online  0      -    1   1     1    06-08 09:00       1   0
    H70.21.01  d1  06-15 10:00       direct  0      -    0   0     1    07-02 09:00 (!)   1   1
    H70.21.01  d2  07-01 00:30 (!)   direct  0      -    0   0     0    -
    H70.21.02  e1  06-10 08:00       online  30000  1    1   0     1    06-11 09:00       1   1
    H70.21.02  e2  07-01 00:10 (!)   online  0      -    0   0     1    -
    H70.22     g1  05-31 23:59 (!)   online  0      -    0   0     1    -

H70.01-H70.03 are departments, H70.21 and H70.22 districts, H70.21.0x communes of H70.21.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any

import pytest
from click.testing import CliRunner, Result

from pipeline.cli.main import cli
from pipeline.settings import Settings
from sinks import hourly, schema
from sinks.store import Store

pytestmark = pytest.mark.integration

DEPARTMENTS, DISTRICTS, COMMUNES = 20, 11, 90  # in the demo province's units.csv


def ms(text: str) -> int:
    return int(datetime.fromisoformat(text).timestamp() * 1000)


def snapshot(dossier_id: str, **fields: object) -> tuple[object, ...]:
    row: dict[str, object] = dict.fromkeys(schema.DOSSIER_STATE_COLUMNS, 0)
    row.update(dossier_id=dossier_id, unit_code="", procedure_code="", received_key="",
               channel="", completed_key="", outcome="")  # fmt: skip
    row.update(fields)
    return tuple(row[c] for c in schema.DOSSIER_STATE_COLUMNS)


def dossier(
    dossier_id: str,
    unit: str,
    received: str,
    channel: str,
    fee: int = 0,
    *,
    paid: int = 0,
    dig: int = 0,
    reuse: int = 0,
    sync: int = 0,
    completed: str | None = None,
    doc: int = 1,
    e_result: int = 0,
) -> list[tuple[object, ...]]:
    """The snapshots a worker would write: reception, then flags, then the completion."""
    at = ms(f"2024-{received}:00+07:00")
    rows = [
        snapshot(dossier_id, unit_code=unit, procedure_code="1.001", received_key=f"{at:013d}|r",
                 received_ms=at, channel=channel, fee_amount=fee, result_is_document=doc),
        snapshot(dossier_id, paid_online=paid, digitized=dig, reused=reuse, synced=sync),
    ]  # fmt: skip
    if completed is not None:
        done = ms(f"2024-{completed}:00+07:00")
        rows.append(snapshot(dossier_id, completed_key=f"{done:013d}|c", completed_ms=done,
                             outcome="approved", e_result=e_result))  # fmt: skip
    return rows


DOSSIERS = [
    *dossier("a1", "H70.01", "06-03T08:15", "online", 20000, paid=1, dig=1, reuse=1, sync=1,
             completed="06-05T10:00", e_result=1),
    *dossier("a2", "H70.01", "06-10T09:00", "online", dig=1, sync=1, completed="06-12T15:00"),
    *dossier("a3", "H70.01", "06-17T14:20", "direct", 10000, dig=1, sync=1),
    *dossier("a4", "H70.01", "06-30T23:30", "direct", sync=1),
    *dossier("b1", "H70.02", "06-04T08:00", "online", 5000, paid=1, dig=1, reuse=1, sync=1,
             completed="06-06T09:00", e_result=1),
    *dossier("b2", "H70.02", "06-11T10:00", "online", dig=1, reuse=1, completed="06-20T09:00",
             doc=0),
    *dossier("c1", "H70.03", "06-05T09:00", "online", 15000, paid=1, dig=1, reuse=1, sync=1,
             completed="06-07T09:00", e_result=1),
    *dossier("c2", "H70.03", "06-06T09:00", "online", dig=1, reuse=1, sync=1,
             completed="06-08T09:00"),
    *dossier("d1", "H70.21.01", "06-15T10:00", "direct", sync=1, completed="07-02T09:00",
             e_result=1),
    *dossier("d2", "H70.21.01", "07-01T00:30", "direct"),
    *dossier("e1", "H70.21.02", "06-10T08:00", "online", 30000, paid=1, dig=1, sync=1,
             completed="06-11T09:00", e_result=1),
    *dossier("e2", "H70.21.02", "07-01T00:10", "online", sync=1),
    *dossier("g1", "H70.22", "05-31T23:59", "online", sync=1),
]  # fmt: skip


@pytest.fixture
def stored(store: Store, store_settings: Settings) -> Settings:
    """The dossiers above in a fresh namespace; written twice, the second time reversed."""
    table = f"{store_settings.database}.dossier_state"
    store.insert(table, schema.DOSSIER_STATE_COLUMNS, DOSSIERS)
    store.insert(table, schema.DOSSIER_STATE_COLUMNS, DOSSIERS[::-1])
    hourly.refresh_dossiers(store, store_settings.database, DOSSIERS + DOSSIERS[::-1])
    return store_settings


def run(settings: Settings, *args: str) -> Result:
    flags = ["--namespace", settings.namespace, "--store", settings.store,
             "--chdb-path", str(settings.chdb_dir), "--clickhouse-host", settings.clickhouse_host,
             "--clickhouse-port", str(settings.clickhouse_port),
             "--clickhouse-user", settings.clickhouse_user]  # fmt: skip
    return CliRunner(env={"COLUMNS": "250"}).invoke(cli, ["score", *args, *flags])


def run_json(settings: Settings, *args: str) -> dict[str, Any]:
    result = run(settings, *args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def by_code(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {u["unit_code"]: u for u in report["units"]}


def indicator_points(unit: dict[str, Any]) -> dict[str, float | None]:
    return {i["id"]: i["points"] for g in unit["groups"] for i in g["indicators"]}


def counts(unit: dict[str, Any]) -> dict[str, tuple[int, int]]:
    return {i["pipeline_indicator"]: (i["numerator"], i["denominator"])
            for g in unit["groups"] for i in g["indicators"] if i["numerator"] is not None}  # fmt: skip


def test_june_scores_match_the_hand_computation(stored: Settings) -> None:
    report = run_json(stored, "--period", "2024-06")
    assert (report["from"], report["to"]) == (
        "2024-06-01T00:00:00+07:00",
        "2024-07-01T00:00:00+07:00",
    )
    units = by_code(report)
    # Default: the province and every unit directly under it, the province first.
    assert len(units) == 1 + DEPARTMENTS + DISTRICTS
    assert report["units"][0]["unit_code"] == "H70"

    h7001 = units["H70.01"]
    # a4 (06-30 23:30 +07:00) is June; a1 and a2 completed in June with a document result.
    assert counts(h7001) == {"portal_sync": (4, 4), "e_result": (1, 2), "digitization": (3, 4),
                             "data_reuse": (1, 4), "online_filing": (2, 4),
                             "online_payment": (1, 2)}  # fmt: skip
    # 6*100% | 6*50% | 4*75% | 2*25/80 = 0.625 -> 0.63 (half up) | 6*min(1, 50/50) | 6*50%
    assert indicator_points(h7001) == {
        "1.1": None, "1.2": None, "1.3": None, "1.4": 6.0, "2.1": None,
        "3.1": 3.0, "3.2": 3.0, "3.3": 0.63, "3.4": None, "3.5": None, "3.6": None, "3.7": None,
        "4.1": None, "4.2": None, "4.3": 6.0, "4.4": None, "4.5": None, "4.6": 3.0,
        "5.1": None, "5.2": None, "5.3": None,
    }  # fmt: skip
    assert (h7001["available_points"], h7001["available_max"], h7001["max_points"]) == (
        21.63,
        30,
        100,
    )
    assert h7001["total"] is None

    # H70.02: 2/2 online, 1/1 paid, 2/2 digitised, 2/2 reused, 1/2 synced, e-result 1/1
    # (b2's result is not a document): 6 + 6 + 4 + 2 + 3 + 6.
    assert units["H70.02"]["available_points"] == 27.0
    # H70.03: the same total from other counts: e-result 1/2 (3) but sync 2/2 (6).
    assert counts(units["H70.03"])["e_result"] == (1, 2)
    assert units["H70.03"]["available_points"] == 27.0
    # H70.21 = d1 + e1: online 1/2 -> 6, paid 1/1 -> 6, digitised 1/2 -> 2, reused 0/2 -> 0,
    # synced 2/2 -> 6, e-result 1/1 (d1 completed in July) -> 6.
    assert counts(units["H70.21"])["e_result"] == (1, 1)
    assert units["H70.21"]["available_points"] == 26.0
    # H70.22's only dossier (g1, 05-31 23:59 +07:00) is May.
    assert counts(units["H70.22"])["online_filing"] == (0, 0)
    assert units["H70.22"]["available_points"] == 0.0

    # Province = 10 June dossiers: online 7/10 -> 6, paid 4/5 -> 4.80, digitised 8/10 -> 3.20,
    # reused 5/10 -> 2*50/80 = 1.25, synced 9/10 -> 5.40, e-result 4/6 -> 4.00.
    province = units["H70"]
    assert counts(province) == {"portal_sync": (9, 10), "e_result": (4, 6), "digitization": (8, 10),
                                "data_reuse": (5, 10), "online_filing": (7, 10),
                                "online_payment": (4, 5)}  # fmt: skip
    assert province["available_points"] == 24.65
    assert (province["rank"], province["rank_of"]) == (1, 1)


def test_ties_share_a_rank_among_units_of_the_same_level(stored: Settings) -> None:
    units = by_code(run_json(stored, "--period", "2024-06"))
    ranks = {code: (u["rank"], u["rank_of"]) for code, u in units.items()}
    assert ranks["H70.02"] == ranks["H70.03"] == (1, DEPARTMENTS)
    assert ranks["H70.01"] == (3, DEPARTMENTS)
    assert ranks["H70.20"] == (4, DEPARTMENTS)  # 17 departments without dossiers share rank 4
    assert ranks["H70.21"] == (1, DISTRICTS)
    assert ranks["H70.22"] == ranks["H70.31"] == (2, DISTRICTS)
    # Departments come first, each level by rank, ties by code.
    order = [u["unit_code"] for u in run_json(stored, "--period", "2024-06")["units"]]
    assert order[:5] == ["H70", "H70.02", "H70.03", "H70.01", "H70.04"]
    assert order[1 + DEPARTMENTS] == "H70.21"

    communes = run_json(stored, "--period", "2024-06", "--level", "commune")["units"]
    assert len(communes) == COMMUNES
    # H70.21.02 (e1): 6 + 6 + 4 + 0 + 6 + 6 = 28; H70.21.01 (d1): synced 1/1 only = 6.
    assert [(u["unit_code"], u["available_points"], u["rank"]) for u in communes[:3]] == [
        ("H70.21.02", 28.0, 1), ("H70.21.01", 6.0, 2), ("H70.21.03", 0.0, 3)]  # fmt: skip
    assert {u["rank"] for u in communes[2:]} == {3}


def test_period_boundaries_follow_vietnam_time_and_each_indicators_anchor(stored: Settings) -> None:
    july = by_code(run_json(stored, "--period", "2024-07", "--level", "commune"))
    # d2 (07-01 00:30 +07:00, i.e. 06-30 17:30 UTC) is July; d1's e-result counts at completion.
    assert counts(july["H70.21.01"]) == {"portal_sync": (0, 1), "e_result": (1, 1),
                                         "digitization": (0, 1), "data_reuse": (0, 1),
                                         "online_filing": (0, 1), "online_payment": (0, 0)}  # fmt: skip
    assert july["H70.21.01"]["available_points"] == 6.0
    # e2 (07-01 00:10): online 1/1 -> 6, synced 1/1 -> 6.
    assert july["H70.21.02"]["available_points"] == 12.0
    assert counts(by_code(run_json(stored, "--period", "2024-07", "--unit", "H70.01"))["H70.01"])[
        "portal_sync"] == (0, 0)  # fmt: skip

    q2 = by_code(run_json(stored, "--period", "2024-Q2"))
    # June plus g1 (May): online 8/11 -> 6, paid 4/5 -> 4.80, digitised 8/11 -> 2.91,
    # reused 5/11 -> 1.14, synced 10/11 -> 5.45, e-result 4/6 -> 4.00.
    assert q2["H70"]["available_points"] == 24.30
    assert q2["H70.22"]["available_points"] == 12.0
    assert q2["H70.22"]["rank"] == 2

    year = by_code(run_json(stored, "--period", "2024", "--unit", "H70"))["H70"]
    # 13 dossiers: online 9/13 -> 6, paid 4/5 -> 4.80, digitised 8/13 -> 2.46,
    # reused 5/13 -> 0.96, synced 11/13 -> 5.08, e-result 5/7 -> 4.29.
    assert counts(year)["e_result"] == (5, 7)
    assert year["available_points"] == 23.59


def test_groups_without_pipeline_inputs_are_not_available_not_zero(stored: Settings) -> None:
    unit = by_code(run_json(stored, "--period", "2024-06", "--unit", "H70.02"))["H70.02"]
    groups = {g["id"]: g for g in unit["groups"]}
    summary = {gid: (g["points"], g["available_points"], g["available_max"], g["max_points"])
               for gid, g in groups.items()}  # fmt: skip
    assert summary == {
        "transparency": (None, 3.0, 6, 18),
        "dvc-progress-tree": (None, 0.0, 0, 20),
        "dossier-digitized": (None, 12.0, 12, 22),
        "provide-online-tree": (None, 6.0, 6, 12),
        "formality-online-payment-tree": (None, 6.0, 6, 10),
        "handling-satisfaction": (None, 0.0, 0, 18),
    }
    assert "does not count on_time" in groups["dvc-progress-tree"]["not_available"]
    assert "national procedure database" in groups["transparency"]["not_available"]
    assert unit["total"] is None and "6 group(s) incomplete" in unit["not_available"]

    human = run(stored, "--period", "2024-06", "--unit", "H70.02")
    assert human.exit_code == 0, human.output
    text = human.stdout
    assert "Văn phòng" not in text and "Sở Nội vụ" in text
    assert "27.00 / 30" in text and "30 of 100" in text
    assert "3.00 / 6 *" in text  # transparency: only 1.4 is known
    assert "chưa có" in text and "does not count on_time yet" in text
    table = text.split("Điểm chỉ gồm")[0]
    assert re.search(r"\b0\.00\b", table) is None  # no group shows 0 for "not available"


def test_at_stake_ranks_units_by_the_province_points_they_would_add(stored: Settings) -> None:
    report = run_json(stored, "--period", "2024-06", "--at-stake")
    assert report["targets_pct"] == {"online_filing": 50, "online_payment": 100, "e_result": 100,
                                     "digitization": 100, "data_reuse": 80, "portal_sync": 100}  # fmt: skip
    # Everyone at target: paid 4/5 -> 5/5 (+1.20), digitised 8 -> 10 (+0.80), reused 5 -> 8
    # (+0.75), synced 9 -> 10 (+0.60), e-result 4/6 -> 6/6 (+2.00); online is past 50% already.
    assert report["province"]["gain_points_if_all_reach"] == pytest.approx(5.35)
    assert report["province"]["available_points"] == 24.65
    units = report["units"]
    assert len(units) == DEPARTMENTS + DISTRICTS  # the units directly under the province
    top = [(u["unit_code"], u["gain_points"]) for u in units[:5]]
    # H70.01: +1 paid (1.20) + 1 digitised (0.40) + 3 reused (5/10 -> 8/10: 0.75) + 1 e-result
    # (4/6 -> 5/6: 1.00); H70.03: e-result 1/2 -> 2/2 (1.00); H70.21: +1 digitised (0.40),
    # +2 reused (0.50); H70.02: +1 synced (0.60); then units with nothing to gain, by code.
    assert top == [("H70.01", pytest.approx(3.35)), ("H70.03", pytest.approx(1.0)),
                   ("H70.21", pytest.approx(0.9)), ("H70.02", pytest.approx(0.6)),
                   ("H70.04", 0.0)]  # fmt: skip
    needed = {k: v["numerator_needed"] for k, v in units[0]["by_indicator"].items()}
    assert needed == {"online_filing": 0, "online_payment": 1, "e_result": 1, "digitization": 1,
                      "data_reuse": 3, "portal_sync": 0}  # fmt: skip

    # Leaving payment and reuse out reorders the list: H70.02 (0.60) passes H70.21 (0.40).
    report = run_json(stored, "--period", "2024-06", "--at-stake",
                      "--target", "online_payment=0", "--target", "data_reuse=0")  # fmt: skip
    assert [(u["unit_code"], u["gain_points"]) for u in report["units"][:4]] == [
        ("H70.01", pytest.approx(1.4)), ("H70.03", pytest.approx(1.0)),
        ("H70.02", pytest.approx(0.6)), ("H70.21", pytest.approx(0.4))]  # fmt: skip

    # Communes: d1 needs +1 digitised (0.40) and +1 reused (5 -> 6 of 10: 0.25); its online
    # share is 0/1 but the province is past 50% already, so that earns nothing.
    communes = run_json(stored, "--period", "2024-06", "--at-stake", "--level", "commune")
    assert [(u["unit_code"], u["gain_points"]) for u in communes["units"][:3]] == [
        ("H70.21.01", pytest.approx(0.65)), ("H70.21.02", pytest.approx(0.25)),
        ("H70.21.03", 0.0)]  # fmt: skip

    human = run(stored, "--period", "2024-06", "--at-stake")
    assert human.exit_code == 0, human.output
    lines = human.stdout.splitlines()
    assert "+5.35" in lines[0]
    first_row = next(i for i, line in enumerate(lines) if "+3.35" in line)
    assert "Văn phòng" in lines[first_row] and "+1.20" in lines[first_row]
    assert first_row < next(i for i, line in enumerate(lines) if "Sở Tư pháp" in line)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--period", "2024-07", "--at-stake", "--target", "on_time=90"], "does not count on_time"),
        (["--period", "2023-01"], "no indicator counts stored"),
    ],
)
def test_errors_after_reading_the_store_are_one_line(
    stored: Settings, args: list[str], message: str
) -> None:
    result = run(stored, *args)
    assert result.exit_code != 0
    assert message in result.output
    (reason,) = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert message in reason  # one line, after click's usage hint


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--period", "2024-13"], "expected YYYY, YYYY-Qn or YYYY-MM"),
        (["--period", "2024-Q5"], "expected YYYY, YYYY-Qn or YYYY-MM"),
        ([], "Missing option '--period'"),
        (["--period", "2024-06", "--unit", "H99"], "unknown unit 'H99'"),
        (["--period", "2024-06", "--level", "ward"], "levels are province"),
        (["--period", "2024-06", "--unit", "H70.01", "--level", "commune"], "not both"),
        (["--period", "2024-06", "--target", "e_result=90"], "--at-stake only"),
        (["--period", "2024-06", "--at-stake", "--target", "e_result"], "INDICATOR=PCT"),
        (["--period", "2024-06", "--at-stake", "--target", "e_result=120"], "0-100"),
        (["--period", "2024-06", "--at-stake", "--target", "speed=80"], "not an indicator"),
    ],
)
def test_bad_input_is_rejected_with_a_reason(
    settings: Settings, args: list[str], message: str
) -> None:
    result = run(settings, *args)
    assert result.exit_code == 2, result.output
    assert message in result.output


def test_help_teaches_with_examples() -> None:
    result = CliRunner().invoke(cli, ["score", "--help"])
    assert result.exit_code == 0
    assert "chiso766 score --period 2024-06 --at-stake" in result.output
    assert "online_filing=50" in result.output and "data_reuse=80" in result.output
