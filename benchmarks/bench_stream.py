"""Whole-path benchmark: Kafka -> worker -> ClickHouse, beside the contenders doing the same job.

Prints, from one run on this machine:
  * contenders over the same pre-loaded topics, each with a fresh consumer group, several rounds
    with their order rotated, min and median events/s and CPU-µs per event (process CPU time,
    all threads, from the first message to the last):
      - bare aiokafka consumer + contract decode: the ceiling of this path;
      - Quix Streams doing the same stateful job (per-dossier state in RocksDB, hourly counts
        in memory; benchmark-only extra: ``pip install -e .[bench]``);
      - the chiso766 worker, storing and committing as in production;
      - a naive Faust agent, one event at a time, one insert per update;
  * p50/p99 latency from produce (Kafka timestamp) to rows stored at a fixed rate;
  * with --year, a simulated province-year (~1M dossiers): rate, CPU and the worker's peak RSS.

Each contender runs in its own child process so that its memory and CPU time are its own.

    .venv/bin/python benchmarks/bench_stream.py                 # ~5 minutes
    .venv/bin/python benchmarks/bench_stream.py --store server  # ClickHouse server instead of chdb
    .venv/bin/python benchmarks/bench_stream.py --year          # + the province-year run
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing
import os
import queue
import shutil
import statistics
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


# --- child processes: each contender reads the same pre-loaded topics with a fresh group ----
def _peak_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _thread_cpu_s() -> dict[str, float]:
    """CPU seconds of each thread of this process (user + system), keyed by ``name:tid``."""
    ticks = os.sysconf("SC_CLK_TCK")
    found: dict[str, float] = {}
    for task in Path("/proc/self/task").iterdir():
        with contextlib.suppress(OSError):
            text = (task / "stat").read_text()
            name = text[text.index("(") + 1 : text.rindex(")")]
            fields = text[text.rindex(")") + 2 :].split()
            found[f"{name}:{task.name}"] = (int(fields[11]) + int(fields[12])) / ticks
    return found


def cpu_by_thread_kind(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    """CPU seconds between two ``_thread_cpu_s`` readings, summed by thread name (chdb and
    ClickHouse name their pools; Python threads are all ``python``)."""
    kinds: dict[str, float] = {}
    for key, seconds in after.items():
        name = key.rpartition(":")[0]
        kinds[name] = kinds.get(name, 0.0) + seconds - before.get(key, 0.0)
    return {name: s for name, s in sorted(kinds.items(), key=lambda kv: -kv[1]) if s > 0}


class Meter:
    """Events/s and CPU-µs per event of this process, from its first message to its last."""

    def __init__(self) -> None:
        self.messages = 0
        self._wall0 = self._cpu0 = 0.0
        self._threads0: dict[str, float] = {}
        self._started = False

    def start(self) -> None:
        """Start the clocks (once): when the first messages arrive, before any work on them."""
        if not self._started:
            self._wall0, self._cpu0 = time.monotonic(), time.process_time()
            self._threads0 = _thread_cpu_s()
            self._started = True

    def add(self, count: int) -> None:
        self.start()
        self.messages += count

    def figures(self, **extra: Any) -> dict[str, Any]:
        wall_s = max(time.monotonic() - self._wall0, 1e-9)
        cpu_s = time.process_time() - self._cpu0
        per_event = 1e6 / max(self.messages, 1)
        threads = cpu_by_thread_kind(self._threads0, _thread_cpu_s())
        return {"messages": self.messages, "events_per_s": self.messages / wall_s,
                "cpu_us_per_event": cpu_s * per_event,
                "cpu_us_by_thread": {name: s * per_event for name, s in threads.items()},
                "peak_rss_mb": _peak_rss_mb(), **extra}  # fmt: skip


def run_worker(
    settings: Settings, group: str | None, expected: int, keep_latencies: bool, results: Any
) -> None:
    """The real worker (storing, then committing, as in production) until ``expected`` messages."""

    from streams.entry import assemble
    from streams.logs import new_runner

    worker = assemble(settings, group=group)
    worker.counters.keep_latencies = keep_latencies
    runner = new_runner(worker.app, loglevel="error", redirect_stdouts=False)
    meter = Meter()
    metered_from_first_fetch(worker.app, meter)

    @worker.app.timer(0.05)
    async def watch() -> None:
        counters = worker.counters
        if counters.messages > meter.messages:
            meter.add(counters.messages - meter.messages)
        if counters.messages >= expected:
            latencies = sorted(counters.latencies_s)
            results.put(meter.figures(
                batches=counters.batches, accepted=counters.accepted,
                dead_letters=counters.dead_letters,
                p50_s=latencies[len(latencies) // 2] if latencies else None,
                p99_s=latencies[int(len(latencies) * 0.99)] if latencies else None))  # fmt: skip
            await runner.stop()

    runner.execute_from_commandline()


def metered_from_first_fetch(app: Any, meter: Meter) -> None:
    """Start the meter when the first fetch reaches the worker's handler, so that the work on
    that fetch is measured too (the counters only move once a fetch is stored)."""
    handle = app.fetch_handler

    def metered(batch: Any) -> object:
        meter.start()
        return handle(batch)

    app.fetch_handler = metered


def run_bare(settings: Settings, group: str, expected: int, results: Any) -> None:
    """The ceiling of this path: a bare aiokafka consumer and the contract decode, nothing else."""
    import asyncio

    from aiokafka import AIOKafkaConsumer

    from pipeline.errors import DecodeError
    from pipeline.events import decode_event

    async def consume() -> None:
        consumer = AIOKafkaConsumer(
            *(settings.topic(name) for name in broker.INPUT_TOPICS),
            bootstrap_servers=settings.bootstrap_servers, group_id=group,
            auto_offset_reset="earliest", max_partition_fetch_bytes=4 * 1024 * 1024,
        )  # fmt: skip
        await consumer.start()
        meter = Meter()
        try:
            while meter.messages < expected:
                fetched = await consumer.getmany(timeout_ms=500, max_records=20_000)
                for records in fetched.values():
                    meter.add(len(records))
                    for record in records:
                        with contextlib.suppress(DecodeError):
                            decode_event(record.value)
        finally:
            await consumer.stop()
        results.put(meter.figures())

    asyncio.run(consume())


def run_quix(settings: Settings, group: str, expected: int, results: Any) -> None:
    """Quix Streams doing the same stateful job its idiomatic way: per-dossier state in its
    RocksDB store (keyed by dossier, one store per input topic), hourly counts in memory."""
    from quixstreams import Application, State

    from pipeline.dossier import DossierState, apply
    from pipeline.errors import DecodeError
    from pipeline.reference import load_reference
    from pipeline.validation import accept_event

    reference = load_reference(settings)
    is_document = reference.result_is_document.__getitem__
    hourly: dict[tuple[str, int], int] = {}
    meter = Meter()
    with tempfile.TemporaryDirectory() as state_dir:
        app = Application(
            broker_address=settings.bootstrap_servers, consumer_group=group,
            auto_offset_reset="earliest", state_dir=state_dir, loglevel="ERROR",
            consumer_poll_timeout=0.05, use_changelog_topics=False,
        )  # fmt: skip

        def fold(raw: bytes, state: State) -> None:
            meter.add(1)
            try:
                event = accept_event(raw, reference, None, settings.late_horizon_days)
            except DecodeError:
                return
            dossier = DossierState(event.dossier_id)
            stored = state.get("dossier")
            if stored is not None:
                dossier = DossierState(*stored)
            if apply(dossier, event, is_document):
                state.set("dossier", list(dossier.to_row()))
                key = (dossier.unit_code, dossier.received_ms // 3_600_000)
                hourly[key] = hourly.get(key, 0) + 1
            if meter.messages >= expected:
                results.put(meter.figures())
                app.stop()

        for name in broker.INPUT_TOPICS:
            topic = app.topic(settings.topic(name), value_deserializer="bytes",
                              key_deserializer="bytes")  # fmt: skip
            app.dataframe(topic).update(fold, stateful=True)
        app.run()


def run_naive(settings: Settings, group: str, expected: int, results: Any) -> None:
    """The design the batch worker replaced: a Faust agent that decodes one event at a time
    (``async for`` over the stream) and writes each changed dossier to the store at once."""
    import faust

    from pipeline.dossier import DossierState, apply
    from pipeline.errors import DecodeError
    from pipeline.reference import load_reference
    from pipeline.validation import accept_event
    from sinks import schema
    from sinks.store import open_store
    from streams.app import input_topic
    from streams.logs import new_runner

    reference = load_reference(settings)
    store = open_store(settings)
    schema.migrate(store, settings.database)
    app = faust.App(group, broker=f"kafka://{settings.bootstrap_servers}", store="memory://",
                    autodiscover=False, web_enabled=False, consumer_auto_offset_reset="earliest")  # fmt: skip
    states: dict[str, DossierState] = {}
    meter = Meter()

    @app.agent(input_topic(app, settings), name="naive")
    async def naive(stream: faust.StreamT) -> None:
        async for raw in stream:
            meter.add(1)
            try:
                event = accept_event(raw, reference, None, settings.late_horizon_days)
            except DecodeError:
                continue
            state = states.setdefault(event.dossier_id, DossierState(event.dossier_id))
            if apply(state, event, reference.result_is_document.__getitem__):
                store.insert(f"{settings.database}.dossier_state", schema.DOSSIER_STATE_COLUMNS,
                             [state.to_row()])  # fmt: skip

    runner = new_runner(app, loglevel="error", redirect_stdouts=False)

    @app.timer(0.05)
    async def watch() -> None:
        if meter.messages >= expected:
            results.put(meter.figures())
            await runner.stop()

    runner.execute_from_commandline()


def in_child(target: Any, *args: Any, timeout_s: float = 3600) -> dict[str, Any]:
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    child = context.Process(target=target, args=(*args, results))
    child.start()
    deadline = time.monotonic() + timeout_s
    try:
        while True:
            with contextlib.suppress(queue.Empty):
                return results.get(timeout=1.0)
            if not child.is_alive():  # it died (an import error, a crash) without a result
                raise RuntimeError(f"{target.__name__} exited with code {child.exitcode}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"{target.__name__} gave no result in {timeout_s:.0f} s")
    finally:
        child.join(timeout=60)
        if child.is_alive():
            child.kill()


# --- parent: data and orchestration ---------------------------------------------------------
def wait_until_worker_joined(settings: Settings, timeout_s: float = 300) -> None:
    """Wait until the worker's consumer group is stable with a member: a worker starting on a
    new namespace migrates its schema first, which takes a while on a busy machine."""
    group = settings.group("worker")
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        described = broker.describe_group(settings, group)
        if described["group_state"] == "Stable" and described["members"]:
            time.sleep(2)  # the first fetch request after the assignment
            return
        time.sleep(0.5)
    raise TimeoutError(f"no worker joined {group} within {timeout_s:.0f} s")


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


def accepting_paced(settings: Settings) -> Settings:
    """Settings whose worker accepts the paced lines. They are stamped with the time they are
    sent, but their events happened on the generated days (from ``DEFAULT_START``): with the
    default late horizon every one of them would be a ``too_late`` dead letter once those days
    are more than 400 days old, and the run would measure no stored dossier at all."""
    from datetime import date

    from pipeline.generator import DEFAULT_START

    age_days = (date.today() - DEFAULT_START).days + 8
    return settings.replace(late_horizon_days=max(settings.late_horizon_days, age_days))


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


MADE: list[str] = []
"""Namespaces and consumer groups this run made: ``clean_up`` deletes what they left behind."""


def fresh(base: Settings, label: str, chdb_root: Path) -> Settings:
    namespace = f"bench-{label}-{uuid.uuid4().hex[:6]}"
    MADE.append(namespace)
    return base.replace(namespace=namespace, chdb_path=str(chdb_root / label))


def new_group(label: str) -> str:
    group = f"bench-{label}-{uuid.uuid4().hex[:8]}"
    MADE.append(group)
    return group


def clean_up(base: Settings, chdb_root: Path) -> None:
    """Delete the run's topics (its namespaces', and those Faust and Quix Streams name after a
    consumer group), its server databases and its embedded stores: left behind, thousands of
    partitions slow every later start of the broker."""
    broker.delete_topics(base, lambda topic: any(made in topic for made in MADE))
    if base.store == "server":
        from sinks.store import open_store

        server = open_store(base)
        try:
            for made in MADE:
                server.execute(f"DROP DATABASE IF EXISTS {made.replace('-', '_')}")
        finally:
            server.close()
    shutil.rmtree(chdb_root, ignore_errors=True)


def contender_rounds(
    base: Settings,
    chdb_root: Path,
    days: int,
    rounds: int,
    naive_events: int,
    only: set[str] | None = None,
) -> dict[str, list[dict[str, Any]]]:
    """Pre-load the topics once; each round runs every contender with a fresh consumer group,
    rotating their order so that no contender always runs first (or last) on a warm machine."""
    if only is not None and not only & {"decode", "streams", "worker", "agent"}:
        return {}
    loaded = fresh(base, "contenders", chdb_root)
    total = generate_to_kafka(loaded, "province", "2024-06-03", days)
    print(f"pre-loaded     : {total:,} messages ({days} province days) in {loaded.namespace}")
    contenders: dict[str, Any] = {
        "bare aiokafka + decode": lambda: in_child(run_bare, loaded, new_group("bare"), total),
        "quix streams": lambda: in_child(run_quix, loaded, new_group("quix"), total),
        "chiso766 worker": lambda: in_child(
            run_worker,
            loaded.replace(chdb_path=str(chdb_root / uuid.uuid4().hex)),
            new_group("worker"),
            total,
            False,
        ),  # fmt: skip
        "naive faust agent": lambda: in_child(
            run_naive,
            loaded.replace(chdb_path=str(chdb_root / uuid.uuid4().hex)),
            new_group("naive"),
            min(naive_events, total),
        ),  # fmt: skip
    }
    names = [name for name in contenders if only is None or name.split()[-1] in only]
    figures: dict[str, list[dict[str, Any]]] = {name: [] for name in names}
    for round_no in range(rounds):
        order = names[round_no % len(names) :] + names[: round_no % len(names)]
        for name in order:
            figures[name].append(contenders[name]())
            last = figures[name][-1]
            batches = (
                f", {last['messages'] / last['batches']:,.0f} messages per stored batch"
                if last.get("batches")
                else ""
            )
            print(f"  round {round_no + 1} {name:<24}: {last['events_per_s']:>9,.0f} events/s, "
                  f"{last['cpu_us_per_event']:>5.1f} CPU-µs/event{batches}")  # fmt: skip
            threads = ", ".join(
                f"{thread} {us:.1f}" for thread, us in list(last["cpu_us_by_thread"].items())[:6]
            )
            print(f"    CPU-µs/event by thread: {threads}")
    return figures


def print_table(figures: dict[str, list[dict[str, Any]]]) -> None:
    runs_of_worker = figures.get("chiso766 worker") or [{"events_per_s": float("nan")}]
    worker = statistics.median(r["events_per_s"] for r in runs_of_worker)
    print(f"\n{'contender':<24} {'events/s min':>13} {'median':>9} {'CPU-µs/event':>13} "
          f"{'worker / it':>11}")  # fmt: skip
    for name, runs in figures.items():
        rates = [r["events_per_s"] for r in runs]
        cpu = statistics.median(r["cpu_us_per_event"] for r in runs)
        median = statistics.median(rates)
        print(f"{name:<24} {min(rates):>13,.0f} {median:>9,.0f} {cpu:>13.1f} "
              f"{worker / median:>10.2f}x")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--store", choices=["embedded", "server"], default="embedded")
    parser.add_argument("--days", type=int, default=5, help="province days pre-loaded")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--naive-events", type=int, default=4000)
    parser.add_argument("--latency-rate", type=int, default=2000)
    parser.add_argument("--latency-seconds", type=int, default=20)
    parser.add_argument("--skip-latency", action="store_true")
    parser.add_argument(
        "--year", action="store_true", help="also stream a province-year for peak RSS"
    )
    parser.add_argument(
        "--only",
        help="comma-separated contenders to run, by last word: decode,streams,worker,agent; "
        "empty for none (default: all; the ratios need worker, streams and decode)",
    )
    args = parser.parse_args()

    base = Settings.resolve({"store": args.store})
    from pipeline.stack.clickhouse import LocalClickHouse
    from pipeline.stack.kafka import LocalKafka

    LocalKafka(base).up()
    if args.store == "server":
        LocalClickHouse(base).up()
    chdb_root = Path(tempfile.mkdtemp(prefix="chiso766-bench-"))
    print(f"store: {args.store}; machine: {multiprocessing.cpu_count()} cores, "
          f"broker and ClickHouse on it")  # fmt: skip

    try:
        run(args, base, chdb_root)
    finally:
        clean_up(base, chdb_root)


def run(args: argparse.Namespace, base: Settings, chdb_root: Path) -> None:
    only = set(args.only.split(",")) if args.only is not None else None
    figures = contender_rounds(base, chdb_root, args.days, args.rounds, args.naive_events, only)
    if figures:
        print_table(figures)

    if not args.skip_latency:
        settings = accepting_paced(fresh(base, "latency", chdb_root))
        messages = paced_lines(settings, args.latency_rate * args.latency_seconds)
        broker.ensure_topics(settings)
        results: dict[str, Any] = {}
        runner = threading.Thread(
            target=lambda: results.update(
                in_child(run_worker, settings, None, len(messages), True)
            ),
            daemon=True,  # an error in this thread must not leave the run waiting on the worker
        )
        runner.start()
        wait_until_worker_joined(settings)  # the clock starts when the worker can consume
        produce_paced(settings, messages, args.latency_rate)
        runner.join()
        print(f"\nlatency        : {results['batches']} batches; p50 {results['p50_s']:.2f} s, "
              f"p99 {results['p99_s']:.2f} s at {args.latency_rate:,} events/s for "
              f"{args.latency_seconds} s (produce -> rows stored and refreshed; "
              f"{results['accepted']:,} accepted, {results['dead_letters']:,} dead letters)")  # fmt: skip

    if args.year:
        settings = fresh(base, "year", chdb_root)
        total = generate_to_kafka(settings, "province", "2024-01-01", 366)
        year = in_child(run_worker, settings, None, total, False, timeout_s=4 * 3600)
        print(f"province-year  : {total:,} messages at {year['events_per_s']:,.0f} events/s, "
              f"{year['cpu_us_per_event']:.0f} CPU-µs/event, peak RSS {year['peak_rss_mb']:.0f} MiB")  # fmt: skip


if __name__ == "__main__":
    main()
