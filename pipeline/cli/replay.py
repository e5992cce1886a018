"""``chiso766 replay``: recompute a namespace's results from Kafka, the raw archive or an export file."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import click
from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskProgressColumn,
    TextColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from pipeline import broker
from pipeline.cli.options import json_flag, parse_time_option, with_settings
from pipeline.cli.reference import reference_dir_option, reference_for
from pipeline.replay.kafka_source import open_kafka_source
from pipeline.replay.records import DAY_MS, Record, Window, file_records
from pipeline.replay.run import ReplaySummary, build_processor
from pipeline.replay.run import replay as run_replay
from pipeline.settings import Settings
from pipeline.windows import rfc3339
from sinks import hourly, schema
from sinks.archive import archive_batches, archived_count
from sinks.reader import require_results
from sinks.replays import ReplayRow, record_replay
from sinks.store import Store, open_store
from sinks.writer import ResultWriter

BATCH = 20_000


def _duration_ms(_ctx: click.Context, _param: click.Parameter, value: str) -> int:
    units = {"d": DAY_MS, "h": 3_600_000}
    try:
        if value == "0":
            return 0
        amount, unit = int(value[:-1]), units[value[-1]]
        if amount < 0:
            raise ValueError
    except (ValueError, KeyError, IndexError):
        raise click.BadParameter(f"{value!r}: expected days or hours, e.g. 31d or 36h") from None
    return amount * unit


@dataclass
class _Source:
    """A chosen source: its record batches, size for the progress bar, and how to close it."""

    name: str
    batches: Iterator[tuple[list[Record], int]]
    total: int
    """In ``unit``: messages (Kafka, archive) or bytes (a file)."""
    unit: str
    position: Callable[[], int]
    skipped_unread: int = 0
    """Events of the source outside the window that were not even read (archive)."""


@click.command("replay")
@click.option("--into", "into", required=True, metavar="NAMESPACE",
              help="Namespace to write into: a new one, or the live one for a backfill.")  # fmt: skip
@click.option(
    "--from", "from_ms", callback=parse_time_option, help="First hour to recompute (inclusive)."
)
@click.option("--to", "to_ms", callback=parse_time_option, help="End of the range (exclusive).")
@click.option("--source", "source_name", default="kafka", show_default=True,
              metavar="kafka|archive|FILE.jsonl",
              help="The namespace's input topics, its raw archive (events_raw), or an export.")  # fmt: skip
@click.option("--margin", "margin_ms", default="31d", show_default=True, callback=_duration_ms,
              help="Also read events this long before --from and after --to, so dossiers that "
              "straddle the range count whole (e.g. 0, 36h, 60d).")  # fmt: skip
@click.option("--notify", is_flag=True,
              help="Let alerts about the replayed data notify as usual (default: muted).")  # fmt: skip
@click.option(
    "--progress/--no-progress", default=None, help="Progress bar (default: on a terminal)."
)
@reference_dir_option
@json_flag
@with_settings
def replay(
    settings: Settings,
    into: str,
    from_ms: int | None,
    to_ms: int | None,
    source_name: str,
    margin_ms: int,
    notify: bool,
    progress: bool | None,
    reference_dir: str | None,
    as_json: bool,
) -> None:
    """Recompute results from the events of --namespace into the namespace --into.

    Runs the worker's own core (decode, validate against the reference data, fold per dossier,
    store snapshots, archive and dead letters) over the events of a source, then brings the
    target's hourly counts up to date. Every write merges, so a replay can be repeated, and
    replaying into the live namespace is a safe backfill: it only adds facts.

    \b
    Sources:
      kafka        the namespace's input topics, read by a consumer that joins no group (the
                   live workers are not disturbed), from the offsets at --from minus the margin
                   (and a day of clock skew) to the end offsets taken when the replay starts
      archive      the namespace's raw archive (events_raw): accepted events only
      FILE.jsonl   an export, one event per line (record time: the event's own time)

    With --from/--to only events that occurred within the margin of the range are used: the
    target's buckets inside the range are then complete, those outside it are partial. Dead
    letters go to the target's dead_letters table (and, from Kafka, its dead-letter topic).
    A replay is recorded in the target's `replays` table; unless --notify is given, alerts
    stay quiet while it runs, and for good in a namespace the replay created.

    --json prints one object last: {"messages", "accepted", "unchanged", "dead_letters",
    "skipped", "seconds", "events_per_s", "source", "into", "replay_id"}; messages are those
    the core judged (accepted + dead_letters), skipped those outside the window.

    \b
    Examples:
      chiso766 replay --namespace prod --into audit-2024-03 --from 2024-03-01 --to 2024-04-01
      chiso766 replay --namespace prod --into prod --source archive       backfill in place
      chiso766 replay --into check --source export.jsonl --store server --json
    """
    target = settings.replace(namespace=into)  # checks the name: ConfigError -> exit 2
    if from_ms is not None and to_ms is not None and from_ms >= to_ms:
        raise click.BadParameter("--from must be before --to", param_hint="--from")
    window = Window(from_ms, to_ms, margin_ms)
    reference = reference_for(settings, reference_dir)
    console = Console(stderr=True)
    show_progress = progress if progress is not None else (console.is_terminal and not as_json)
    now_ms = int(time.time() * 1000)
    store = open_store(settings)
    with ExitStack() as cleanup:
        cleanup.callback(store.close)
        source = _open_source(source_name, settings, store, window, now_ms, cleanup)
        created = not _has_database(store, target.database)
        schema.migrate(store, target.database)
        row = record_replay(
            store,
            target.database,
            ReplayRow(
                replay_id=uuid.uuid4().hex,
                source=source.name,
                from_ms=max(0, from_ms or 0),
                to_ms=max(0, to_ms or 0),
                notify=int(notify),
                created_namespace=int(created),
                started_ms=now_ms,
            ),
        )
        publish = None
        if source_name == "kafka":
            broker.ensure_topics(target, [broker.DEAD_LETTERS])
            publisher = broker.DeadLetterPublisher(target)
            cleanup.callback(publisher.close)
            publish = publisher.publish
        writer = ResultWriter(store, target.database)
        with _progress_bar(console, source, enabled=show_progress) as tick:
            summary = run_replay(
                source.batches,
                build_processor(reference, settings.late_horizon_days),
                writer.write,
                publish,
                now_ms=now_ms,
                clock_s=time.monotonic,
                on_batch=tick,
            )
        summary.skipped += source.skipped_unread
        started_s = time.monotonic()
        refresh_hourly_counts(store, target.database)
        summary.seconds += time.monotonic() - started_s
        record_replay(
            store,
            target.database,
            replace(
                row,
                finished_ms=int(time.time() * 1000),
                messages=summary.messages,
                accepted=summary.accepted,
                dead_letters=summary.dead_letters,
            ),
        )
    _report(summary, source.name, target, window, row.replay_id, as_json)


def refresh_hourly_counts(store: Store, database: str) -> None:
    """Bring the target's ``hourly_counts`` up to date with what the replay stored (one place)."""
    hourly.refresh_all(store, database)


def _has_database(store: Store, database: str) -> bool:
    rows = store.query(f"SELECT count() FROM system.databases WHERE name = '{database}'")
    return bool(int(rows[0][0]))


def _open_source(
    name: str, settings: Settings, store: Store, window: Window, now_ms: int, cleanup: ExitStack
) -> _Source:
    if name == "kafka":
        kafka = open_kafka_source(
            settings.bootstrap_servers,
            [settings.topic(topic) for topic in broker.INPUT_TOPICS],
            window,
            batch_size=BATCH,
            client_id=settings.group("replay"),
        )
        cleanup.callback(kafka.close)
        return _Source(
            "kafka", kafka.batches(), kafka.total, "messages", position=lambda: kafka.read
        )
    if name == "archive":
        require_results(store, settings.database, settings.namespace)
        inside, outside = archived_count(store, settings.database, window)
        read = [0]

        def counted() -> Iterator[tuple[list[Record], int]]:
            for records, skipped in archive_batches(store, settings.database, window):
                read[0] += len(records)
                yield records, skipped

        return _Source("archive", counted(), inside, "events", lambda: read[0], outside)
    path = Path(name)
    try:
        handle = path.open("rb", buffering=1 << 20)
    except OSError as exc:
        raise click.BadParameter(
            f"cannot read {path}: {exc.strerror} (sources are kafka, archive or a FILE.jsonl)",
            param_hint="--source",
        ) from None
    cleanup.callback(handle.close)
    return _Source(
        str(path),
        file_records(handle, path.name, now_ms, window, BATCH),
        path.stat().st_size,
        "bytes",
        handle.tell,
    )


class _RateColumn(ProgressColumn):
    def render(self, task: Task) -> Text:
        return Text(f"{task.fields.get('rate', 0):,.0f} events/s", style="progress.data.speed")


@contextmanager
def _progress_bar(
    console: Console, source: _Source, *, enabled: bool
) -> Iterator[Callable[[ReplaySummary], None]]:
    if not enabled:
        yield lambda _: None
        return
    columns = (
        TextColumn(f"[bold]replaying[/bold] {source.name}"),
        BarColumn(),
        TaskProgressColumn(),
        _RateColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console) as bar:
        task = bar.add_task("replay", total=source.total or None, rate=0.0)

        def tick(summary: ReplaySummary) -> None:
            bar.update(task, completed=source.position(), rate=summary.events_per_s)

        yield tick
        bar.update(task, completed=source.total)


def _report(
    summary: ReplaySummary,
    source: str,
    target: Settings,
    window: Window,
    replay_id: str,
    as_json: bool,
) -> None:
    if as_json:
        click.echo(
            json.dumps(
                {
                    **summary.to_json(),
                    "source": source,
                    "into": target.namespace,
                    "replay_id": replay_id,
                }
            )
        )
        return
    span = ""
    if not window.is_everything:
        low = rfc3339(window.from_ms) if window.from_ms is not None else "the beginning"
        high = rfc3339(window.to_ms) if window.to_ms is not None else "the end"
        span = f" for {low} to {high}"
    click.echo(
        f"replayed {source} into {target.namespace}{span}: {summary.messages:,} messages, "
        f"{summary.accepted:,} accepted ({summary.unchanged:,} unchanged), "
        f"{summary.dead_letters:,} dead letters, {summary.skipped:,} outside the range; "
        f"{summary.seconds:.1f} s, {summary.events_per_s:,} events/s"
    )
