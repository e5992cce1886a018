"""Where a stored batch's time goes on a loaded namespace: process, write, and the refresh of
``hourly_counts`` query by query.

Feeds the freshness run's messages (``bench_stream.paced_lines``: generated province days from
2024-06-03, in emission order) through the worker's own core — processor, writer,
``sinks.hourly.refresh_dossiers`` — in batches of ``--batch`` messages, as the worker would get
them from Kafka, into a namespace loaded by ``bench_queries.py --keep`` (the refresh then works
among a year of data). Every store call is timed, wall and CPU of this process (on the embedded
store that includes the engine's own work): per batch it prints the stages, then per kind of
call the count, median wall and CPU milliseconds and the total.

    .venv/bin/python benchmarks/profile_refresh.py --namespace year --chdb-path /tmp/year \\
        --store embedded --batch 4000 --batches 6

It writes into the namespace what the freshness run would (the same facts again: idempotent).
"""

from __future__ import annotations

import argparse
import re
import statistics
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import Any

import bench_stream

from pipeline.processing import Incoming, processor_for
from pipeline.reference import load_reference
from pipeline.settings import Settings
from sinks import hourly
from sinks.store import Row, Store, open_store
from sinks.writer import ResultWriter


class TimedStore:
    """A store that records (label, wall ms, CPU ms, rows) of every call it passes on. CPU is
    this process's, all threads: on the embedded store it includes the engine's own work, on
    the server only the client's."""

    def __init__(self, store: Store, database: str) -> None:
        self.store = store
        self.database = database
        self.backend = store.backend
        self.calls: list[tuple[str, float, float, int]] = []

    def execute(self, sql: str) -> None:
        self._timed(f"execute {self._tables(sql)}", 0, lambda: self.store.execute(sql))

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        rows: list[tuple[Any, ...]] = []

        def run() -> None:
            rows.extend(self.store.query(sql))

        self._timed(f"query {self._tables(sql)}", 0, run)
        self.calls[-1] = (*self.calls[-1][:3], len(rows))
        return rows

    def insert(self, table: str, columns: Sequence[str], rows: Sequence[Row]) -> None:
        name = table.rsplit(".", 1)[-1]
        self._timed(f"insert {name}", len(rows), lambda: self.store.insert(table, columns, rows))

    def server_version(self) -> str:
        return self.store.server_version()

    def close(self) -> None:
        self.store.close()

    def _tables(self, sql: str) -> str:
        return "+".join(sorted(set(re.findall(rf"\b{self.database}\.(\w+)", sql)))) or "?"

    def _timed(self, label: str, rows: int, call: Callable[[], None]) -> None:
        started, cpu = time.perf_counter(), time.process_time()
        call()
        wall_ms = (time.perf_counter() - started) * 1000
        self.calls.append((label, wall_ms, (time.process_time() - cpu) * 1000, rows))


def profile(settings: Settings, batch: int, batches: int) -> None:
    settings = bench_stream.accepting_paced(settings)
    lines = bench_stream.paced_lines(settings, batch * batches)
    database = settings.database
    store = TimedStore(open_store(settings), database)
    processor = processor_for(load_reference(settings), settings.late_horizon_days)
    writer = ResultWriter(store, database, max_attempts=1)
    per_call: dict[str, list[tuple[float, float, int]]] = defaultdict(list)
    print(f"{settings.store}, namespace {settings.namespace}, batches of {batch:,} messages; "
          "wall ms (CPU ms of this process)")  # fmt: skip
    print(f"{'batch':>5} {'dossiers':>8} {'process':>12} {'write':>12} {'refresh':>12}  "
          "refresh calls")  # fmt: skip
    for number in range(batches):
        now_ms = int(time.time() * 1000)
        part = lines[number * batch : (number + 1) * batch]
        incoming = [Incoming(value, f"{topic}[0]@{i}", now_ms) for i, (topic, _, value) in enumerate(part)]  # fmt: skip
        clocks = [(time.perf_counter(), time.process_time())]
        result = processor.process(incoming)
        clocks.append((time.perf_counter(), time.process_time()))
        first_write = len(store.calls)
        writer.write(result, now_ms)
        clocks.append((time.perf_counter(), time.process_time()))
        first_refresh = len(store.calls)
        hourly.refresh_dossiers(store, database, result.snapshots)
        clocks.append((time.perf_counter(), time.process_time()))
        for stage, first, last in (("write", first_write, first_refresh),
                                   ("refresh", first_refresh, len(store.calls))):  # fmt: skip
            for label, wall_ms, cpu_ms, rows in store.calls[first:last]:
                per_call[f"{stage}: {label}"].append((wall_ms, cpu_ms, rows))
        stages = [
            f"{1000 * (b[0] - a[0]):>5.0f} ({1000 * (b[1] - a[1]):>4.0f})"
            for a, b in zip(clocks, clocks[1:], strict=False)
        ]
        detail = ", ".join(f"{label.split()[0]} {label.split()[1][:22]} {wall_ms:.0f}"
                           for label, wall_ms, _, _ in store.calls[first_refresh:])  # fmt: skip
        dossiers = len({row[0] for row in result.snapshots})
        print(f"{number + 1:>5} {dossiers:>8,} {stages[0]:>12} {stages[1]:>12} {stages[2]:>12}  "
              f"{detail}", flush=True)  # fmt: skip
    print(
        f"\n{'store call':<56} {'count':>5} {'wall ms':>8} {'CPU ms':>7} {'total wall':>10} {'rows':>8}"
    )
    for label, samples in sorted(per_call.items(), key=lambda kv: -sum(s[0] for s in kv[1])):
        print(f"{label[:56]:<56} {len(samples):>5} {statistics.median(s[0] for s in samples):>8.0f} "
              f"{statistics.median(s[1] for s in samples):>7.0f} {sum(s[0] for s in samples):>10.0f} "
              f"{sum(s[2] for s in samples):>8,}")  # fmt: skip
    store.close()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--namespace", required=True, help="a namespace loaded by bench_queries")
    parser.add_argument("--chdb-path", default="", help="its embedded store directory")
    parser.add_argument("--store", choices=["embedded", "server"], default="embedded")
    parser.add_argument("--batch", type=int, default=4000, help="messages per batch")
    parser.add_argument("--batches", type=int, default=6)
    args = parser.parse_args()
    overrides = {"chdb_path": args.chdb_path} if args.chdb_path else {}
    settings = Settings.resolve(overrides).replace(namespace=args.namespace, store=args.store)
    profile(settings, args.batch, args.batches)


if __name__ == "__main__":
    main()
