"""Every file ``chiso766 dashboards build`` writes, from the namespace's database and the province.

Pure: ``build_files`` returns relative path -> bytes; the CLI writes them. Each entry of
``PROVISIONING_WRITERS`` contributes files: dashboards, their provider and data source, and
the alert rules.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import yaml

from dashboards import provisioning
from dashboards.alert_rules import render_alert_rules
from dashboards.lint import dashboard_problems
from dashboards.model import ConstantVariable, Dashboard
from dashboards.operations import operations_dashboard
from dashboards.overview import overview_dashboard
from dashboards.queries import panel_sql
from dashboards.render import render_dashboard, to_json_bytes
from dashboards.unit_view import unit_dashboard
from pipeline.alerts.rules import load_rules
from pipeline.reference import Reference


@dataclass(frozen=True)
class BuildContext:
    """What the generated files depend on: the namespace's ClickHouse database and the
    province's unit hierarchy (levels to rank, depth of the roll-up)."""

    database: str
    reference: Reference

    @property
    def depth(self) -> int:
        """The longest parent chain (at least 1, so roll-up SQL always has a parent column)."""
        return max([1, *(len(chain) for chain in self.reference.ancestry.values())])


def db_variable(database: str) -> ConstantVariable:
    return ConstantVariable(
        "db",
        database,
        "The namespace's ClickHouse database (the namespace with '-' turned into '_'); "
        "set when the dashboards are built (`chiso766 dashboards build --namespace ...`).",
    )


def all_dashboards(context: BuildContext) -> tuple[Dashboard, ...]:
    reference = context.reference
    db = db_variable(context.database)
    below_root = [
        (level, len(reference.units_at(level)))
        for level in reference.levels
        if level != reference.root.level
    ]
    return (
        overview_dashboard((db,), below_root, context.depth),
        unit_dashboard(db, reference.levels, context.depth),
        operations_dashboard(db),
    )


def dashboard_files(context: BuildContext) -> dict[str, bytes]:
    """One JSON file per dashboard. Raises ValueError listing the rules a dashboard breaks
    (``dashboards.lint``), so nothing broken is ever written."""
    files = {}
    for dashboard in all_dashboards(context):
        document = render_dashboard(dashboard)
        problems = dashboard_problems(document)
        if problems:
            raise ValueError("; ".join(problems))
        files[f"{provisioning.DASHBOARD_JSON_DIR}/{dashboard.uid}.json"] = to_json_bytes(document)
    return files


def provisioning_files(context: BuildContext) -> dict[str, bytes]:
    return {
        provisioning.PROVIDER_FILE: provisioning.provider_yaml(),
        provisioning.DATASOURCE_FILE: provisioning.datasource_yaml(context.database),
    }


ALERT_RULES_FILE = "alerting/chiso766-alerts.yaml"


def alert_rule_files(context: BuildContext) -> dict[str, bytes]:
    """The shipped alert rules as Grafana alert-rule provisioning (same thresholds as
    ``chiso766 alerts``), with their mute timings and webhook contact point."""
    reference = context.reference
    rules = load_rules(unit_codes=reference.unit_codes, levels=reference.levels)
    document = render_alert_rules(rules, reference, context.database)
    text = yaml.dump(document, Dumper=_PlainDumper, allow_unicode=True, sort_keys=False)
    return {ALERT_RULES_FILE: text.encode()}


class _PlainDumper(yaml.SafeDumper):
    """Writes shared values in full each time (no &anchors), as people read the file."""

    def ignore_aliases(self, data: object) -> bool:
        return True


ProvisioningWriter = Callable[[BuildContext], dict[str, bytes]]
PROVISIONING_WRITERS: list[ProvisioningWriter] = [
    dashboard_files,
    provisioning_files,
    alert_rule_files,
]
"""Each returns relative path -> bytes; two writers must not produce the same path."""


def build_files(context: BuildContext) -> dict[str, bytes]:
    """Every generated file, sorted by path. Raises ValueError if two writers clash."""
    files: dict[str, bytes] = {}
    for writer in PROVISIONING_WRITERS:
        for path, content in writer(context).items():
            if path in files:
                raise ValueError(f"two provisioning writers produce {path}")
            files[path] = content
    return dict(sorted(files.items()))


def panel_sql_for(
    database: str, reference: Reference, from_ms: int, to_ms: int, unit_code: str | None = None
) -> list[tuple[str, str]]:
    """(title, SQL exactly as ClickHouse receives it) of every panel of every dashboard for the
    time range [from_ms, to_ms); the drill-down dashboard shows ``unit_code`` (default: the
    province). For benchmarks timing the real panel queries."""
    unit = reference.unit(unit_code) if unit_code else reference.root
    context = BuildContext(database, reference)
    return panel_sql(
        all_dashboards(context), from_ms, to_ms, {"level": unit.level, "unit": unit.code}
    )
