"""`chiso766 rates`: rolling indicator rates per unit, or the raw hourly counts behind them."""

from __future__ import annotations

import json

import click
from rich.console import Console
from rich.table import Table

from pipeline.cli.options import chosen_units, json_flag, parse_time_option, with_settings
from pipeline.rates import INDICATORS, Counts, UnitTotals, roll_up, totals
from pipeline.reference import Reference, load_reference
from pipeline.settings import Settings
from pipeline.windows import WINDOWS, rfc3339, window_bounds
from sinks.reader import hourly_rows, require_results, stream_time_ms, summed_rows
from sinks.store import open_store


@click.command()
@click.option("--unit", "unit_code", help="One unit (with everything below it), e.g. H70.07.")
@click.option("--level", help="Every unit of a level: province, department, district, commune.")
@click.option("--window", type=click.Choice(list(WINDOWS)), default="24h", show_default=True,
              help="Rolling window ending with the hour of --as-of.")  # fmt: skip
@click.option(
    "--as-of",
    callback=parse_time_option,
    help="End of the window (default: the newest event time stored).",
)
@click.option("--granularity", type=click.Choice(["window", "hour"]), default="window", show_default=True,
              help="'hour' prints raw hourly counts of every leaf unit between --from and --to.")  # fmt: skip
@click.option(
    "--from",
    "from_ms",
    callback=parse_time_option,
    help="With --granularity hour: first hour (inclusive).",
)
@click.option(
    "--to", "to_ms", callback=parse_time_option, help="With --granularity hour: end (exclusive)."
)
@json_flag
@with_settings
def rates(
    settings: Settings,
    unit_code: str | None,
    level: str | None,
    window: str,
    as_of: int | None,
    granularity: str,
    from_ms: int | None,
    to_ms: int | None,
    as_json: bool,
) -> None:
    """Show indicator rates: sum(numerator) / sum(denominator) over the window's hour buckets.

    Units roll up: a unit's counts include every unit below it, so the province row is the
    whole province. By default --as-of is the newest event time stored, so replayed past data
    shows as it stood then.

    \b
    Examples:
      chiso766 rates                               province, last 24 h
      chiso766 rates --level commune --window mtd  every commune, month to date
      chiso766 rates --unit H70.07 --as-of 2024-06-03T17:00:00+07:00 --json
      chiso766 rates --granularity hour --from 2024-06-03 --to 2024-06-04 --json
    """
    reference = load_reference(settings)
    units = chosen_units(reference, unit_code, level) or [reference.root.code]
    if granularity == "hour" and (from_ms is None or to_ms is None):
        raise click.UsageError("--granularity hour needs --from and --to")
    store = open_store(settings)
    try:
        require_results(store, settings.database, settings.namespace)
        if granularity == "hour":
            assert from_ms is not None and to_ms is not None  # checked above
            for unit, indicator, bucket_ms, numerator, denominator in hourly_rows(
                store, settings.database, from_ms, to_ms
            ):
                click.echo(json.dumps({"unit_code": unit, "indicator": indicator,
                                       "bucket_start": rfc3339(bucket_ms),
                                       "numerator": numerator, "denominator": denominator}))  # fmt: skip
            return
        as_of = as_of if as_of is not None else stream_time_ms(store, settings.database)
        if as_of is None:
            raise click.ClickException(
                f"no events stored yet in {settings.database} ({settings.store} store)"
            )
        start_ms, end_ms = window_bounds(window, as_of)
        rows = summed_rows(store, settings.database, start_ms, end_ms)
    finally:
        store.close()
    rolled = roll_up(
        totals(rows, start_ms, end_ms),
        reference.ancestry,
    )
    if as_json:
        click.echo(json.dumps({"window": window, "as_of": rfc3339(as_of), "from": rfc3339(start_ms),
                               "to": rfc3339(end_ms), "namespace": settings.namespace,
                               "units": [_unit_json(reference, code, rolled) for code in units]},
                              ensure_ascii=False))  # fmt: skip
        return
    _print_table(reference, units, rolled, f"{window} to {rfc3339(end_ms)}")


def _unit_json(reference: Reference, code: str, rolled: UnitTotals) -> dict[str, object]:
    unit = reference.unit(code)
    per = rolled.get(code, {})
    return {
        "unit_code": code,
        "name": unit.name,
        "level": unit.level,
        "indicators": {
            indicator: {"numerator": c.numerator, "denominator": c.denominator, "rate": c.rate}
            for indicator in INDICATORS
            for c in [per.get(indicator, Counts())]
        },
    }


def _print_table(reference: Reference, units: list[str], rolled: UnitTotals, caption: str) -> None:
    table = Table(title="Chỉ số 766 — tỷ lệ theo đơn vị", caption=caption)
    table.add_column("Đơn vị / unit")
    for indicator, label in INDICATORS.items():
        table.add_column(f"{label}\n{indicator}", justify="right")
    for code in units:
        per = rolled.get(code, {})
        cells = [_cell(per.get(indicator, Counts())) for indicator in INDICATORS]
        table.add_row(f"{reference.unit(code).name}\n[dim]{code}[/]", *cells)
    Console().print(table)


def _cell(counts: Counts) -> str:
    if counts.rate is None:
        return "[dim]–[/]"
    return f"{100 * counts.rate:.1f}%\n[dim]{counts.numerator}/{counts.denominator}[/]"
