"""Where a stored batch's time goes on a loaded namespace: process, write, and the refresh of
``hourly_counts`` query by query.

Feeds the freshness run's messages (``bench_stream.paced_lines``: generated province days from
2024-06-03, in emission order) through the worker's own core — processor, writer,
``sinks.hourly.refresh_dossiers`` — in batches of ``--batch`` messages, as the worker would get
them from Kafka, into a namespace loaded by ``bench_queries.py --keep`` (the refresh then works
among a year of data). Every store call is timed: per batch it prints the stages, then per kind
of call the count and the median and total milliseconds.

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
    """A store that records (label, ms, rows) of every call it passes on."""

    def __init__(self, store: Store, database: str) -> None:
        self.store = store
        self.database = database
        self.backend = store.backend
        self.calls: list[tuple[str, float, int]] = []

    def execute(self, sql: str) -> None:
        self._timed(f"execute {self._tables(sql)}", 0, lambda: self.store.execute(sql))

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        rows: list[tuple[Any, ...]] = []

        def run() -> None:
            rows.extend(self.store.query(sql))

        self._timed(f"query {self._tables(sql)}", 0, run)
        self.calls[-1] = (*self.calls[-1][:2], len(rows))
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
        started = time.perf_counter()
        call()
        self.calls.append((label, (time.perf_counter() - started) * 1000, rows))


def profile(settings: Settings, batch: int, batches: int) -> None:
    settings = bench_stream.accepting_paced(settings)
    lines = bench_stream.paced_lines(settings, batch * batches)
    database = settings.database
    store = TimedStore(open_store(settings), database)
    processor = processor_for(load_reference(settings), settings.late_horizon_days)
    writer = ResultWriter(store, database, max_attempts=1)
    refresh_calls: dict[str, list[tuple[float, int]]] = defaultdict(list)
    print(f"{settings.store}, namespace {settings.namespace}, batches of {batch:,} messages")
    print(f"{'batch':>5} {'dossiers':>8} {'process':>8} {'write':>7} {'refresh':>8} "
          f"{'calls':>5}  refresh calls (ms)")  # fmt: skip
    for number in range(batches):
        now_ms = int(time.time() * 1000)
        part = lines[number * batch : (number + 1) * batch]
        incoming = [Incoming(value, f"{topic}[0]@{i}", now_ms) for i, (topic, _, value) in enumerate(part)]  # fmt: skip
        started = time.perf_counter()
        result = processor.process(incoming)
        processed = time.perf_counter()
        writer.write(result, now_ms)
        written = time.perf_counter()
        first_call = len(store.calls)
        hourly.refresh_dossiers(store, database, result.snapshots)
        refreshed = time.perf_counter()
        process_ms, write_ms, refresh_ms = (
            1000 * (processed - started),
            1000 * (written - processed),
            1000 * (refreshed - written),
        )
        calls = store.calls[first_call:]
        for label, ms, rows in calls:
            refresh_calls[label].append((ms, rows))
        dossiers = len({row[0] for row in result.snapshots})
        detail = ", ".join(f"{label.split()[0]} {label.split()[1][:24]} {ms:.0f}"
                           for label, ms, _ in calls)  # fmt: skip
        print(f"{number + 1:>5} {dossiers:>8,} {process_ms:>8.0f} {write_ms:>7.0f} "
              f"{refresh_ms:>8.0f} {len(calls):>5}  {detail}", flush=True)  # fmt: skip
    print(f"\n{'refresh call':<60} {'count':>5} {'median ms':>9} {'total ms':>9} {'rows':>9}")
    for label, samples in sorted(refresh_calls.items(), key=lambda kv: -sum(s for s, _ in kv[1])):
        print(f"{label[:60]:<60} {len(samples):>5} {statistics.median(s for s, _ in samples):>9.0f} "
              f"{sum(s for s, _ in samples):>9.0f} {sum(r for _, r in samples):>9,}")  # fmt: skip
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
