"""Whole-path benchmark: Kafka -> Faust worker -> ClickHouse, beside a naive per-event baseline.

Prints, from one run on this machine:
  * sustained events/s of the real worker over a backlog of generated province days;
  * the same for a naive Faust agent that decodes one event at a time and writes each update
    to the store at once (the design the batch agent replaces);
  * p50/p99 latency from produce (Kafka timestamp) to queryable (rows stored) at a fixed rate;
  * the worker's peak RSS; with --year, over a simulated province-year (~1M dossiers).

Each worker runs in its own child process so that its memory is its own.

    .venv/bin/python benchmarks/bench_stream.py                 # ~3 minutes
    .venv/bin/python benchmarks/bench_stream.py --store server  # ClickHouse server instead of chdb
    .venv/bin/python benchmarks/bench_stream.py --year          # + the province-year memory run
"""

from __future__ import annotations

import argparse
import multiprocessing
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from pipeline import broker
from pipeline.settings import Settings

REPO = Path(__file__).resolve().parents[1]


# --- child processes ------------------------------------------------------------------------
def _peak_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def run_worker(settings: Settings, expected: int, keep_latencies: bool, results: Any) -> None:
    """Run the real worker until it has processed ``expected`` messages; report figures."""
    import faust

    from streams.entry import assemble

    worker = assemble(settings)
    worker.counters.keep_latencies = keep_latencies
    runner = faust.Worker(worker.app, loglevel="error", quiet=True, redirect_stdouts=False)
    first_seen: list[float] = []

    @worker.app.timer(0.05)
    async def watch() -> None:
        counters = worker.counters
        if counters.messages and not first_seen:
            first_seen.append(time.monotonic() - 0.05)
        if counters.messages >= expected:
            elapsed = time.monotonic() - first_seen[0]
            latencies = sorted(counters.latencies_s)
            results.put(
                {
                    "messages": counters.messages,
                    "events_per_s": counters.messages / elapsed,
                    "p50_s": latencies[len(latencies) // 2] if latencies else None,
                    "p99_s": latencies[int(len(latencies) * 0.99)] if latencies else None,
                    "peak_rss_mb": _peak_rss_mb(),
                    "batches": counters.batches,
                }
            )
            await runner.stop()

    runner.execute_from_commandline()


def run_naive(settings: Settings, expected: int, results: Any) -> None:
    """The baseline: one event at a time, each update written to the store immediately."""
    import faust

    from pipeline.dossier import DossierState, apply
    from pipeline.errors import DecodeError
    from pipeline.events import decode_event
    from pipeline.reference import load_reference
    from pipeline.validation import validate_event
    from sinks import schema
    from sinks.store import open_store
    from streams.app import create_app, input_topic

    reference = load_reference(settings)
    store = open_store(settings)
    schema.migrate(store, settings.database)
    app = create_app(settings)
    states: dict[str, DossierState] = {}
    seen = [0, 0.0]

    @app.agent(input_topic(app, settings), name="naive")
    async def naive(stream: faust.StreamT) -> None:
        async for raw in stream:
            if not seen[0]:
                seen[1] = time.monotonic()
            seen[0] += 1
            try:
                event = validate_event(
                    decode_event(raw), reference, None, settings.late_horizon_days
                )
            except DecodeError:
                continue
            state = states.setdefault(event.dossier_id, DossierState(event.dossier_id))
            if apply(state, event, reference.result_is_document.__getitem__):
                store.insert(
                    f"{settings.database}.dossier_state",
                    schema.DOSSIER_STATE_COLUMNS,
                    [state.to_row()],
                )

    runner = faust.Worker(app, loglevel="error", quiet=True, redirect_stdouts=False)

    @app.timer(0.05)
    async def watch() -> None:
        if seen[0] >= expected:
            results.put({"messages": seen[0], "events_per_s": seen[0] / (time.monotonic() - seen[1]),
                         "peak_rss_mb": _peak_rss_mb()})  # fmt: skip
            await runner.stop()

    runner.execute_from_commandline()


def in_child(target: Any, *args: Any, timeout_s: float = 3600) -> dict[str, Any]:
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    child = context.Process(target=target, args=(*args, results))
    child.start()
    try:
        return results.get(timeout=timeout_s)
    finally:
        child.join(timeout=60)
        if child.is_alive():
            child.kill()


# --- parent: data and orchestration ---------------------------------------------------------
def generate_to_kafka(settings: Settings, profile: str, start: str, days: int) -> int:
    """Produce generated days to the namespace's input topics; return how many messages."""
    subprocess.run(
        [sys.executable, "-m", "pipeline", "generate", "--profile", profile, "--start", start,
         "--days", str(days), "--namespace", settings.namespace, "--kafka-port", str(settings.kafka_port),
         "--duplicates", "0.02", "--disorder", "0.02", "--bad-fraction", "0.002", "--no-progress"],
        cwd=REPO, check=True, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    return broker.input_progress(settings)[0]


def paced_lines(settings: Settings, count: int) -> list[tuple[str, bytes, bytes]]:
    """Generated messages (topic, key, value) for the latency run, read from a generated file."""
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "events.jsonl"
        subprocess.run([sys.executable, "-m", "pipeline", "generate", "--profile", "province",
                        "--days", "7", "--out", str(out), "--no-progress"], cwd=REPO, check=True,
                       stdout=subprocess.DEVNULL)  # fmt: skip
        import orjson

        messages = []
        for line in out.read_bytes().splitlines()[:count]:
            payload = orjson.loads(line)
            topic = settings.topic(broker.topic_for_type(payload["type"]))
            messages.append((topic, payload["dossier_id"].encode(), line))
        return messages


def produce_paced(settings: Settings, messages: list[tuple[str, bytes, bytes]], rate: int) -> None:
    producer = broker.new_producer(settings, linger_ms=5)
    step = max(1, rate // 50)
    started = time.monotonic()
    for first in range(0, len(messages), step):
        for topic, key, value in messages[first : first + step]:
            producer.send(topic, key=key, value=value)
        target = started + (first + step) / rate
        time.sleep(max(0.0, target - time.monotonic()))
    producer.flush()
    producer.close()


def fresh(base: Settings, label: str, chdb_root: Path) -> Settings:
    return base.replace(
        namespace=f"bench-{label}-{uuid.uuid4().hex[:6]}", chdb_path=str(chdb_root / label)
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--store", choices=["embedded", "server"], default="embedded")
    parser.add_argument(
        "--days", type=int, default=5, help="province days in the throughput backlog"
    )
    parser.add_argument("--naive-events", type=int, default=4000)
    parser.add_argument("--latency-rate", type=int, default=2000)
    parser.add_argument("--latency-seconds", type=int, default=20)
    parser.add_argument(
        "--year", action="store_true", help="also stream a province-year for peak RSS"
    )
    args = parser.parse_args()

    base = Settings.resolve({"store": args.store})
    from pipeline.stack.clickhouse import LocalClickHouse
    from pipeline.stack.kafka import LocalKafka

    LocalKafka(base).up()
    if args.store == "server":
        LocalClickHouse(base).up()
    chdb_root = Path(tempfile.mkdtemp(prefix="chiso766-bench-"))
    print(
        f"store: {args.store}; machine: {multiprocessing.cpu_count()} cores, broker and ClickHouse on it"
    )

    settings = fresh(base, "batch", chdb_root)
    total = generate_to_kafka(settings, "province", "2024-06-03", args.days)
    batch = in_child(run_worker, settings, total, False)
    print(f"batch worker   : {batch['events_per_s']:>9,.0f} events/s over {total:,} messages "
          f"({batch['batches']} batches), peak RSS {batch['peak_rss_mb']:.0f} MiB")  # fmt: skip

    settings = fresh(base, "naive", chdb_root)
    generate_to_kafka(settings, "province", "2024-06-03", 1)
    naive = in_child(run_naive, settings, args.naive_events)
    print(f"naive baseline : {naive['events_per_s']:>9,.0f} events/s over {naive['messages']:,} messages "
          f"(per-event agent, one insert per update)")  # fmt: skip
    print(f"speed-up       : {batch['events_per_s'] / naive['events_per_s']:>9.1f} x")

    settings = fresh(base, "latency", chdb_root)
    messages = paced_lines(settings, args.latency_rate * args.latency_seconds)
    broker.ensure_topics(settings)
    results: dict[str, Any] = {}
    runner = threading.Thread(
        target=lambda: results.update(in_child(run_worker, settings, len(messages), True))
    )
    runner.start()
    time.sleep(8)  # let the worker join its group before the clock starts
    produce_paced(settings, messages, args.latency_rate)
    runner.join()
    print(f"latency        : p50 {results['p50_s']:.2f} s, p99 {results['p99_s']:.2f} s at "
          f"{args.latency_rate:,} events/s for {args.latency_seconds} s (produce -> rows stored)")  # fmt: skip

    if args.year:
        settings = fresh(base, "year", chdb_root)
        total = generate_to_kafka(settings, "province", "2024-01-01", 366)
        year = in_child(run_worker, settings, total, False, timeout_s=4 * 3600)
        print(f"province-year  : {total:,} messages at {year['events_per_s']:,.0f} events/s, "
              f"peak RSS {year['peak_rss_mb']:.0f} MiB")  # fmt: skip


if __name__ == "__main__":
    main()
