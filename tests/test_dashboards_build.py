"""Generated dashboards: Grafana's schema (relaxed copy), our own rules, stable bytes, provisioning.

The schemas are grafana-foundation-sdk's (tests/fixtures/grafana-schema, kept identical to the
team's shared/ copy by a test here; in CI a missing shared/ copy fails that test).
"""

from __future__ import annotations

import copy
import json
import os
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from click.testing import CliRunner

from dashboards.build import (
    PROVISIONING_WRITERS,
    BuildContext,
    all_dashboards,
    build_files,
    panel_sql_for,
)
from dashboards.indicators import INDICATOR_LIST
from dashboards.lint import dashboard_problems
from dashboards.render import render_dashboard
from pipeline.cli.main import cli
from pipeline.rates import INDICATOR_NAMES_EN, INDICATORS
from pipeline.reference import load_reference
from pipeline.scoring.period import hourly_rate_targets
from pipeline.windows import parse_time

REPO_ROOT = Path(__file__).resolve().parents[1]
SCHEMA_DIR = REPO_ROOT / "tests" / "fixtures" / "grafana-schema"
SHARED_SCHEMA_DIR = (
    Path(os.environ.get("CHISO766_SHARED_DIR") or REPO_ROOT.parent / "shared")
    / "vendor"
    / "grafana-foundation-sdk"
)
PROVISIONING_DIR = REPO_ROOT / "dashboards" / "provisioning"
REFERENCE = load_reference()
CONTEXT = BuildContext("chiso766", REFERENCE)
DOCUMENTS = [render_dashboard(d) for d in all_dashboards(CONTEXT)]


def relax(node: Any) -> Any:
    """cog renders CUE's "any" as an object with no properties: accept any value there."""
    if isinstance(node, dict):
        if (
            node.get("type") == "object"
            and node.get("additionalProperties") == {}
            and "properties" not in node
        ):
            return {k: v for k, v in node.items() if k not in ("type", "additionalProperties")}
        return {k: relax(v) for k, v in node.items()}
    if isinstance(node, list):
        return [relax(x) for x in node]
    return node


def validator(name: str, definition: str | None = None) -> jsonschema.Draft7Validator:
    schema = relax(json.loads((SCHEMA_DIR / f"{name}.jsonschema.json").read_text()))
    if definition:
        schema = {**schema, "$ref": f"#/definitions/{definition}"}
    return jsonschema.Draft7Validator(schema)


def errors(v: jsonschema.Draft7Validator, doc: Any) -> list[str]:
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in v.iter_errors(doc)]


@pytest.mark.parametrize("doc", DOCUMENTS, ids=[d["uid"] for d in DOCUMENTS])
def test_dashboards_validate_against_grafanas_relaxed_schema(doc: dict[str, Any]) -> None:
    assert errors(validator("dashboard"), doc) == []
    options = {"stat": validator("stat", "Options"), "timeseries": validator("timeseries", "Options"),
               "table": validator("table", "Options")}  # fmt: skip
    custom = {"timeseries": validator("timeseries", "FieldConfig"),
              "table": validator("table", "FieldConfig")}  # fmt: skip
    for panel in doc["panels"]:
        if panel["type"] == "row":
            continue
        assert errors(options[panel["type"]], panel["options"]) == [], panel["title"]
        if panel["type"] in custom:
            field = panel["fieldConfig"]["defaults"]["custom"]
            assert errors(custom[panel["type"]], field) == [], panel["title"]


def test_the_schema_really_rejects_what_grafana_would() -> None:
    bad = copy.deepcopy(DOCUMENTS[0])
    bad["panels"][1]["gridPos"]["w"] = 30
    del bad["schemaVersion"]
    bad["refresh"] = False
    found = errors(validator("dashboard"), bad)
    assert len(found) == 3, found


@pytest.mark.parametrize("doc", DOCUMENTS, ids=[d["uid"] for d in DOCUMENTS])
def test_dashboards_keep_our_rules(doc: dict[str, Any]) -> None:
    assert dashboard_problems(doc) == []


def test_the_rules_catch_each_kind_of_mistake() -> None:
    doc = DOCUMENTS[0]
    panel = next(i for i, p in enumerate(doc["panels"]) if p["type"] == "timeseries")

    def broken(change: Any) -> list[str]:
        bad = copy.deepcopy(doc)
        change(bad, bad["panels"][panel])
        return dashboard_problems(bad)

    cases = {
        "duplicate id": lambda d, p: p.update(id=d["panels"][0]["id"]),
        "overlaps": lambda d, p: p.update(gridPos={**d["panels"][panel + 1]["gridPos"]}),
        "format": lambda d, p: p["targets"][0].update(format=1),
        "pluginVersion": lambda d, p: p["targets"][0].update(pluginVersion="3.2.0"),
        "data source must be": lambda d, p: p["targets"][0].update(datasource={"uid": "other"}),
        "not portable": lambda d, p: p["targets"][0].update(rawSql="SELECT $__timeInterval(t)"),
        "unknown variable": lambda d, p: p["targets"][0].update(rawSql="SELECT 1 FROM ${nope}.t"),
        "needs a title and a description": lambda d, p: p.update(description=""),
        "timezone": lambda d, p: d.update(timezone="browser"),
        "needs thresholds": lambda d, p: p["fieldConfig"].update(
            defaults={"unit": "percentunit"}, overrides=[]
        ),
    }
    for expected, change in cases.items():
        problems = broken(change)
        assert any(expected in problem for problem in problems), (expected, problems)


def test_build_gives_the_same_bytes_twice_and_matches_the_committed_provisioning() -> None:
    first, second = build_files(CONTEXT), build_files(BuildContext("chiso766", load_reference()))
    assert first == second
    committed = {
        str(p.relative_to(PROVISIONING_DIR)): p.read_bytes()
        for p in PROVISIONING_DIR.rglob("*")
        if p.is_file()
    }
    assert committed == first, "run: chiso766 dashboards build --out dashboards/provisioning"


def test_build_command_writes_every_file(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["dashboards", "build", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    written = {
        str(p.relative_to(tmp_path)): p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()
    }
    assert written == build_files(CONTEXT)
    other = CliRunner().invoke(
        cli, ["dashboards", "build", "--namespace", "prod-a", "--out", str(tmp_path)]
    )
    assert other.exit_code == 0, other.output
    overview = json.loads((tmp_path / "dashboards/json/chiso766-tong-quan.json").read_text())
    db = next(v for v in overview["templating"]["list"] if v["name"] == "db")
    assert db["query"] == "prod_a" and db["type"] == "constant" and db["hide"] == 2


def test_provisioning_files_point_grafana_at_the_json_and_the_read_only_user() -> None:
    files = build_files(CONTEXT)
    provider = yaml.safe_load(files["dashboards/chiso766.yml"])["providers"][0]
    assert provider["options"]["path"] == "/etc/grafana/provisioning/dashboards/json"
    assert provider["folder"] == "Chỉ số 766" and provider["type"] == "file"
    source = yaml.safe_load(files["datasources/clickhouse.yml"])["datasources"][0]
    assert source["uid"] == "clickhouse" and source["type"] == "grafana-clickhouse-datasource"
    assert source["jsonData"]["username"] == "chiso766_grafana"
    assert source["secureJsonData"]["password"] == "${CLICKHOUSE_GRAFANA_PASSWORD}"
    assert len(PROVISIONING_WRITERS) >= 2


def test_names_and_targets_come_from_the_pipelines_definitions() -> None:
    assert [i.id for i in INDICATOR_LIST] == list(INDICATORS)
    assert set(INDICATOR_NAMES_EN) == set(INDICATORS)
    targets = hourly_rate_targets()
    for indicator in INDICATOR_LIST:
        assert indicator.name_vi == INDICATORS[indicator.id]
        assert indicator.target == targets[indicator.id] / 100
        assert indicator.thresholds.steps[-1] == (indicator.target, "green")
    overview = DOCUMENTS[0]
    ranking = next(p for p in overview["panels"] if p["title"].startswith("Xếp hạng sở"))
    filing = next(o for o in ranking["fieldConfig"]["overrides"]
                  if o["matcher"]["options"] == "online_filing")  # fmt: skip
    values = {p["id"]: p["value"] for p in filing["properties"]}
    assert values["displayName"] == "Tỷ lệ hồ sơ trực tuyến"
    assert values["thresholds"]["steps"][-1] == {"value": 0.5, "color": "green"}  # full at 50%


def test_every_panel_has_the_plugin_v4_target_shape() -> None:
    for doc in DOCUMENTS:
        assert doc["timezone"] == "Asia/Ho_Chi_Minh" and doc["refresh"] == "1m"
        for panel in doc["panels"]:
            for target in panel.get("targets", []):
                assert set(target) >= {"refId", "datasource", "editorType", "rawSql", "format",
                                        "pluginVersion"}  # fmt: skip
                assert isinstance(target["format"], int)
                # Numbers read the newest version of each bucket, day or month, and only those
                # with a denominator; only the batches panel counts the versions themselves.
                if panel["title"] == "Lô đã lưu":
                    continue
                sql = target["rawSql"]
                newest = r"argMax\(numerator, version\) AS n, argMax\(denominator, version\) AS d"
                for table in ("hourly_counts", "daily_counts", "monthly_counts"):
                    kept = re.findall(rf"{newest}\s+FROM \$\{{db\}}\.{table}\s", sql)
                    assert len(kept) == sql.count(table), panel["title"]
                assert sql.count("argMax(denominator, version) AS d") == sql.count("WHERE d > 0")
    uids = [d["uid"] for d in DOCUMENTS]
    assert uids == ["chiso766-tong-quan", "chiso766-don-vi", "chiso766-van-hanh"]


def test_the_in_repo_schema_copy_is_identical_to_shared() -> None:
    """The copy must not drift from the team's vendored schemas. In CI, shared/ sits beside the
    repository: its absence is a failure there, not a skip."""
    ours = {p.name: p.read_bytes() for p in SCHEMA_DIR.iterdir() if p.name != "NOTES.md"}
    assert {"dashboard.jsonschema.json", "stat.jsonschema.json", "LICENSE", "COMMIT"} <= set(ours)
    if not SHARED_SCHEMA_DIR.is_dir():
        assert os.environ.get("CI") != "true", f"{SHARED_SCHEMA_DIR} is missing in CI"
        return
    shared = {p.name: p.read_bytes() for p in SHARED_SCHEMA_DIR.iterdir() if p.name != "README.md"}
    assert ours == shared


def test_benchmarks_get_every_panels_expanded_sql() -> None:
    year = panel_sql_for("bench", REFERENCE, parse_time("2024-01-01"), parse_time("2025-01-01"))
    panels = [p for d in all_dashboards(BuildContext("bench", REFERENCE)) for p in d.panels()]
    assert [title for title, _ in year] == [p.title for p in panels]
    for title, sql in year:
        assert "$" not in sql.replace("$__", ""), title  # no variable left
        assert "$__" not in sql and "bench." in sql, title
    district = panel_sql_for("bench", REFERENCE, 0, 3_600_000, unit_code="H70.21")
    assert any("'H70.21'" in sql for _, sql in district)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["dashboards", "check", "--unit", "H99"], "unknown unit 'H99'"),
        (["dashboards", "check", "--from", "yesterday"], "expected 2024-06-03"),
        (["dashboards", "check", "--from", "2024-06-05", "--to", "2024-06-04"], "before --to"),
        (["dashboards", "build"], "--out"),
        (["dashboards", "push", "--grafana-url", "ftp://x"], "http://HOST:PORT"),
    ],
)
def test_bad_input_is_a_usage_error(args: list[str], message: str) -> None:
    result = CliRunner(env={"CHISO766_GRAFANA_TOKEN": "t"}).invoke(cli, args)
    assert result.exit_code == 2 and message in result.output, result.output


def test_every_command_explains_itself_with_examples() -> None:
    for command in ("build", "check", "push"):
        result = CliRunner().invoke(cli, ["dashboards", command, "--help"])
        assert result.exit_code == 0 and "Example" in result.output
