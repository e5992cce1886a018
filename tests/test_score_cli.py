"""``chiso766 score`` end to end on the ClickHouse server and on chdb, against hand computations.

The events below go through the worker's decision core into the store (``sinks/load.py``). The
reference is the demo province's units with a three-procedure catalogue written here. Every
expected number was worked out by hand from the events, the catalogue and the rules in
``docs/scoring.md``, and is written out, never recomputed with the code under test.

Catalogue (dates 2024 unless said; "wd" = Vietnam working days):

    code   level       online   fee  doc  published  effective  public   complete  population
    1.001  commune     full     yes  yes  06-03      06-20      06-04    yes       06-10
    1.002  commune     partial  no   yes  06-14      06-17      06-28    no        -
    1.003  H70.01      none     yes  no   2023-01-05 2023-02-20 2023-01-06 yes     07-15

1.1: 1.001 has 13 wd of lead (on time), 1.002 one (late); 1.2: 1.001 public after 1 wd,
1.002 after 10 (late). E-certified copies: H70.21.01 from 05-01, H70.21.02 from 06-30.

Dossiers (times +07:00):

    id  unit       proc   received     channel fee    events
    e1  H70.21.02  1.001  06-10 08:00  online  30000  paid online, digitised (data store,
                                                      VNeID), synced, due 06-12 17:00,
                                                      completed 06-11 09:00, e-result 10:00
    e3  H70.21.02  1.002  06-20 09:00  direct  0      digitised, synced, due 06-30 20:00
                                                      (the last evening), pending; complaint
                                                      06-25 due 07-15, unanswered
    d1  H70.21.01  1.001  06-15 10:00  direct  20000  unpaid, synced, due 06-19 17:00,
                                                      supplement asked 06-17, completed 07-02
    a1  H70.01     1.003  06-03 08:15  online  10000  paid online, digitised and reused,
                                                      synced, due 06-05 17:00, completed
                                                      06-06 10:00 (late)
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from pipeline.cli.main import cli
from pipeline.reference import DEMO_PROVINCE_DIR, load_reference
from pipeline.settings import Settings
from sinks.hourly import refresh_all
from sinks.load import load_lines
from sinks.store import Store
from tests.events_factory import event, line, received

pytestmark = pytest.mark.integration

NOW_MS = int(datetime.fromisoformat("2024-09-01T00:00:00+07:00").timestamp() * 1000)
CATALOGUE = [
    ("1.001", "commune", "", "full", "true", "true", "true", "5", "20000",
     "2024-06-03", "2024-06-20", "2024-06-04", "true", "2024-06-10"),
    ("1.002", "commune", "", "partial", "false", "true", "false", "5", "0",
     "2024-06-14", "2024-06-17", "2024-06-28", "false", ""),
    ("1.003", "department", "H70.01", "none", "true", "false", "false", "5", "10000",
     "2023-01-05", "2023-02-20", "2023-01-06", "true", "2024-07-15"),
]  # fmt: skip
CERTIFIED = {"H70.21.01": "2024-05-01", "H70.21.02": "2024-06-30"}


def write_reference(folder: Path, *, catalogue: bool = True) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    with (DEMO_PROVINCE_DIR / "units.csv").open(encoding="utf-8") as handle:
        units = list(csv.DictReader(handle))
    with (folder / "units.csv").open("w", encoding="utf-8", newline="") as handle:
        columns = ["code", "name", "level", "parent"] + (
            ["e_certified_copy_on"] if catalogue else []
        )
        writer = csv.DictWriter(handle, columns, extrasaction="ignore")
        writer.writeheader()
        for unit in units:
            writer.writerow({**unit, "e_certified_copy_on": CERTIFIED.get(unit["code"], "")})
    columns = ["code", "name", "field", "level", "agency", "online_level", "fee_bearing",
               "result_is_document", "full_process_eligible", "due_days", "fee_vnd",
               "published_on", "effective_on", "public_on", "record_complete",
               "population_data_on"]  # fmt: skip
    keep = len(columns) if catalogue else 11
    with (folder / "procedures.csv").open("w", encoding="utf-8", newline="") as handle:
        writer_ = csv.writer(handle)
        writer_.writerow(columns[:keep])
        for code, *rest in CATALOGUE:
            writer_.writerow([code, f"Thủ tục {code}", "Hộ tịch", *rest][:keep])
    return folder


def _events() -> list[bytes]:
    t = "2024-{}:00+07:00".format
    e1 = dict(unit_code="H70.21.02", procedure_code="1.001")
    e3 = dict(unit_code="H70.21.02", procedure_code="1.002")
    d1 = dict(unit_code="H70.21.01", procedure_code="1.001")
    a1 = dict(unit_code="H70.01", procedure_code="1.003")
    events: list[dict[str, Any]] = [
        received("e1/0", "e1", t("06-10T08:00"), "online", 30000, due_at=t("06-12T17:00"), **e1),
        event("payment.succeeded", "e1/1", "e1", t("06-10T09:00"), amount=30000,
              method="online_national", **e1),
        event("dossier.digitized", "e1/2", "e1", t("06-10T08:10"), components=2,
              reused_components=0, from_data_store=True, from_population_data=True, **e1),
        event("dossier.synced", "e1/3", "e1", t("06-10T08:20"), **e1),
        event("dossier.completed", "e1/4", "e1", t("06-11T09:00"), outcome="approved", **e1),
        event("dossier.result_issued", "e1/5", "e1", t("06-11T10:00"), electronic=True,
              digitized=True, **e1),
        received("e3/0", "e3", t("06-20T09:00"), "direct", 0, due_at=t("06-30T20:00"), **e3),
        event("dossier.digitized", "e3/1", "e3", t("06-20T09:10"), components=1,
              reused_components=0, from_data_store=False, **e3),
        event("dossier.synced", "e3/2", "e3", t("06-20T09:20"), **e3),
        event("feedback.received", "e3/3", "e3", t("06-25T10:00"), feedback_id="e3/f",
              due_at=t("07-15T17:00"), **e3),
        received("d1/0", "d1", t("06-15T10:00"), "direct", 20000, due_at=t("06-19T17:00"), **d1),
        event("dossier.synced", "d1/1", "d1", t("06-15T10:20"), **d1),
        event("dossier.supplement_requested", "d1/2", "d1", t("06-17T10:00"), reason="Thiếu",
              **d1),
        event("dossier.completed", "d1/3", "d1", t("07-02T09:00"), outcome="approved", **d1),
        event("dossier.result_issued", "d1/4", "d1", t("07-02T10:00"), electronic=True,
              digitized=True, **d1),
        received("a1/0", "a1", t("06-03T08:15"), "online", 10000, due_at=t("06-05T17:00"), **a1),
        event("payment.succeeded", "a1/1", "a1", t("06-03T09:00"), amount=10000,
              method="online_provincial", **a1),
        event("dossier.digitized", "a1/2", "a1", t("06-03T08:30"), components=1,
              reused_components=1, from_data_store=False, **a1),
        event("dossier.synced", "a1/3", "a1", t("06-03T08:40"), **a1),
        event("dossier.completed", "a1/4", "a1", t("06-06T10:00"), outcome="approved", **a1),
    ]  # fmt: skip
    return [line(e) for e in events]


@pytest.fixture
def stored(store: Store, store_settings: Settings, tmp_path: Path) -> Iterator[Settings]:
    """The events above, loaded twice (the second time reversed), and the catalogue."""
    folder = write_reference(tmp_path / "reference")
    reference = load_reference(folder)
    lines = _events()
    load_lines(store, store_settings.database, lines, reference, record_ms=NOW_MS)
    load_lines(store, store_settings.database, lines[::-1], reference, record_ms=NOW_MS)
    refresh_all(store, store_settings.database)
    yield store_settings.replace(reference_dir=str(folder))


def run(settings: Settings, *args: str) -> Result:
    flags = ["--namespace", settings.namespace, "--store", settings.store,
             "--chdb-path", str(settings.chdb_dir), "--clickhouse-host", settings.clickhouse_host,
             "--clickhouse-port", str(settings.clickhouse_port),
             "--clickhouse-user", settings.clickhouse_user]  # fmt: skip
    env = {"COLUMNS": "250", "CHISO766_REFERENCE_DIR": settings.reference_dir or ""}
    return CliRunner(env=env).invoke(cli, ["score", *args, *flags])


def run_json(settings: Settings, *args: str) -> dict[str, Any]:
    result = run(settings, *args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def by_code(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {u["unit_code"]: u for u in report["units"]}


def indicator_points(unit: dict[str, Any]) -> dict[str, float | None]:
    return {i["id"]: i["points"] for g in unit["groups"] for i in g["indicators"]}


def group_points(unit: dict[str, Any]) -> list[float | None]:
    return [g["points"] for g in unit["groups"]]


def test_a_commune_scores_all_21_indicators_by_hand(stored: Settings) -> None:
    unit = by_code(run_json(stored, "--period", "2024-06", "--unit", "H70.21.02"))["H70.21.02"]
    assert indicator_points(unit) == {
        # 1.1 1/2, 1.2 1/2, 1.3 1/2 public records complete, 1.4 synced 2/2
        "1.1": 3.0, "1.2": 2.0, "1.3": 1.0, "1.4": 6.0,
        # e3 is due at 20:00 on 30 June and still pending at the month's end: overdue
        "2.1": 10.0,
        # 3.1 e1's e-result 1/1; 3.2 e1 (digitised + e-result) 1/2 -- e3 has no e-result yet;
        # 3.3 no reuse; 3.4 data store 1/2; 3.5 VNeID 1/2; 3.6 1.001 connected 1/2; 3.7 since 06-30
        "3.1": 6.0, "3.2": 2.0, "3.3": 0.0, "3.4": 2.0, "3.5": 1.0, "3.6": 1.0, "3.7": 2.0,
        # 4.1 both online (full at 80%); 4.2 online dossiers in 1 of 2 services; 4.3 1/2 online
        # with e-result x 2/2 synced = 50% (full at 50%)
        "4.1": 2.0, "4.2": 2.0, "4.3": 6.0,
        # 4.4 1.001 had a fee, 4.5 and 4.6 paid online
        "4.4": 2.0, "4.5": 2.0, "4.6": 6.0,
        # e3's complaint is not due until July: on time; 5.3 e1 only: 50% / 90% of 6 = 3.33
        "5.1": 6.0, "5.2": 6.0, "5.3": 3.33,
    }  # fmt: skip
    assert group_points(unit) == [12.0, 10.0, 14.0, 10.0, 10.0, 15.33]
    assert unit["total"] == 71.33 and unit["not_available"] is None


def test_other_units_and_the_roll_up_by_hand(stored: Settings) -> None:
    communes = by_code(run_json(stored, "--period", "2024-06", "--level", "commune"))
    d1 = communes["H70.21.01"]
    # d1: one supplement request before its due time ends its clock on time; completion in
    # July is not known at the month's end; not paid, not online, not digitised.
    assert group_points(d1) == [12.0, 20.0, 3.0, 2.0, 2.0, 18.0]
    assert d1["total"] == 57.0
    assert (communes["H70.21.02"]["rank"], d1["rank"], d1["rank_of"]) == (1, 2, 90)
    top = by_code(run_json(stored, "--period", "2024-06"))
    district = top["H70.21"]
    # e1, e3, d1: on time 2/3 -> 13.33; 3.1 1/1, 3.2/3.4 1/3 -> 1.33, 3.5 0.67, 3.6 1.00,
    # 3.7 2 of 9 units -> 0.44; 4.3 1/3 x 3/3 -> 4.00; 4.6 1/2 -> 3.00; 5.3 2/3 -> 4.44.
    assert group_points(district) == [12.0, 13.33, 10.77, 8.0, 7.0, 16.44]
    assert district["total"] == 67.54
    office = top["H70.01"]
    # a1 completed a day late: 0 of 20; not a document, so 3.2 and 4.3 need no e-result;
    # its procedure was published in 2023 (1.1, 1.2 0 of 0: 0 points), offline (4.1 0/1).
    assert group_points(office) == [8.0, 0.0, 6.0, 6.0, 10.0, 12.0]
    assert office["total"] == 42.0
    assert (office["rank"], office["rank_of"]) == (1, 20)


def test_as_of_the_last_evening_before_the_due_time(stored: Settings) -> None:
    unit = by_code(run_json(stored, "--period", "2024-06", "--unit", "H70.21.02",
                            "--as-of", "2024-06-30T19:00:00+07:00"))["H70.21.02"]  # fmt: skip
    # e3 is not yet due at 19:00: progress 2/2. It has had a complaint since 06-25, so 5.3
    # still counts e1 only.
    assert group_points(unit) == [12.0, 20.0, 14.0, 10.0, 10.0, 15.33]
    assert unit["total"] == 81.33
    report = run_json(stored, "--period", "2024-06", "--unit", "H70.21.02",
                      "--as-of", "2024-06-30T20:00:00.001+07:00")  # fmt: skip
    assert by_code(report)["H70.21.02"]["total"] == 71.33
    assert report["as_of"] == "2024-06-30T20:00:00+07:00"


def test_projection_to_the_month_end(stored: Settings) -> None:
    report = run_json(stored, "--period", "2024-06", "--level", "district", "--project",
                      "--as-of", "2024-06-30T19:00:00+07:00")  # fmt: skip
    district = by_code(report)["H70.21"]
    # Now: e3 not yet due, on time 3/3 (20 instead of 13.33 at the month's end: 74.21).
    # Judged at the month's end e3 is overdue (2/3); at the district's current pace (100% on
    # time) it is expected on time: 3/3 again.
    assert (district["now"], district["projected"]) == (74.21, 74.21)
    assert district["at_stake"] == pytest.approx(25.79)
    assert report["units"][0]["unit_code"] != "H70.21"  # districts without dossiers lose more


def test_not_available_is_never_zero(
    store: Store, store_settings: Settings, tmp_path: Path
) -> None:
    folder = write_reference(tmp_path / "plain", catalogue=False)
    load_lines(store, store_settings.database, _events(), load_reference(folder), record_ms=NOW_MS)
    refresh_all(store, store_settings.database)
    settings = store_settings.replace(reference_dir=str(folder))
    unit = by_code(run_json(settings, "--period", "2024-06", "--unit", "H70.21.02"))["H70.21.02"]
    points = indicator_points(unit)
    assert {k for k, v in points.items() if v is None} == {"1.1", "1.2", "1.3", "3.6", "3.7"}
    groups = {g["id"]: g for g in unit["groups"]}
    assert groups["transparency"]["points"] is None
    assert "procedure catalogue" in groups["transparency"]["not_available"]
    assert unit["total"] is None
    human = run(settings, "--period", "2024-06", "--unit", "H70.21.02")
    assert human.exit_code == 0, human.output
    assert "6.00 / 6 *" in human.stdout and "chưa có dữ liệu" in human.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--period", "2024-07", "--at-stake", "--target", "online_services=90"],
         "not a dossier indicator"),
        (["--period", "2023-01"], "no dossiers stored"),
    ],
)  # fmt: skip
def test_errors_after_reading_the_store_are_one_line(
    stored: Settings, args: list[str], message: str
) -> None:
    result = run(stored, *args)
    assert result.exit_code != 0
    assert message in result.output
    (reason,) = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert message in reason


def test_at_stake_still_ranks_units(stored: Settings) -> None:
    report = run_json(stored, "--period", "2024-06", "--at-stake", "--level", "commune",
                      "--target", "on_time=100")  # fmt: skip
    units = by_code(report)
    # e3 on time would add 1 of the province's 4 June dossiers: 20 x 1/4 = 5 points on 2.1;
    # d1 is on time already.
    assert units["H70.21.02"]["by_indicator"]["on_time"]["gain_points"] == pytest.approx(5.0)
    assert units["H70.21.02"]["by_indicator"]["on_time"]["numerator_needed"] == 1
    assert units["H70.21.01"]["by_indicator"]["on_time"]["gain_points"] == 0.0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--period", "2024-13"], "expected YYYY, YYYY-Qn or YYYY-MM"),
        ([], "Missing option '--period'"),
        (["--period", "2024-06", "--unit", "H99"], "unknown unit 'H99'"),
        (["--period", "2024-06", "--level", "ward"], "levels are province"),
        (["--period", "2024-06", "--unit", "H70.01", "--level", "commune"], "not both"),
        (["--period", "2024-06", "--target", "e_result=90"], "--at-stake only"),
        (["--period", "2024-06", "--at-stake", "--target", "e_result=120"], "0-100"),
        (["--period", "2024-06", "--as-of", "yesterday"], "expected 2024-06-03"),
        (["--period", "2024-06", "--as-of", "2024-05-31"], "not after the period start"),
        (["--period", "2024-06", "--project", "--at-stake"], "not both"),
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
    assert "chiso766 score --period 2024-06 --project --level commune" in result.output
    assert "--as-of 2024-06-15" in result.output


def test_the_catalogue_copy_is_the_demo_province() -> None:
    """The hand computations above use the demo province's units; guard their count."""
    assert sum(1 for u in load_reference().units if u.parent == "H70.21") == 8
