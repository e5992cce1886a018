"""``chiso766 reconcile`` over every real portal response in shared/data/portal-766.

The data folder is ``$CHISO766_SHARED_DIR/data/portal-766`` if the variable is set, else
``<repo root>/../shared/data/portal-766`` when it exists, else the copy in
``tests/fixtures/portal-766`` (kept identical to shared/ by a test). An empty folder fails the
run; it is never skipped.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from pipeline.cli.reconcile import reconcile
from pipeline.errors import PortalDataError

REPO_ROOT = Path(__file__).resolve().parents[1]
FIXTURE_DIR = REPO_ROOT / "tests" / "fixtures" / "portal-766"
SHARED_DIR = Path(os.environ.get("CHISO766_SHARED_DIR") or REPO_ROOT.parent / "shared")
SHARED_PORTAL_DIR = SHARED_DIR / "data" / "portal-766"
# The team's shared/ copy when it is beside the repository (as in CI), else the in-repo copy,
# so a clone on its own still tests against the real portal captures.
PORTAL_DIR = SHARED_PORTAL_DIR if SHARED_PORTAL_DIR.is_dir() else FIXTURE_DIR
PORTAL_FILES = sorted(PORTAL_DIR.glob("*/*.json"))
MISSING = (
    f"portal data folder {PORTAL_DIR} has no */*.json files; set CHISO766_SHARED_DIR to the "
    "folder holding data/portal-766 (a copy of shared/ beside the repository)"
)
FILE_PARAMS = [pytest.param(p, id=f"{p.parent.name}/{p.name}") for p in PORTAL_FILES] or [
    pytest.param(None, id="portal-data-missing")
]
TREE_COUNT_FIELDS = ("totalReceived", "totalDossierOnlinePaymentSuccess", "channelTotalSum")


def run(*args: str) -> Result:
    return CliRunner().invoke(reconcile, list(args))


def run_json(path: Path) -> tuple[Result, dict[str, Any]]:
    result = run("--portal", str(path), "--json")
    return result, json.loads(result.output)


def units_of(document: dict[str, Any]) -> list[dict[str, Any]]:
    data = document["data"]
    if "overview" in data:
        return [data["overview"], *data["evaluation"]]
    return [data["parent"], *data["children"]]


def test_portal_data_folder_is_there() -> None:
    assert PORTAL_FILES, MISSING
    groups = {p.parent.name for p in PORTAL_FILES}
    assert len(groups) == 6, f"expected the six score groups under {PORTAL_DIR}, got {groups}"


@pytest.mark.parametrize("path", FILE_PARAMS)
def test_every_checkable_unit_matches_the_portal(path: Path | None) -> None:
    assert path is not None, MISSING
    result, report = run_json(path)
    assert result.exit_code == 0, result.output[-2000:]
    assert set(report) == {"group", "checked", "mismatched", "not_checkable", "rows"}
    assert report["group"] == path.parent.name
    rows = report["rows"]
    assert len(rows) == len(units_of(json.loads(path.read_text(encoding="utf-8"))))
    assert report["checked"] > 0
    assert report["mismatched"] == 0
    assert report["checked"] + report["not_checkable"] == len(rows)
    for row in rows:
        if row["status"] == "not_checkable":
            assert row["ours"] is None and row["diff"] is None, row
        else:
            assert row["status"] == "match", row
            assert abs(row["ours"] - row["portal"]) <= 0.01, row
            assert row["our_max"] == row["portal_max"], row


@pytest.mark.parametrize("path", FILE_PARAMS)
def test_units_without_counts_are_not_checkable(path: Path | None) -> None:
    """Decided from the raw file, independently of the parser: a tree unit with none of its
    group's count fields, or a metrics unit whose scored metrics all have counts or a rate."""
    assert path is not None, MISSING
    document = json.loads(path.read_text(encoding="utf-8"))
    _, report = run_json(path)
    for unit, row in zip(units_of(document), report["rows"], strict=True):
        if "metrics" in unit:
            has_counts = all(
                m["denominator"] is not None or m.get("ratio") is not None
                for m in unit["metrics"]
                if m["maxScore"]
            )
        else:
            has_counts = any(unit.get(f) is not None for f in TREE_COUNT_FIELDS)
        assert (row["status"] != "not_checkable") == has_counts, row["unit_name"]


@pytest.mark.parametrize("path", FILE_PARAMS)
def test_each_published_indicator_score_is_reproduced(path: Path | None) -> None:
    """Where the portal publishes per-indicator scores (overview/evaluation files), ours are
    the same to the cent; a ``null`` score is an empty indicator and ours is 0."""
    assert path is not None, MISSING
    _, report = run_json(path)
    for row in report["rows"]:
        for indicator in row["indicators"]:
            if indicator["portal"] is None:
                if indicator["portal_code"] is not None:
                    assert indicator["ours"] == 0.0, (row["unit_name"], indicator)
            else:
                assert indicator["ours"] == indicator["portal"], (row["unit_name"], indicator)


def test_province_only_counts_leave_the_units_not_checkable() -> None:
    path = PORTAL_DIR / "provide-online-tree" / "month-all.json"
    assert path.exists(), MISSING
    _, report = run_json(path)
    assert report["checked"] == 1
    assert report["rows"][0]["is_province"] and report["rows"][0]["status"] == "match"
    assert report["not_checkable"] == len(report["rows"]) - 1


def tampered(tmp_path: Path, source: Path, change: Any) -> Path:
    document = json.loads(source.read_text(encoding="utf-8"))
    change(document["data"])
    out = tmp_path / source.name
    out.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
    return out


def test_a_tampered_score_is_a_mismatch(tmp_path: Path) -> None:
    source = PORTAL_DIR / "dvc-progress-tree" / "month-all.json"
    assert source.exists(), MISSING

    def bump(data: dict[str, Any]) -> None:
        data["children"][5]["score"] = round(data["children"][5]["score"] + 0.3, 2)

    result, report = run_json(tampered(tmp_path, source, bump))
    assert result.exit_code == 1
    assert report["mismatched"] == 1
    bad = [r for r in report["rows"] if r["status"] == "mismatch"]
    assert len(bad) == 1 and bad[0]["diff"] == -0.3

    human = run("--portal", str(tmp_path / source.name))
    assert human.exit_code == 1
    assert "MISMATCH" in human.output
    assert "1 mismatched" in human.output


def test_a_tampered_count_is_a_mismatch(tmp_path: Path) -> None:
    """Change a count but not the score: our recomputation must move away from the portal's."""
    source = PORTAL_DIR / "handling-satisfaction" / "month-all.json"
    assert source.exists(), MISSING

    def halve(data: dict[str, Any]) -> None:
        for metric in data["overview"]["metrics"]:
            if metric["code"] == "DOSSIER_RECEIVING_SATISFACTION":
                metric["numerator"] //= 2

    result, report = run_json(tampered(tmp_path, source, halve))
    assert result.exit_code == 1
    assert report["mismatched"] == 1 and report["rows"][0]["status"] == "mismatch"


@pytest.mark.parametrize(("delta", "exit_code"), [(0.01, 0), (0.02, 1), (-0.02, 1)])
def test_the_tolerance_is_one_hundredth(tmp_path: Path, delta: float, exit_code: int) -> None:
    source = PORTAL_DIR / "formality-online-payment-tree" / "month-all.json"
    assert source.exists(), MISSING

    def nudge(data: dict[str, Any]) -> None:
        data["parent"]["totalScore"] = round(data["parent"]["totalScore"] + delta, 2)

    result, report = run_json(tampered(tmp_path, source, nudge))
    assert result.exit_code == exit_code
    assert report["mismatched"] == exit_code


def test_human_output_has_a_table_and_a_summary() -> None:
    path = PORTAL_DIR / "transparency" / "month-formality.json"
    assert path.exists(), MISSING
    result = run("--portal", str(path))
    assert result.exit_code == 0
    assert "UBND tỉnh Phú Thọ" in result.output
    assert "164 checked, 0 mismatched, 0 not checkable" in result.output


def test_help_teaches_the_file_and_the_exit_status() -> None:
    result = run("--help")
    assert result.exit_code == 0
    text = " ".join(result.output.split())  # click re-wraps paragraphs
    for phrase in ("dichvucong.gov.vn", "evaluation", "Exit status", "not checkable", "--json"):
        assert phrase in text


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (None, "no such file"),
        ("not json at all", "not JSON"),
        ("[1, 2]", "expected a JSON object"),
        ('{"code": "OK", "data": {"rows": []}, "message": "OK"}', "found keys: rows"),
        ('{"code": "ERR", "data": {}, "message": "denied"}', "the portal answered an error"),
        ('{"data": {"parent": {"foo": 1}, "children": []}, "code": "OK"}', "cannot tell"),
        (
            '{"data": {"parent": {"departmentId": "x", "totalReceived": "many", '
            '"totalOnTime": 1, "totalScore": 1, "totalMaxScore": 20}, "children": []}}',
            "parent.totalReceived is 'many'",
        ),
        (
            '{"data": {"overview": {"departmentId": "x", "totalScore": 1, "totalMaxScore": 2, '
            '"metrics": [{"code": "ELECTRONIC_CERTIFIED_COPY", "numerator": null, '
            '"denominator": null, "ratio": -3, "score": 0, "maxScore": 2}]}, "evaluation": []}}',
            "ratio is -3.0",
        ),
        (
            '{"data": {"overview": {"departmentId": "x", "totalScore": 1, "totalMaxScore": 2, '
            '"metrics": [{"code": "NEW_SCORED_THING", "numerator": 1, "denominator": 2, '
            '"score": 1, "maxScore": 2}, {"code": "DOSSIER_SYNC", "numerator": 1, '
            '"denominator": 1, "score": 6, "maxScore": 6}]}, "evaluation": []}}',
            "'NEW_SCORED_THING' carries points",
        ),
        (
            '{"data": {"parent": {"departmentId": "x", "totalReceived": 5, '
            '"totalScore": 1, "totalMaxScore": 20, "totalOnTime": null}, "children": []}}',
            "not totalOnTime",
        ),
    ],
)
def test_bad_input_is_one_error_naming_the_file(
    tmp_path: Path, content: str | None, problem: str
) -> None:
    path = tmp_path / "portal.json"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    result = run("--portal", str(path))
    assert isinstance(result.exception, PortalDataError), result.output
    message = str(result.exception)
    assert str(path) in message and problem in message
    assert "\n" not in message


def test_the_installed_command_prints_one_line_and_exits_2(tmp_path: Path) -> None:
    """Through the real entry point (pipeline.cli.main.main), as a user runs it."""
    missing = tmp_path / "nope.json"
    completed = subprocess.run(
        [sys.executable, "-c", "from pipeline.cli.main import main; main()"]
        + ["reconcile", "--portal", str(missing)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode == 2
    assert completed.stderr.strip() == f"chiso766: {missing}: no such file"


def test_the_in_repo_copy_of_the_portal_data_is_identical_to_shared() -> None:
    """tests/fixtures/portal-766 must not drift from the team's shared/ data when both are here."""
    fixtures = {
        p.relative_to(FIXTURE_DIR): p.read_bytes() for p in FIXTURE_DIR.rglob("*") if p.is_file()
    }
    assert len(fixtures) == 12, "11 portal responses and their README"
    if SHARED_PORTAL_DIR.is_dir():
        shared = {
            p.relative_to(SHARED_PORTAL_DIR): p.read_bytes()
            for p in SHARED_PORTAL_DIR.rglob("*")
            if p.is_file()
        }
        assert fixtures == shared
