"""``chiso766 ingest FILE.jsonl``: check an export line by line and produce it to Kafka."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

import click
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeElapsedColumn

from pipeline.broker import ensure_topics
from pipeline.cli.options import json_flag, with_settings
from pipeline.cli.reference import reference_dir_option, reference_for
from pipeline.events import to_ms
from pipeline.ingest import IngestSummary, route_lines
from pipeline.producing import produce_all
from pipeline.settings import Settings


@click.command("ingest")
@click.argument(
    "path", metavar="FILE.jsonl", type=click.Path(dir_okay=False, allow_dash=True, path_type=Path)
)
@click.option("--dry-run", is_flag=True, help="Only check the lines; send nothing.")
@click.option(
    "--now",
    type=click.DateTime(formats=["%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%d"]),
    default=None,
    help="The load time (default: the clock; dates are UTC midnight). Each good line is sent "
    "with its own occurred_at as record timestamp, or this time if it is later: a line more "
    "than a day after it is far_future.",
)
@click.option(
    "--progress/--no-progress", default=None, help="Show a progress bar (default: on a terminal)."
)
@reference_dir_option
@json_flag
@with_settings
def ingest(
    settings: Settings,
    path: Path,
    dry_run: bool,
    now: datetime | None,
    progress: bool | None,
    reference_dir: str | None,
    as_json: bool,
) -> None:
    """Check every line of FILE.jsonl and produce it to Kafka: the path a real export takes.

    Each line must be one contract-v1 event (see pipeline/schema/events-v1.json) about a
    unit and a procedure of the reference data, not more than a day in the future, with
    possible values. A good line goes byte for byte to {namespace}.dossier-events,
    .payment-events or .feedback-events, keyed by its dossier_id and stamped with its own
    occurred_at (so the worker counts a year-old export too); a bad line goes to
    {namespace}.dead-letters with its reason, kind and FILE:LINE in the message headers.
    Empty lines are skipped and counted. Bad lines do not change the exit status; a file
    that cannot be read, or a Kafka that cannot be reached, exits with status 2.

    A line too large for a Kafka message (over 496 KiB) is not sent: its first 64 KiB go to the
    dead-letter topic with its size and sha256 in the headers, and its line number is printed.

    --json prints {"good", "bad", "blank", "reasons": {kind: count}, "topics": {topic:
    count}, "examples": [first bad lines], "truncated_lines": [line numbers], "elapsed_s",
    "lines_per_s"}.

    \b
    Examples:
      chiso766 ingest export.jsonl --dry-run
      chiso766 ingest export.jsonl --kafka-port 19092 --namespace demo --json
      chiso766 generate --out - --bad-fraction 0.01 | chiso766 ingest - --dry-run
    """
    reference_data = reference_for(settings, reference_dir)
    now_ms = (
        int(time.time() * 1000)
        if now is None
        else to_ms(now if now.tzinfo else now.replace(tzinfo=UTC))
    )
    summary = IngestSummary()
    report = Console(stderr=True)
    show_progress = progress if progress is not None else (report.is_terminal and not as_json)
    started = time.monotonic()
    with (
        _open_input(path) as handle,
        _progress_bar(report, handle, path, enabled=show_progress) as tick,
    ):
        chunks = route_lines(
            handle,
            reference=reference_data,
            now_ms=now_ms,
            settings=settings,
            source=path.name if str(path) != "-" else "stdin",
            summary=summary,
        )
        if dry_run:
            for _ in chunks:
                tick(0)
        else:
            ensure_topics(settings)
            produce_all(settings, chunks, on_chunk=tick)
    summary.elapsed_s = time.monotonic() - started
    _report(summary, path, settings, dry_run, as_json)


@contextmanager
def _open_input(path: Path) -> Iterator[BinaryIO]:
    if str(path) == "-":
        yield sys.stdin.buffer
        return
    try:
        handle = path.open("rb", buffering=1 << 20)
    except OSError as exc:
        raise click.BadParameter(
            f"cannot read {path}: {exc.strerror}", param_hint="FILE.jsonl"
        ) from None
    with handle:
        yield handle


@contextmanager
def _progress_bar(
    console: Console, handle: BinaryIO, path: Path, *, enabled: bool
) -> Iterator[Callable[[int], None]]:
    if not enabled or str(path) == "-":
        yield lambda _: None
        return
    total = path.stat().st_size
    columns = (
        TextColumn("[bold]ingesting[/bold]"),
        BarColumn(),
        DownloadColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console) as bar:
        task = bar.add_task("ingest", total=total)
        yield lambda _: bar.update(task, completed=handle.tell())
        bar.update(task, completed=total)


def _report(
    summary: IngestSummary, path: Path, settings: Settings, dry_run: bool, as_json: bool
) -> None:
    if as_json:
        click.echo(
            json.dumps(
                {"file": str(path), "dry_run": dry_run, **summary.to_json()}, ensure_ascii=False
            )
        )
        return
    action = (
        "checked"
        if dry_run
        else f"sent to Kafka {settings.bootstrap_servers} ({settings.namespace}.*)"
    )
    reasons = ", ".join(f"{kind} {count:,}" for kind, count in sorted(summary.reasons.items()))
    click.echo(
        f"{path}: {summary.good:,} good, {summary.bad:,} bad"
        + (f" ({reasons})" if reasons else "")
        + (f", {summary.blank:,} blank" if summary.blank else "")
        + f"; {action} in {summary.elapsed_s:.1f} s"
    )
    for example in summary.examples[:3]:
        click.echo(f"  {example['source']}: {example['kind']}: {example['reason']}")
    if summary.truncated_lines:
        numbers = ", ".join(str(n) for n in summary.truncated_lines)
        click.echo(
            f"  too large to send whole (dead-lettered truncated, with size and sha256): "
            f"line {numbers}"
        )
