"""Reference data: the demo province's shape, the lookups, and every way a province's files can be wrong."""

from __future__ import annotations

import csv
import json
import shutil
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from pipeline.cli.reference import reference as reference_command
from pipeline.errors import ReferenceDataError
from pipeline.reference import DEMO_PROVINCE_DIR, load_reference
from pipeline.settings import Settings

DEMO = load_reference()
Change = Callable[[list[str], list[dict[str, str]]], tuple[list[str], list[dict[str, str]]]]
"""Edits a CSV file: (columns, rows) -> (columns, rows)."""


def test_demo_province_has_the_seed_shape() -> None:
    assert DEMO.province == "Ủy ban nhân dân tỉnh Bình Phước"
    assert len(DEMO.units) == 122
    assert Counter(u.level for u in DEMO.units) == {
        "province": 1,
        "department": 20,
        "district": 11,
        "commune": 90,
    }
    assert len(DEMO.procedures) == 1831
    assert Counter(p.online_level for p in DEMO.procedures) == {
        "full": 1072,
        "partial": 335,
        "none": 424,
    }
    online = sum(p.is_online for p in DEMO.procedures)
    assert round(100 * online / len(DEMO.procedures), 2) == 76.84  # the seed's 76.85% of ~1,831


def test_demo_units_form_one_tree_in_portal_style_codes() -> None:
    assert DEMO.root.code == "H70"
    for unit in DEMO.units:
        assert unit.code.startswith("H70")
        if unit.parent is not None:
            assert unit.code.startswith(unit.parent + ".")
            assert DEMO.roll_up(unit.code)[-1] == "H70"
    assert len(DEMO.descendants("H70")) == 121


def test_demo_procedures_are_consistent() -> None:
    for p in DEMO.procedures:
        assert p.full_process_eligible or p.online_level != "full"
        assert (p.fee_vnd > 0) == p.fee_bearing
        assert p.level in {"department", "district", "commune"}
        if p.agency:
            assert DEMO.unit(p.agency).level == "department"
    assert 0.3 < sum(p.fee_bearing for p in DEMO.procedures) / 1831 < 0.6
    assert 0.7 < sum(p.result_is_document for p in DEMO.procedures) / 1831 < 0.95


def test_lookups_and_roll_up() -> None:
    commune = DEMO.units_at("commune")[0]
    assert DEMO.roll_up(commune.code) == (commune.code, commune.parent, "H70")
    assert DEMO.ancestors("H70") == ()
    assert commune.code in DEMO.children(commune.parent or "")
    assert DEMO.has_unit(commune.code) and not DEMO.has_unit("H99")
    first = DEMO.procedures[0]
    assert DEMO.procedure(first.code) is first
    assert DEMO.result_is_document[first.code] == first.result_is_document
    with pytest.raises(ReferenceDataError, match="unknown unit 'H99'"):
        DEMO.unit("H99")
    with pytest.raises(ReferenceDataError, match="unknown procedure"):
        DEMO.procedure("0.000000")


def _copy_demo(tmp_path: Path) -> Path:
    folder = tmp_path / "province"
    shutil.copytree(DEMO_PROVINCE_DIR, folder)
    return folder


def _edit(path: Path, change: Change) -> None:
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        columns = list(reader.fieldnames or [])
        rows = list(reader)
    columns, rows = change(columns, rows)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(
            handle, fieldnames=columns, lineterminator="\n", extrasaction="ignore"
        )
        writer.writeheader()
        writer.writerows(rows)


def test_settings_choose_another_province_and_empty_means_the_demo(tmp_path: Path) -> None:
    folder = _copy_demo(tmp_path)
    _edit(
        folder / "units.csv",
        lambda c, rows: (c, [{**r, "name": "Tỉnh Thử"} if r["code"] == "H70" else r for r in rows]),
    )
    assert load_reference(Settings(reference_dir=str(folder))).province == "Tỉnh Thử"
    assert load_reference(folder).province == "Tỉnh Thử"
    assert load_reference(Settings()).province == DEMO.province
    env = Settings.resolve({}, env={"CHISO766_REFERENCE_DIR": str(folder)})
    assert load_reference(env).province == "Tỉnh Thử"


def test_generator_columns_are_optional(tmp_path: Path) -> None:
    folder = _copy_demo(tmp_path)
    drop = ("level", "agency", "due_days", "fee_vnd")
    _edit(folder / "procedures.csv", lambda c, rows: ([x for x in c if x not in drop], rows))
    loaded = load_reference(folder)
    assert all(p.level == "" and p.due_days == 10 for p in loaded.procedures)
    assert all((p.fee_vnd > 0) == p.fee_bearing for p in loaded.procedures)


BROKEN = [
    (
        "units.csv",
        lambda c, rows: ([x for x in c if x != "parent"], rows),
        r"units\.csv: missing column\(s\) parent",
    ),
    (
        "units.csv",
        lambda c, rows: (c, rows + [rows[5]]),
        r"units\.csv:124: duplicate unit code 'H70\.05'",
    ),
    (
        "units.csv",
        lambda c, rows: (c, [{**r, "parent": "H71"} if r["code"] == "H70.02" else r for r in rows]),
        r"units\.csv:4: unit 'H70\.02' has unknown parent 'H71'",
    ),
    (
        "units.csv",
        lambda c, rows: (c, [{**r, "parent": ""} if r["code"] == "H70.02" else r for r in rows]),
        "exactly one root",
    ),
    (
        "units.csv",
        lambda c, rows: (
            c,
            [{**r, "parent": "H70.21.01"} if r["code"] == "H70.21" else r for r in rows],
        ),
        "form a cycle",
    ),
    (
        "units.csv",
        lambda c, rows: (c, [{**r, "level": ""} if r["code"] == "H70.03" else r for r in rows]),
        r"units\.csv:5: code, name and level",
    ),
    (
        "procedures.csv",
        lambda c, rows: (c, [{**rows[0], "online_level": "level4"}, *rows[1:]]),
        r"procedures\.csv:2: online_level 'level4'",
    ),
    (
        "procedures.csv",
        lambda c, rows: (c, [{**rows[0], "fee_bearing": "maybe"}, *rows[1:]]),
        r"procedures\.csv:2: fee_bearing 'maybe'",
    ),
    (
        "procedures.csv",
        lambda c, rows: (
            c,
            [{**rows[0], "online_level": "full", "full_process_eligible": "false"}, *rows[1:]],
        ),
        "must be full_process_eligible",
    ),
    ("procedures.csv", lambda c, rows: (c, rows + [rows[0]]), "duplicate procedure code"),
    (
        "procedures.csv",
        lambda c, rows: (c, [{**rows[0], "agency": "H99"}, *rows[1:]]),
        "agency 'H99' is not a unit code",
    ),
    (
        "procedures.csv",
        lambda c, rows: (c, [{**rows[0], "due_days": "-3"}, *rows[1:]]),
        "due_days -3: must not be negative",
    ),
    (
        "procedures.csv",
        lambda c, rows: (c, [{**rows[0], "level": "ward"}, *rows[1:]]),
        "level 'ward' is not a level",
    ),
    ("procedures.csv", lambda c, rows: (c, []), r"procedures\.csv: no rows"),
]


@pytest.mark.parametrize(("file", "change", "message"), BROKEN)
def test_broken_files_raise_with_file_and_line(
    tmp_path: Path, file: str, change: Change, message: str
) -> None:
    folder = _copy_demo(tmp_path)
    _edit(folder / file, change)
    with pytest.raises(ReferenceDataError, match=message):
        load_reference(folder)


def test_missing_folder_is_a_reference_error(tmp_path: Path) -> None:
    with pytest.raises(ReferenceDataError, match="units.csv: file not found"):
        load_reference(tmp_path / "nowhere")


def test_reference_command_prints_units_and_procedures_as_json() -> None:
    result = CliRunner().invoke(reference_command, ["--json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert len(document["units"]) == 122 and len(document["procedures"]) == 1831
    assert {"code", "name", "level", "parent"} <= set(document["units"][0])
    assert {"code", "name", "online_level", "fee_bearing", "result_is_document"} <= set(
        document["procedures"][0]
    )
    commune = next(u for u in document["units"] if u["level"] == "commune")
    assert commune["parent"] is not None


def test_reference_command_reports_a_broken_province_in_one_line(tmp_path: Path) -> None:
    folder = _copy_demo(tmp_path)
    _edit(folder / "units.csv", lambda c, rows: (c, rows + [rows[1]]))
    result = CliRunner().invoke(reference_command, ["--reference-dir", str(folder)])
    assert result.exit_code != 0
    assert isinstance(result.exception, ReferenceDataError)
    assert "duplicate unit code" in str(result.exception)
