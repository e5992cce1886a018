"""The dashboards' own panel queries over a province-year, against the old view; and freshness.

Loads a generated province-year (~1M dossiers, ~6.5M events) through the worker's decision core
straight into the store (no Kafka: the same snapshots the worker writes, without the raw
archive), builds the aggregates with ``sinks.hourly.refresh_all`` (hourly counts and their
daily and monthly roll-ups), then times every panel of the leaders' dashboards (overview and
drill-down) ``--repeat`` times on each engine, as Grafana sends it: ``dashboards.queries``
expands each panel's SQL for the time range with the plugin's macros. The time ranges are the
dashboards' default (month to date) and year to date, ending with the hour of the newest
stored event; a panel whose SQL does not depend on the range is timed once. Each panel is
also built to read every hour (``dashboards.sql.hours_only``, as the panels were before the
roll-ups) and timed on ``hourly_counts``; the baseline is that query on the merge-at-read view
``indicator_hourly`` (``baseline_of``), run ``--baseline-repeat`` times. All three must return
the same rows. A baseline the ClickHouse server cannot run (its memory limit) is reported as
such. Then it runs the real worker (Kafka -> worker -> hourly_counts) at a fixed rate and
prints p50/p99 of Kafka timestamp -> bucket rewritten.

    .venv/bin/python benchmarks/bench_queries.py                       # both engines, a year
    .venv/bin/python benchmarks/bench_queries.py --days 30 --stores embedded
    .venv/bin/python benchmarks/bench_queries.py --only panels --keep --namespace year \\
        --chdb-path /tmp/year                  # keep the loaded year, then freshness on top of it:
    .venv/bin/python benchmarks/bench_queries.py --only freshness --namespace year --chdb-path /tmp/year

A kept namespace is migrated when reused (a newer schema's tables are filled from the stored
counts). The operations dashboard reads the raw archive, which this load leaves out: its panels
are not timed.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from dashboards.build import BuildContext, all_dashboards
from dashboards.operations import UID as OPERATIONS_UID
from dashboards.queries import panel_queries
from dashboards.sql import hours_only
from pipeline.errors import SinkError
from pipeline.generator.noise import Noise
from pipeline.generator.profile import profile_named
from pipeline.generator.stream import generate_batches
from pipeline.processing import Incoming, processor_for
from pipeline.reference import Reference, load_reference
from pipeline.settings import Settings
from sinks import hourly, schema
from sinks.reference_tables import store_reference
from sinks.server import ServerStore
from sinks.store import Store, open_store

TZ = "Asia/Ho_Chi_Minh"
TARGET_MS = 150.0
"""Issue #8: every panel's median over a province-year within 150 ms, on both engines."""

_HOURLY = re.compile(
    r"argMax\(numerator, version\) AS n, argMax\(denominator, version\) AS d(\s+)FROM (\w+)\.hourly_counts\s"
)
_TO_VIEW = r"any(numerator) AS n, any(denominator) AS d\1FROM \2.indicator_hourly "


def baseline_of(hourly_sql: str) -> tuple[str, int]:
    """A panel's query built to read every hour (``dashboards.sql.hours_only``) on the
    merge-at-read view, and how many times it reads the view: the newest version of each
    bucket of ``hourly_counts`` (``dashboards.sql.latest``) becomes the view's one row per
    bucket. 0 reads: the query reads no counts table (no baseline)."""
    if "daily_counts" in hourly_sql or "monthly_counts" in hourly_sql:
        raise ValueError("a roll-up read outside dashboards.sql.counts: no baseline for it")
    view_sql, reads = _HOURLY.subn(_TO_VIEW, hourly_sql)
    if reads != hourly_sql.count("hourly_counts"):
        raise ValueError("an hourly_counts read not made by dashboards.sql.latest")
    return view_sql, reads


@dataclass(frozen=True)
class Timed:
    dashboard: str
    title: str
    span: str
    """The time range it was timed on, or "any" when its SQL does not depend on it."""
    ms: float
    cpu_ms: float
    hours_ms: float | None
    """The same query read per hour from ``hourly_counts`` (before the roll-ups); None when it
    reads no roll-up."""
    baseline_ms: float | None
    """On the view; None: not run (no counts table read, --baseline-repeat 0, or it failed)."""
    baseline_note: str
    """Why there is no baseline figure, when there is none."""
    view_reads: int
    rows: int


# --- loading ----------------------------------------------------------------------------------
def load_year(stores: list[Store], database: str, start: date, days: int, profile: str) -> int:
    """Generate and process ``days`` of events into every store's ``dossier_state``; return events."""
    reference = load_reference()
    processor = processor_for(reference, late_horizon_days=400)
    noise = Noise(duplicates=0.02, disorder=0.02, bad_fraction=0.0)
    events = 0
    started = time.monotonic()
    pending: list[Incoming] = []
    for day_number, batch in enumerate(
        generate_batches(
            reference, seed=766, start=start, days=days, profile=profile_named(profile), noise=noise
        )  # fmt: skip
    ):
        pending.extend(Incoming(line.encode(), "bench", None) for line in batch.lines)
        if len(pending) < 50_000 and day_number < days - 1:
            continue
        for first in range(0, len(pending), 20_000):
            result = processor.process(pending[first : first + 20_000])
            for store in stores:
                store.insert(
                    f"{database}.dossier_state", schema.DOSSIER_STATE_COLUMNS, result.snapshots
                )
        events += len(pending)
        pending = []
        print(f"\r  loaded {events:,} events, "
              f"{time.monotonic() - started:.0f} s", end="", file=sys.stderr, flush=True)  # fmt: skip
    print(file=sys.stderr)
    for store in stores:
        store_reference(store, database, reference)
    return events


# --- timing -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Sample:
    ms: float
    """Median wall milliseconds."""
    cpu_ms: float
    """Median CPU milliseconds of the engine's threads: for chdb this process's (it runs the
    engine), for the server the query's user + system time from ``system.query_log``."""
    rows: list[Any]


def time_ms(store: Store, sql: str, repeat: int, warm_up: bool = True) -> Sample:
    """``repeat`` runs (after one warm-up): median wall and CPU milliseconds, and the rows."""
    tag = f"/* bench {uuid.uuid4().hex} */ "
    rows = store.query(sql) if warm_up else []
    walls, cpus = [], []
    for _ in range(repeat):
        cpu_started, started = time.process_time(), time.perf_counter()
        rows = store.query(tag + sql)
        walls.append((time.perf_counter() - started) * 1000)
        cpus.append((time.process_time() - cpu_started) * 1000)
    if store.backend == "server":
        cpus = _server_cpu_ms(store, tag, repeat)
    return Sample(statistics.median(walls), statistics.median(cpus), rows)


def _server_cpu_ms(store: Store, tag: str, runs: int) -> list[float]:
    """CPU milliseconds of the ``runs`` finished queries that start with ``tag`` (log_queries
    must be on; the log is flushed every few seconds, or when asked)."""
    event = "arrayElement(ProfileEvents.Values, indexOf(ProfileEvents.Names, '{}'))"
    cpu = f"{event.format('UserTimeMicroseconds')} + {event.format('SystemTimeMicroseconds')}"
    deadline = time.monotonic() + 30
    while True:
        store.execute("SYSTEM FLUSH LOGS")
        rows = store.query(
            f"SELECT {cpu} FROM system.query_log WHERE type = 2 AND startsWith(query, '{tag}')"
        )
        if len(rows) >= runs:
            return [int(cpu) / 1000 for (cpu,) in rows]
        if time.monotonic() > deadline:
            raise SystemExit(f"{len(rows)} of {runs} queries in system.query_log (log_queries?)")
        time.sleep(0.5)


def ranges_of(store: Store, database: str) -> dict[str, tuple[int, int]]:
    """The dashboards' default range (month to date) and year to date, in epoch ms, ending with
    the hour of the newest stored bucket (as ``dashboards check`` does without ``--to``)."""
    newest = store.query(f"SELECT toUInt32(max(bucket_start)) FROM {database}.hourly_counts FINAL")
    now = datetime.fromtimestamp(int(newest[0][0]) + 3600, ZoneInfo(TZ))
    month = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    year = month.replace(month=1)
    end = int(now.timestamp() * 1000)
    return {
        "month to date": (int(month.timestamp() * 1000), end),
        "year to date": (int(year.timestamp() * 1000), end),
    }


def bench_panels(
    store: Store,
    database: str,
    reference: Reference,
    unit_code: str,
    repeat: int,
    baseline_repeat: int,
) -> Iterator[Timed]:
    """Every panel of the leaders' dashboards, per range; raises SystemExit when a panel's rows
    differ from the same query's read per hour or on the view."""
    context = BuildContext(database, reference)
    dashboards = all_dashboards(context)
    with hours_only():
        per_hour = all_dashboards(context)
    choices = {"level": reference.unit(unit_code).level, "unit": unit_code}
    seen: set[str] = set()
    ranges = ranges_of(store, database)
    first, second = ranges.values()
    differs = {
        (q.dashboard, q.title)
        for q, other in zip(
            panel_queries(dashboards, *first, choices),
            panel_queries(dashboards, *second, choices),
            strict=True,
        )
        if q.sql != other.sql
    }
    for span, (from_ms, to_ms) in ranges.items():
        hourly_queries = panel_queries(per_hour, from_ms, to_ms, choices)
        for query, read_hourly in zip(
            panel_queries(dashboards, from_ms, to_ms, choices), hourly_queries, strict=True
        ):
            if query.title.startswith("$") or query.dashboard == OPERATIONS_UID:
                continue
            if query.sql in seen:
                continue
            seen.add(query.sql)
            sample = time_ms(store, query.sql, repeat)
            hours = None
            if read_hourly.sql != query.sql:
                hours = time_ms(store, read_hourly.sql, repeat)
                _same_rows(sample.rows, hours.rows, f"{query.title} ({span}): roll-ups and hours")
            view_sql, reads = baseline_of(read_hourly.sql)
            view, note = None, "no counts table" if not reads else "not run"
            if reads and baseline_repeat:
                try:
                    view = time_ms(store, view_sql, baseline_repeat, warm_up=False)
                except SinkError as error:
                    note = "failed: " + str(error).split("DB::Exception: ")[-1][:60]
                else:
                    _same_rows(sample.rows, view.rows, f"{query.title} ({span}): tables and view")
            shown = span if (query.dashboard, query.title) in differs else "any"
            yield Timed(
                query.dashboard,
                query.title,
                shown,
                sample.ms,
                sample.cpu_ms,
                hours.ms if hours else None,
                view.ms if view else None,
                note,
                reads,
                len(sample.rows),
            )


def _same_rows(rows: list[Any], other: list[Any], what: str) -> None:
    if sorted(map(repr, rows)) != sorted(map(repr, other)):
        raise SystemExit(f"{what} disagree")


def bench_refresh(store: Store, database: str, dossiers: int, repeat: int) -> tuple[float, int]:
    """Median ms of the worker's incremental refresh for a batch of the newest ``dossiers``
    dossiers (what a 0.5 s batch at 2,000 events/s touches), and the rows it writes."""
    snapshots = store.query(
        f"SELECT {', '.join(schema.DOSSIER_STATE_COLUMNS)} FROM {database}.dossier_state "
        f"WHERE dossier_id IN (SELECT dossier_id FROM {database}.dossier_state "
        f"ORDER BY greatest(received_ms, completed_ms) DESC LIMIT {dossiers})"
    )
    samples, written = [], 0
    for _ in range(repeat):
        started = time.perf_counter()
        written = hourly.refresh_dossiers(store, database, snapshots)
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples), written


# --- freshness through the real worker ---------------------------------------------------------
def bench_freshness(settings: Settings, rate: int, seconds: int) -> dict[str, Any]:
    """p50/p99 seconds from Kafka timestamp to the bucket rewritten, at ``rate`` events/s, with
    the real worker on ``settings`` (a loaded namespace: the refresh works among a year of data)."""
    import bench_stream  # the latency harness beside this file: paced producer, worker in a child

    from pipeline import broker

    settings = bench_stream.accepting_paced(settings)
    messages = bench_stream.paced_lines(settings, rate * seconds)
    broker.ensure_topics(settings)
    results: dict[str, Any] = {}
    runner = threading.Thread(
        target=lambda: results.update(
            bench_stream.in_child(bench_stream.run_worker, settings, None, len(messages), True)
        ),
        daemon=True,  # an error here must not leave the run waiting on the worker
    )
    runner.start()
    try:
        bench_stream.wait_until_worker_joined(settings)  # the clock starts when it can consume
        bench_stream.produce_paced(settings, messages, rate)
        runner.join()
    finally:
        # The paced messages are stored by now; their topics would only slow the broker's starts.
        broker.delete_namespace_topics(settings)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--stores", default="embedded,server", help="comma-separated: embedded, server"
    )
    parser.add_argument("--days", type=int, default=366)
    parser.add_argument("--start", default="2024-01-01")
    parser.add_argument("--profile", default="province")
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--baseline-repeat", type=int, default=1,
                        help="runs of each view query (0: none)")  # fmt: skip
    parser.add_argument(
        "--unit", default="", help="the drill-down dashboard's unit (default: the province)"
    )
    parser.add_argument("--namespace", default="", help="load into it, or reuse it if loaded")
    parser.add_argument("--chdb-path", default="", help="embedded store directory (to reuse one)")
    parser.add_argument("--keep", action="store_true", help="keep the loaded databases")
    parser.add_argument("--only", choices=["panels", "freshness", "both"], default="both",
                        help="panel queries, freshness through Kafka and the real worker, or both")  # fmt: skip
    parser.add_argument("--rate", type=int, default=2000)
    parser.add_argument("--seconds", type=int, default=30)
    args = parser.parse_args()

    backends = [b.strip() for b in args.stores.split(",") if b.strip()]
    chdb_path = args.chdb_path or tempfile.mkdtemp(prefix="chiso766-bench-q-")
    base = Settings.resolve({"chdb_path": chdb_path})
    namespace = args.namespace or f"benchq-{uuid.uuid4().hex[:6]}"
    settings = base.replace(namespace=namespace)
    if args.only != "freshness":
        run_panels(settings, backends, args)
    if args.only != "panels":
        for backend in backends:
            target = settings.replace(store=backend)
            if args.only == "both" and backend == "embedded":
                # This process holds the loaded chdb directory: the worker gets a fresh one.
                target = bench_fresh(target)
            figures = bench_freshness(target, args.rate, args.seconds)
            print(f"\nfreshness ({backend}, namespace {target.namespace}): p50 {figures['p50_s']:.2f} s, "
                  f"p99 {figures['p99_s']:.2f} s at {args.rate:,} events/s for {args.seconds} s "
                  f"(Kafka timestamp -> its buckets rewritten in hourly_counts), "
                  f"{figures['batches']} batches, {figures['accepted']:,} accepted, "
                  f"{figures['dead_letters']:,} dead letters, "
                  f"{figures['events_per_s']:,.0f} events/s through the worker, "
                  f"{figures['cpu_us_per_event']:.0f} CPU-µs/event in its process")  # fmt: skip


def bench_fresh(settings: Settings) -> Settings:
    return settings.replace(
        namespace=f"benchq-fresh-{uuid.uuid4().hex[:6]}",
        chdb_path=tempfile.mkdtemp(prefix="chiso766-fresh-"),
    )


def _open(settings: Settings) -> Store:
    """The store; on the server every query is logged, for its CPU time."""
    if settings.store != "server":
        return open_store(settings)
    return ServerStore(
        settings.clickhouse_host,
        settings.clickhouse_port,
        settings.clickhouse_user,
        settings.clickhouse_password,
        settings={"log_queries": 1},
    )


def run_panels(settings: Settings, backends: list[str], args: argparse.Namespace) -> None:
    stores = [_open(settings.replace(store=b)) for b in backends]
    database = settings.database
    reference = load_reference()
    loaded = all(
        int(s.query(f"SELECT count() FROM system.databases WHERE name = '{database}'")[0][0])
        for s in stores
    )
    print(f"namespace {settings.namespace}: {'reusing the loaded data' if loaded else 'loading'}")
    for backend, store in zip(backends, stores, strict=True):
        applied = schema.migrate(store, database)
        if loaded and applied:
            print(f"{backend}: migrations {applied} applied to the kept data")
    if not loaded:
        started = time.monotonic()
        events = load_year(
            stores, database, date.fromisoformat(args.start), args.days, args.profile
        )
        print(f"loaded {events:,} events ({args.profile}, {args.days} days) "
              f"in {time.monotonic() - started:.0f} s")  # fmt: skip
        for backend, store in zip(backends, stores, strict=True):
            started = time.monotonic()
            hourly.refresh_all(store, database)
            print(f"{backend}: refresh_all (index, hourly counts from the view, days, months) "
                  f"{time.monotonic() - started:.1f} s")  # fmt: skip
    unit = args.unit or reference.root.code
    results: dict[str, list[Timed]] = {}
    try:
        for backend, store in zip(backends, stores, strict=True):
            counts = store.query(
                f"SELECT (SELECT count() FROM {database}.dossier_state), "
                f"(SELECT uniqExact(dossier_id) FROM {database}.dossier_state), "
                f"(SELECT count() FROM {database}.hourly_counts), "
                f"(SELECT count() FROM {database}.daily_counts), "
                f"(SELECT count() FROM {database}.monthly_counts)"
            )[0]
            print(f"\n{backend} ({store.server_version()}): {int(counts[0]):,} snapshots of "
                  f"{int(counts[1]):,} dossiers; rows stored: {int(counts[2]):,} hourly, "
                  f"{int(counts[3]):,} daily, {int(counts[4]):,} monthly")  # fmt: skip
            refresh_ms, written = bench_refresh(store, database, 600, 3)
            print(f"  incremental refresh of the 600 newest dossiers: {refresh_ms:.0f} ms median "
                  f"({written:,} hourly rows written, with their days and months)")  # fmt: skip
            print(f"  panels (drill-down on {unit}), median of {args.repeat} runs, "
                  f"view {args.baseline_repeat}:")  # fmt: skip
            print(f"  {'panel':<52} {'range':<13} {'ms':>7} {'<=150':>5} {'CPU ms':>7} "
                  f"{'hours ms':>8} {'view ms':>8} {'reads':>5} {'rows':>5}")  # fmt: skip
            timed = results[backend] = []
            for t in bench_panels(
                store, database, reference, unit, args.repeat, args.baseline_repeat
            ):
                timed.append(t)
                print(f"  {_label(t):<52} {t.span:<13} {t.ms:>7.1f} "
                      f"{'yes' if t.ms <= TARGET_MS else 'NO':>5} {t.cpu_ms:>7.1f} "
                      f"{_figure(t.hours_ms):>8} "
                      f"{_figure(t.baseline_ms, t.baseline_note):>8} {t.view_reads:>5} "
                      f"{t.rows:>5}", flush=True)  # fmt: skip
        _summary(backends, results)
    finally:
        if not args.keep:
            for store in stores:
                schema.drop(store, database)
        for store in stores:
            store.close()


def _label(t: Timed) -> str:
    return f"{'tổng quan' if t.dashboard == 'chiso766-tong-quan' else 'đơn vị'}: {t.title}"[:52]


def _figure(ms: float | None, note: str = "-") -> str:
    return f"{ms:,.0f}" if ms is not None else note


def _summary(backends: list[str], results: dict[str, list[Timed]]) -> None:
    """One line per panel and range, every engine side by side (a markdown table): the panel as
    the dashboards send it (wall and CPU ms), built to read every hour, and that on the view."""
    heads = " | ".join(f"{b} ms | CPU ms | per hour | view" for b in backends)
    print(f"\n| panel | range | {heads} |")
    print(f"|---|---|{'---|---|---|---|' * len(backends)}")
    slow, notes = [], set()
    for row in zip(*(results[b] for b in backends), strict=True):
        cells = []
        for backend, t in zip(backends, row, strict=True):
            cells += [f"{t.ms:,.0f}", f"{t.cpu_ms:,.0f}", _figure(t.hours_ms, "="),
                      _figure(t.baseline_ms, "*")]  # fmt: skip
            if t.baseline_ms is None:
                notes.add(f"{backend}: {t.baseline_note}")
            if t.ms > TARGET_MS:
                slow.append(f"{_label(t)} ({t.span}, {backend}: {t.ms:.0f} ms)")
        print(f"| {_label(row[0])} | {row[0].span} | {' | '.join(cells)} |")
    print("\n= reads hours only already; * no view figure: " + "; ".join(sorted(notes)))
    print(f"load average {' '.join(f'{x:.1f}' for x in os.getloadavg())} (1, 5, 15 min)")
    print("every panel within 150 ms on every engine" if not slow else
          f"over 150 ms: {'; '.join(slow)}")  # fmt: skip


if __name__ == "__main__":
    main()
