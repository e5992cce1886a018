"""Scale-out benchmark: 1, 2, 4 workers of one consumer group sharing the partitions, server store.

The topics are pre-loaded once; for each worker count a fresh consumer group reads all of them,
every worker in its own process (as in production, each storing into the ClickHouse server and
committing after its rows are stored). Prints, per worker count: events/s in all (all messages
over the time from the first message any worker saw to the moment the last one was stored),
and each worker's share, events/s and CPU-µs per event. The 1-worker line is the baseline.

The workers start together (a barrier after each has assembled its app) so that they join the
group within the broker's initial rebalance delay and share the partitions from the start.

    .venv/bin/python benchmarks/bench_scale.py                  # 1, 2, 4 workers, 6 province days
    .venv/bin/python benchmarks/bench_scale.py --workers 1 2 --days 3
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_stream import (  # noqa: E402
    Meter,
    fresh,
    generate_to_kafka,
    metered_from_first_fetch,
    new_group,
)

from pipeline.settings import Settings  # noqa: E402


def run_shared_worker(
    settings: Settings, group: str, expected: int, stored: Any, ready: Any, results: Any
) -> None:
    """One worker of the group; it stops when the group as a whole has stored ``expected``.

    All workers start together (``ready``, a barrier) so that they join within the broker's
    initial rebalance delay and share the partitions from the first fetch: otherwise the one
    that happens to start first reads most of the backlog alone.
    """
    from streams.entry import assemble
    from streams.logs import new_runner

    worker = assemble(settings, group=group)
    ready.wait()
    runner = new_runner(worker.app, loglevel="error", redirect_stdouts=False)
    meter = Meter()
    metered_from_first_fetch(worker.app, meter)
    first_s: list[float] = []
    handle = worker.app.fetch_handler

    def noting_the_first_fetch(batch: Any) -> object:
        if not first_s:
            first_s.append(time.time())
        return handle(batch)

    worker.app.fetch_handler = noting_the_first_fetch

    @worker.app.timer(0.05)
    async def watch() -> None:
        counters = worker.counters
        if counters.messages > meter.messages:
            with stored.get_lock():
                stored.value += counters.messages - meter.messages
            meter.add(counters.messages - meter.messages)
        if stored.value >= expected:
            results.put(meter.figures(first_s=first_s[0] if first_s else None, last_s=time.time()))
            await runner.stop()

    runner.execute_from_commandline()


def run_group(settings: Settings, count: int, expected: int) -> list[dict[str, Any]]:
    context = multiprocessing.get_context("spawn")
    stored = context.Value("q", 0)
    ready = context.Barrier(count)
    results = context.Queue()
    group = new_group(f"scale{count}")
    workers = [
        context.Process(
            target=run_shared_worker, args=(settings, group, expected, stored, ready, results)
        )
        for _ in range(count)
    ]
    for worker in workers:
        worker.start()
    try:
        return [results.get(timeout=1800) for _ in workers]
    finally:
        for worker in workers:
            worker.join(timeout=60)
            if worker.is_alive():
                worker.kill()


def cpu_s(pid: int | None) -> float:
    """CPU seconds (user + system) a process has used so far; 0 when it cannot be read."""
    if pid is None:
        return 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--days", type=int, default=6, help="province days pre-loaded")
    args = parser.parse_args()

    base = Settings.resolve({"store": "server"})
    from pipeline.stack.clickhouse import LocalClickHouse
    from pipeline.stack.kafka import LocalKafka
    from pipeline.stack.process import read_pid

    kafka, clickhouse = LocalKafka(base), LocalClickHouse(base)
    kafka.up()
    clickhouse.up()
    services = {
        "ClickHouse server": read_pid(clickhouse.pid_path),
        "broker": read_pid(kafka.pid_path),
    }
    with open("/proc/loadavg") as loadavg:
        load = loadavg.read().split()[:3]
    print(f"machine: {multiprocessing.cpu_count()} cores, broker and ClickHouse server on it; "
          f"load average {' '.join(load)}")  # fmt: skip
    chdb_root = Path(tempfile.mkdtemp(prefix="chiso766-scale-"))
    loaded = fresh(base, "scale", chdb_root)
    total = generate_to_kafka(loaded, "province", "2024-06-03", args.days)
    print(f"pre-loaded: {total:,} messages ({args.days} province days, {loaded.partitions} "
          f"partitions per topic) in {loaded.namespace}")  # fmt: skip
    baseline = None
    for count in args.workers:
        before = {name: cpu_s(pid) for name, pid in services.items()}
        figures = run_group(loaded, count, total)
        used = {name: cpu_s(pid) - before[name] for name, pid in services.items()}
        starts = [f["first_s"] for f in figures if f["first_s"] is not None]
        overall = total / max(max(f["last_s"] for f in figures) - min(starts), 1e-9)
        baseline = baseline or overall
        print(f"\n{count} worker(s): {overall:,.0f} events/s in all "
              f"({overall / baseline:.2f}x the first line), {overall / count:,.0f} per worker")  # fmt: skip
        for number, f in enumerate(sorted(figures, key=lambda f: -f["messages"]), 1):
            print(f"  worker {number}: {f['messages']:>9,} messages, {f['events_per_s']:>8,.0f} "
                  f"events/s while reading, {f['cpu_us_per_event']:>5.0f} CPU-µs/event")  # fmt: skip
        for name, seconds in used.items():  # shared with whatever else uses them: an upper bound
            print(f"  {name}: at most {seconds * 1e6 / total:.0f} CPU-µs/event (CPU of the whole "
                  f"process over the run; other users of the shared stack included)")  # fmt: skip
    with open("/proc/loadavg") as loadavg:
        print(f"\nload average at the end: {' '.join(loadavg.read().split()[:3])}")


if __name__ == "__main__":
    main()
