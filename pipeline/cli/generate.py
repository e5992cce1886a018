"""``chiso766 generate``: realistic, seeded events of a province, to a file or to Kafka."""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import BinaryIO

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from pipeline.broker import ensure_topics
from pipeline.cli.options import json_flag, with_settings
from pipeline.cli.reference import reference_dir_option, reference_for
from pipeline.errors import ConfigError
from pipeline.generator import (
    DEFAULT_SEED,
    DEFAULT_START,
    INCIDENT_KINDS,
    PROFILES,
    DayBatch,
    Noise,
    Summary,
    generate_batches,
    parse_incident,
    produce_batches,
    profile_named,
    write_jsonl,
)
from pipeline.settings import Settings

_FRACTION = click.FloatRange(0.0, 1.0, max_open=True)
FIRST_DAY = date(2000, 1, 1)
LAST_DAY = date(2099, 12, 31)
"""Generated days stay in this range (events before 2000 are rejected at the edge anyway)."""
MIN_RATE, MAX_RATE = 0.01, 10_000_000.0


@click.command("generate")
@click.option(
    "--seed", type=int, default=DEFAULT_SEED, show_default=True, help="Everything derives from it."
)
@click.option(
    "--start",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=DEFAULT_START.isoformat(),
    show_default=True,
    help="First local day (Asia/Ho_Chi_Minh).",
)
@click.option(
    "--days", type=click.IntRange(min=1), default=1, show_default=True, help="Days to cover."
)
@click.option(
    "--profile",
    type=click.Choice(list(PROFILES)),
    default="demo",
    show_default=True,
    help="Volume: province = 1M dossiers/year, demo 150k, small 60k, tiny 6k.",
)
@click.option(
    "--rate",
    type=click.FloatRange(min=0.0, min_open=True),
    default=None,
    metavar="EVENTS_PER_S",
    help="Live mode: send at this pace. Default: as fast as possible.",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, allow_dash=True, path_type=Path),
    default=None,
    metavar="FILE.jsonl",
    help="Write JSON Lines here ('-' for stdout). Default: the Kafka input topics.",
)
@click.option(
    "--duplicates",
    type=_FRACTION,
    default=0.0,
    help="Share of events re-sent (same id, or same fact with a new id).",
)
@click.option(
    "--disorder",
    type=_FRACTION,
    default=0.0,
    help="Share of events that arrive late (1 min to 36 h).",
)
@click.option(
    "--bad-fraction",
    type=_FRACTION,
    default=0.0,
    help="Share of lines that are bad, of every kind.",
)
@click.option(
    "--incident",
    "incident_specs",
    multiple=True,
    metavar="KIND:UNIT:FROM:TO",
    help=f"Drop a rate at a unit (and the units below it) for a period; repeatable. KIND: {', '.join(INCIDENT_KINDS)}.",
)
@click.option(
    "--progress/--no-progress",
    default=None,
    help="Show a progress bar (default: when stderr is a terminal).",
)
@reference_dir_option
@json_flag
@with_settings
def generate(
    settings: Settings,
    seed: int,
    start: datetime,
    days: int,
    profile: str,
    rate: float | None,
    out: Path | None,
    duplicates: float,
    disorder: float,
    bad_fraction: float,
    incident_specs: tuple[str, ...],
    progress: bool | None,
    reference_dir: str | None,
    as_json: bool,
) -> None:
    """Generate realistic contract-v1 events for the province, reproducibly.

    Dossiers are received at every unit in office hours on working days (Monday is busiest),
    digitised, synced to the national portal, paid (online or at the counter, some days
    late), sometimes sent back for supplements, completed before or after their
    procedure's due date, issued a paper or an electronic result, rated, and now and then
    complained about. Units differ, some communes lag far behind, and the province's rates
    climb through the year: a simulated 2024 lands on the seed figures (online filing
    57.6%, online payment 68.14%, e-results 77.94%, digitisation ~76%, sync 100%).

    The same --seed, --start, --days, --profile and noise options always give the same
    bytes. Output covers events that occurred in [--start, --start + --days), in time
    order; dossiers received up to 45 days earlier contribute their later events, so the
    first day already has completions and results.

    Lines go to --out FILE.jsonl, or to Kafka: {namespace}.dossier-events,
    .payment-events and .feedback-events (created if missing), keyed by dossier_id.

    \b
    Examples:
      chiso766 generate --out day.jsonl                     # one demo day, ~4k events
      chiso766 generate --profile province --start 2024-01-01 --days 366 --out 2024.jsonl
      chiso766 generate --kafka-port 19092 --rate 200       # a live feed to Kafka
      chiso766 generate --out noisy.jsonl --duplicates 0.02 --disorder 0.05 --bad-fraction 0.01
      chiso766 generate --start 2024-03-04 --days 3 --out outage.jsonl \\
          --incident payment-outage:H70.21:2024-03-05:2024-03-05
    """
    _check_period(start.date(), days)
    if rate is not None and not (math.isfinite(rate) and MIN_RATE <= rate <= MAX_RATE):
        raise click.BadParameter(
            f"{rate!r}: expected events per second from {MIN_RATE:g} to {MAX_RATE:g}",
            param_hint="--rate",
        )
    reference_data = reference_for(settings, reference_dir)
    try:
        incidents = [parse_incident(spec, reference_data) for spec in incident_specs]
    except ConfigError as exc:
        raise click.BadParameter(str(exc), param_hint="--incident") from None
    noise = Noise(duplicates=duplicates, disorder=disorder, bad_fraction=bad_fraction)
    first = start.date()
    batches = generate_batches(
        reference_data,
        seed=seed,
        start=first,
        days=days,
        profile=profile_named(profile),
        incidents=incidents,
        noise=noise,
    )
    to_stdout = out is not None and str(out) == "-"
    report = Console(stderr=True)
    show_progress = progress if progress is not None else (report.is_terminal and not to_stdout)
    with _progress_bar(report, days, enabled=show_progress) as advance:
        if out is None:
            ensure_topics(settings)
            summary = produce_batches(batches, settings, rate=rate, on_batch=advance)
            target = f"Kafka {settings.bootstrap_servers} ({settings.namespace}.*-events)"
        elif to_stdout:
            summary = write_jsonl(batches, sys.stdout.buffer, rate=rate, on_batch=advance)
            target = "stdout"
        else:
            with _open_output(out) as handle:
                summary = write_jsonl(batches, handle, rate=rate, on_batch=advance)
            target = str(out)
    last = first + timedelta(days=days - 1)
    _report(summary, target, first.isoformat(), last.isoformat(), seed, as_json, to_stdout)


def _check_period(first: date, days: int) -> None:
    if not FIRST_DAY <= first <= LAST_DAY:
        raise click.BadParameter(
            f"{first}: expected a day from {FIRST_DAY} to {LAST_DAY}", param_hint="--start"
        )
    room = (LAST_DAY - first).days + 1
    if days > room:
        raise click.BadParameter(
            f"{days}: from {first} at most {room} days fit before {LAST_DAY}", param_hint="--days"
        )


@contextmanager
def _open_output(path: Path) -> Iterator[BinaryIO]:
    try:
        handle = path.open("wb", buffering=1 << 20)
    except OSError as exc:
        raise click.BadParameter(
            f"cannot write {path}: {exc.strerror}", param_hint="--out"
        ) from None
    with handle:
        yield handle


@contextmanager
def _progress_bar(
    console: Console, days: int, *, enabled: bool
) -> Iterator[Callable[[DayBatch], None]]:
    if not enabled:
        yield lambda batch: None
        return
    columns = (
        TextColumn("[bold]generating[/bold] {task.fields[day]}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("days  {task.fields[lines]:,} lines"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console) as bar:
        task = bar.add_task("generate", total=days, day="", lines=0)
        lines = 0

        def advance(batch: DayBatch) -> None:
            nonlocal lines
            lines += len(batch.items)
            bar.update(task, advance=1, day=batch.day.isoformat(), lines=lines)

        yield advance


def _report(
    summary: Summary, target: str, first: str, last: str, seed: int, as_json: bool, to_stdout: bool
) -> None:
    if as_json:
        document = {"target": target, "seed": seed, "from": first, "to": last, **summary.to_json()}
        click.echo(json.dumps(document), err=to_stdout)
        return
    click.echo(
        f"generated {summary.lines:,} lines ({summary.events:,} events of {summary.dossiers:,} "
        f"dossiers received {first}..{last}, {summary.duplicates:,} re-sent, {summary.bad_lines:,} bad) "
        f"-> {target} in {summary.elapsed_s:.1f} s ({summary.lines_per_s:,.0f} lines/s)",
        err=to_stdout,
    )
