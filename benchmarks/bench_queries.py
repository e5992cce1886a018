"""Dashboard panel queries over a province-year: ``hourly_counts`` against the old view, and freshness.

Loads a generated province-year (~1M dossiers, ~6.5M events) through the worker's decision core
straight into the store (no Kafka: the same snapshots the worker writes, without the raw
archive), builds the aggregates with ``sinks.hourly.refresh_all``, then times every panel query
``--repeat`` times on each engine, once on ``hourly_counts FINAL`` and once with the same query
on the merge-at-read view ``indicator_hourly`` (the baseline), and prints the medians.
Then it runs the real worker (Kafka -> worker -> hourly_counts) at a fixed
rate and prints p50/p99 of Kafka timestamp -> bucket rewritten in ``hourly_counts``.

    .venv/bin/python benchmarks/bench_queries.py                       # both engines, a year
    .venv/bin/python benchmarks/bench_queries.py --days 30 --stores embedded
    .venv/bin/python benchmarks/bench_queries.py --only panels --keep --namespace year \
        --chdb-path /tmp/year                  # keep the loaded year, then freshness on top of it:
    .venv/bin/python benchmarks/bench_queries.py --only freshness --namespace year --chdb-path /tmp/year

The panel list (``PANELS``) is plain SQL on the reader contract, ``{db}.hourly_counts FINAL
WHERE denominator > 0``: replace it with the dashboards' own queries (their macros expanded) and
the baseline is derived by the same text substitution (``baseline_of``).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from pipeline.generator.noise import Noise
from pipeline.generator.profile import profile_named
from pipeline.generator.stream import generate_batches
from pipeline.processing import Incoming, processor_for
from pipeline.reference import load_reference
from pipeline.settings import Settings
from sinks import hourly, schema
from sinks.reference_tables import store_reference
from sinks.store import Store, open_store

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
HOURLY = "{db}.hourly_counts FINAL WHERE denominator > 0"
"""The reader contract every panel uses; ``baseline_of`` swaps it for the view."""
BASELINE = "{db}.indicator_hourly WHERE 1"

_HEADLINE = """SELECT indicator,
    sumIf(numerator, bucket_start >= toDateTime({cur_from})) AS num_now,
    sumIf(denominator, bucket_start >= toDateTime({cur_from})) AS den_now,
    sumIf(numerator, bucket_start < toDateTime({prev_to})) AS num_before,
    sumIf(denominator, bucket_start < toDateTime({prev_to})) AS den_before
FROM HOURLY
  AND ((bucket_start >= toDateTime({cur_from}) AND bucket_start < toDateTime({now}))
       OR (bucket_start >= toDateTime({prev_from}) AND bucket_start < toDateTime({prev_to})))
GROUP BY indicator ORDER BY indicator"""

_ROLLED_UP = """SELECT code, name, n, d, n / d AS rate
FROM (
    SELECT group_code AS code, sum(num) AS n, sum(den) AS d
    FROM (
        SELECT if(level = '{level}', code, parent) AS group_code, num, den
        FROM (
            SELECT unit_code AS code, sum(numerator) AS num, sum(denominator) AS den
            FROM HOURLY AND indicator = 'online_filing'
              AND bucket_start >= toDateTime({month}) AND bucket_start < toDateTime({now})
            GROUP BY code
        ) AS h
        ANY INNER JOIN (SELECT code, level, parent FROM {db}.units FINAL) AS u USING code
        WHERE level = '{level}'
           OR parent IN (SELECT code FROM {db}.units FINAL WHERE level = '{level}')
    ) AS g
    GROUP BY group_code
) AS r
ANY INNER JOIN (SELECT code, name FROM {db}.units FINAL) AS nm USING code
ORDER BY rate, code"""

PANELS: list[tuple[str, str]] = [
    ("headline today vs yesterday",
     _HEADLINE.replace("{cur_from}", "{day}").replace("{prev_from}", "{prev_day}").replace("{prev_to}", "{prev_day_to}")),
    ("headline month-to-date vs month before",
     _HEADLINE.replace("{cur_from}", "{month}").replace("{prev_from}", "{prev_month}").replace("{prev_to}", "{prev_month_to}")),
    ("headline year-to-date vs year before",
     _HEADLINE.replace("{cur_from}", "{year}").replace("{prev_from}", "{prev_year}").replace("{prev_to}", "{prev_year_to}")),
    ("hourly trend today vs same weekday last week",
     """SELECT bucket_start >= toDateTime({day}) AS is_today, toHour(bucket_start) AS hour, indicator,
               sum(numerator), sum(denominator)
        FROM HOURLY
          AND ((bucket_start >= toDateTime({day}) AND bucket_start < toDateTime({now}))
               OR (bucket_start >= toDateTime({week_ago}) AND bucket_start < toDateTime({week_ago_end})))
        GROUP BY is_today, hour, indicator ORDER BY is_today, hour, indicator"""),
    ("ranking of districts this month (with communes, named)", _ROLLED_UP.replace("{level}", "district")),
    ("ranking of departments this month (named)", _ROLLED_UP.replace("{level}", "department")),
    ("children of a district ranked this month",
     """SELECT code, name, n, d, n / d AS rate FROM (
            SELECT unit_code AS code, sum(numerator) AS n, sum(denominator) AS d
            FROM HOURLY AND indicator = 'e_result'
              AND unit_code IN (SELECT code FROM {db}.units FINAL WHERE parent = '{district}')
              AND bucket_start >= toDateTime({month}) AND bucket_start < toDateTime({now})
            GROUP BY code
        ) AS r ANY INNER JOIN (SELECT code, name FROM {db}.units FINAL) AS nm USING code
        ORDER BY rate, code"""),
    ("a district's rates per day, last 90 days",
     """SELECT toDate(bucket_start) AS day, indicator, sum(numerator), sum(denominator)
        FROM HOURLY
          AND (unit_code = '{district}'
               OR unit_code IN (SELECT code FROM {db}.units FINAL WHERE parent = '{district}'))
          AND bucket_start >= toDateTime({days_90}) AND bucket_start < toDateTime({now})
        GROUP BY day, indicator ORDER BY day, indicator"""),
]  # fmt: skip
"""(title, SQL): ``HOURLY`` stands for the reader contract; ``{...}`` are filled by ``times_of``."""


def panel_sql(sql: str) -> str:
    return sql.replace("HOURLY", HOURLY)


def baseline_of(sql: str) -> str:
    """The same query on the merge-at-read view (the baseline)."""
    return sql.replace(HOURLY, BASELINE)


def times_of(now: datetime) -> dict[str, int]:
    """Epoch seconds of the period bounds around ``now`` (local time)."""

    def s(moment: datetime) -> int:
        return int(moment.timestamp())

    day = now.replace(hour=0, minute=0, second=0, microsecond=0)
    month = day.replace(day=1)
    prev_month = (month - timedelta(days=1)).replace(day=1)
    year = month.replace(month=1)
    prev_year = year.replace(year=year.year - 1)
    return {
        "now": s(now),
        "day": s(day),
        "prev_day": s(day - timedelta(days=1)),
        "prev_day_to": s(now - timedelta(days=1)),
        "month": s(month),
        "prev_month": s(prev_month),
        "prev_month_to": s(min(prev_month + (now - month), month)),
        "year": s(year),
        "prev_year": s(prev_year),
        "prev_year_to": s(prev_year + (now - year)),
        "week_ago": s(day - timedelta(days=7)),
        "week_ago_end": s(day - timedelta(days=6)),
        "days_90": s(day - timedelta(days=90)),
    }


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
def time_ms(store: Store, sql: str, repeat: int) -> tuple[float, list[tuple[Any, ...]]]:
    """Median wall milliseconds over ``repeat`` runs (after one warm-up), and the rows."""
    rows = store.query(sql)
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        store.query(sql)
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples), rows


def bench_panels(
    store: Store, database: str, repeat: int, baseline_repeat: int
) -> Iterator[tuple[str, float, float, int]]:
    """Per panel: (title, median ms on hourly_counts, median ms on the view, rows); raises
    SystemExit when the two disagree."""
    newest = store.query(f"SELECT toUInt32(max(bucket_start)) FROM {database}.hourly_counts FINAL")
    now = datetime.fromtimestamp(int(newest[0][0]) + 3600, TZ)
    district = store.query(
        f"SELECT min(code) FROM {database}.units FINAL WHERE level = 'district'"
    )[0][0]
    params = {**times_of(now), "db": database, "district": district}
    for title, sql in PANELS:
        new_sql = panel_sql(sql).format(**params)
        old_sql = baseline_of(panel_sql(sql)).format(**params)
        new_ms, rows = time_ms(store, new_sql, repeat)
        old_ms, old_rows = time_ms(store, old_sql, baseline_repeat)
        if sorted(map(repr, rows)) != sorted(map(repr, old_rows)):
            raise SystemExit(f"{title}: hourly_counts and the view disagree")
        yield title, new_ms, old_ms, len(rows)


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
        )
    )
    runner.start()
    time.sleep(8)  # let the worker join its group before the clock starts
    bench_stream.produce_paced(settings, messages, rate)
    runner.join()
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
    parser.add_argument("--baseline-repeat", type=int, default=3, help="runs of each view query")
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


def run_panels(settings: Settings, backends: list[str], args: argparse.Namespace) -> None:
    stores = [open_store(settings.replace(store=b)) for b in backends]
    database = settings.database
    loaded = all(
        int(s.query(f"SELECT count() FROM system.databases WHERE name = '{database}'")[0][0])
        for s in stores
    )
    print(f"namespace {settings.namespace}: {'reusing the loaded data' if loaded else 'loading'}")
    if not loaded:
        for store in stores:
            schema.migrate(store, database)
        started = time.monotonic()
        events = load_year(
            stores, database, date.fromisoformat(args.start), args.days, args.profile
        )
        print(f"loaded {events:,} events ({args.profile}, {args.days} days) "
              f"in {time.monotonic() - started:.0f} s")  # fmt: skip
        for backend, store in zip(backends, stores, strict=True):
            started = time.monotonic()
            hourly.refresh_all(store, database)
            print(f"{backend}: refresh_all (index + hourly_counts from the view) "
                  f"{time.monotonic() - started:.1f} s")  # fmt: skip
    try:
        for backend, store in zip(backends, stores, strict=True):
            counts = store.query(
                f"SELECT (SELECT count() FROM {database}.dossier_state), "
                f"(SELECT uniqExact(dossier_id) FROM {database}.dossier_state), "
                f"(SELECT count() FROM {database}.hourly_counts)"
            )[0]
            print(f"\n{backend} ({store.server_version()}): {int(counts[0]):,} snapshots of "
                  f"{int(counts[1]):,} dossiers, {int(counts[2]):,} hourly_counts rows")  # fmt: skip
            refresh_ms, written = bench_refresh(store, database, 600, 3)
            print(f"  incremental refresh of the 600 newest dossiers: {refresh_ms:.0f} ms median "
                  f"({written:,} bucket rows written)")  # fmt: skip
            print(f"  {f'panel (median of {args.repeat} runs, view {args.baseline_repeat})':<56} "
                  f"{'hourly_counts':>13} {'view (base)':>12} {'speed-up':>9} {'rows':>6}")  # fmt: skip
            for title, new_ms, old_ms, rows in bench_panels(
                store, database, args.repeat, args.baseline_repeat
            ):
                print(f"  {title:<56} {new_ms:>10.1f} ms {old_ms:>9.1f} ms "
                      f"{old_ms / new_ms:>8.1f}x {rows:>6}", flush=True)  # fmt: skip
    finally:
        if not args.keep:
            for store in stores:
                schema.drop(store, database)
        for store in stores:
            store.close()


if __name__ == "__main__":
    main()
