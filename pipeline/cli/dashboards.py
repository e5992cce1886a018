"""`chiso766 dashboards build / check / push`: Grafana dashboards as code, checked without Grafana."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import click

from dashboards.build import BuildContext, all_dashboards, build_files
from dashboards.macros import MacroError
from dashboards.model import Format
from dashboards.push import TOKEN_ENV, push_dashboards
from dashboards.queries import PanelQuery, panel_queries
from dashboards.render import render_dashboard
from pipeline.cli.options import json_flag, parse_time_option, with_settings
from pipeline.errors import SinkError
from pipeline.reference import Reference, load_reference
from pipeline.settings import Settings
from pipeline.windows import HOUR_MS, bucket_of, rfc3339, to_local, to_ms
from sinks.reader import require_results, stream_time_ms
from sinks.store import Store, open_store


@click.group()
def dashboards() -> None:
    """Grafana dashboards for leaders and on-call engineers, generated from code.

    \b
    Examples:
      chiso766 dashboards build --out dashboards/provisioning
      chiso766 dashboards check --from 2024-06-01 --to 2024-06-04
      CHISO766_GRAFANA_TOKEN=... chiso766 dashboards push --grafana-url http://127.0.0.1:3000
    """


def _context(settings: Settings) -> tuple[BuildContext, Reference]:
    reference = load_reference(settings)
    return BuildContext(settings.database, reference), reference


@dashboards.command()
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder to write into (Grafana's provisioning layout).")  # fmt: skip
@with_settings
def build(settings: Settings, out_dir: Path) -> None:
    """Write every dashboard JSON and provisioning file into --out (same input, same bytes).

    The dashboards read the namespace's database (--namespace), which is baked into each
    dashboard's hidden `db` variable; the unit levels come from the province's reference data.

    \b
    Examples:
      chiso766 dashboards build --out dashboards/provisioning
      chiso766 dashboards build --namespace prod --out /srv/grafana/provisioning
    """
    context, _ = _context(settings)
    files = build_files(context)
    for relative, content in files.items():
        path = out_dir / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
        click.echo(f"wrote {path} ({len(content):,} bytes)")


@dashboards.command()
@click.option(
    "--from",
    "from_ms",
    callback=parse_time_option,
    help="Start of the time range (default: first of the month of --to).",
)
@click.option(
    "--to",
    "to_ms",
    callback=parse_time_option,
    help="End of the time range (default: end of the hour of the newest stored event).",
)
@click.option(
    "--unit",
    "unit_code",
    help="Unit for the drill-down dashboard's variables (default: the province).",
)
@json_flag
@with_settings
def check(
    settings: Settings, from_ms: int | None, to_ms: int | None, unit_code: str | None, as_json: bool
) -> None:
    """Run every panel's and variable's query against the store, as Grafana would send it.

    Macros and variables are expanded as Grafana and the ClickHouse plugin do; each query must
    answer with the columns its panel expects. Prints rows and milliseconds per query and
    exits 1 if any query fails or returns wrong columns.

    \b
    Examples:
      chiso766 dashboards check
      chiso766 dashboards check --from 2024-06-01 --to 2024-06-04 --store server --json
    """
    context, reference = _context(settings)
    if unit_code and not reference.has_unit(unit_code):
        raise click.BadParameter(f"unknown unit {unit_code!r}", param_hint="--unit")
    unit = reference.unit(unit_code) if unit_code else reference.root
    if from_ms is not None and to_ms is not None and from_ms >= to_ms:
        raise click.BadParameter("--from must be before --to", param_hint="--from")
    store = open_store(settings)
    try:
        require_results(store, settings.database, settings.namespace)
        if to_ms is None:
            newest = stream_time_ms(store, settings.database)
            to_ms = bucket_of(newest if newest is not None else int(time.time() * 1000)) + HOUR_MS
        if from_ms is None:
            from_ms = _month_start(to_ms - 1)
        if from_ms >= to_ms:
            raise click.BadParameter("--from must be before --to", param_hint="--from")
        try:
            queries = panel_queries(
                all_dashboards(context), from_ms, to_ms, {"level": unit.level, "unit": unit.code}
            )
        except MacroError as error:
            raise click.ClickException(str(error)) from None
        results = [_run(store, q) for q in queries]
    finally:
        store.close()
    failed = [r for r in results if r["error"]]
    if as_json:
        click.echo(json.dumps({"from": rfc3339(from_ms), "to": rfc3339(to_ms), "namespace": settings.namespace,
                               "store": settings.store, "queries": results, "failed": len(failed)},
                              ensure_ascii=False))  # fmt: skip
    else:
        click.echo(
            f"{len(results)} queries, {rfc3339(from_ms)} to {rfc3339(to_ms)}, {settings.store} store"
        )
        for r in results:
            state = "ok  " if not r["error"] else "FAIL"
            click.echo(f"{state} {r['ms']:8.1f} ms {r['rows']:6d} rows  {r['dashboard']}: {r['title']}"
                       + (f"\n       {r['error']}" if r["error"] else ""))  # fmt: skip
    if failed:
        raise SystemExit(1)


def _run(store: Store, query: PanelQuery) -> dict[str, Any]:
    result: dict[str, Any] = {"dashboard": query.dashboard, "title": query.title, "rows": 0,
                              "ms": 0.0, "columns": [], "error": None}  # fmt: skip
    try:
        described = [(str(r[0]), str(r[1])) for r in store.query(f"DESCRIBE TABLE ({query.sql})")]
        started = time.perf_counter()
        rows = store.query(query.sql)
        result["ms"] = round((time.perf_counter() - started) * 1000, 1)
        result["rows"] = len(rows)
        result["columns"] = [name for name, _ in described]
        result["error"] = column_problem(query, described)
    except SinkError as error:
        result["error"] = str(error)
    return result


def column_problem(query: PanelQuery, described: list[tuple[str, str]]) -> str | None:
    """Why the result's columns do not fit the panel, or None."""
    names = tuple(name for name, _ in described)
    if names != query.columns:
        return f"columns {list(names)}, expected {list(query.columns)}"
    if query.format is Format.TIME_SERIES and not described[0][1].startswith("DateTime"):
        return f"time series needs a DateTime first column, got {described[0][1]}"
    return None


@dashboards.command()
@click.option(
    "--grafana-url", required=True, help="Grafana's base URL, e.g. http://127.0.0.1:3000."
)
@with_settings
def push(settings: Settings, grafana_url: str) -> None:
    """Upload the dashboards into the Grafana folder "Chỉ số 766" (idempotent by uid).

    The API token (a service-account token with editor rights) comes from CHISO766_GRAFANA_TOKEN.

    \b
    Example:
      CHISO766_GRAFANA_TOKEN=glsa_... chiso766 dashboards push --grafana-url http://127.0.0.1:3000
    """
    token = os.environ.get(TOKEN_ENV, "")
    if not token:
        raise click.UsageError(f"set {TOKEN_ENV} to a Grafana API token")
    if not grafana_url.startswith(("http://", "https://")):
        raise click.BadParameter(
            "expected http://HOST:PORT or https://...", param_hint="--grafana-url"
        )
    context, _ = _context(settings)
    rendered = [render_dashboard(d) for d in all_dashboards(context)]
    created, pushed = push_dashboards(grafana_url, token, rendered)
    if created:
        click.echo('created folder "Chỉ số 766"')
    for p in pushed:
        click.echo(f"pushed {p.uid} ({p.title}) version {p.version}")


def _month_start(ts_ms: int) -> int:
    return to_ms(to_local(ts_ms).replace(day=1, hour=0, minute=0, second=0, microsecond=0))
