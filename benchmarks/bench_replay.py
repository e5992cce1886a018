"""Replay throughput: from a file, from the archive and from Kafka, beside baselines from the same run.

Prints, for one set of generated province days:
  * baselines: plain ``orjson.loads`` of every line, contract decoding alone, and the floor of
    any core in Python: contract decoding, the event's time in ms, one dossier lookup and one
    archive row per event, with no checks and no fold (what the core cannot go below);
  * the core alone (``BatchProcessor``: decode, validate, fold) over file records, no store;
  * ``replay`` from the file and from the archive into the embedded store (core + writes +
    hourly refresh), the path ``chiso766 replay --source FILE|archive`` takes;
  * ``replay`` from Kafka (a plain consumer, no group) into the embedded store, beside the live
    worker (Faust, in a child process) consuming the very same topics.

    .venv/bin/python benchmarks/bench_replay.py            # 7 province days, ~2 minutes
    .venv/bin/python benchmarks/bench_replay.py --days 3 --no-kafka --profile
"""

from __future__ import annotations

import argparse
import atexit
import cProfile
import io
import multiprocessing
import pstats
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path

import orjson

from pipeline import broker
from pipeline.errors import DecodeError
from pipeline.events import decode_event, decode_timed
from pipeline.producing import Message, produce_all
from pipeline.reference import Reference, load_reference
from pipeline.replay.kafka_source import open_kafka_source
from pipeline.replay.records import Record, Window, file_records, occurred_ms_of
from pipeline.replay.run import build_processor, fold, replay
from pipeline.settings import Settings
from pipeline.validation import record_ms_for
from sinks import hourly, schema
from sinks.archive import archive_batches
from sinks.store import Store, open_store
from sinks.writer import ResultWriter

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))
BATCH = 20_000


def generate(path: Path, days: int) -> list[bytes]:
    subprocess.run(
        [sys.executable, "-m", "pipeline", "generate", "--profile", "province", "--start",
         "2024-06-03", "--days", str(days), "--out", str(path), "--duplicates", "0.02",
         "--disorder", "0.02", "--bad-fraction", "0.002", "--no-progress"],
        cwd=REPO, check=True, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    return path.read_bytes().splitlines()


def timed(label: str, count: int, run: Callable[[], object]) -> float:
    started = time.perf_counter()
    run()
    seconds = time.perf_counter() - started
    rate = count / seconds
    print(f"{label:<34}: {rate:>10,.0f} events/s  ({count:,} in {seconds:.2f} s)")
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--days", type=int, default=7, help="province days to replay")
    parser.add_argument("--no-kafka", action="store_true", help="skip the Kafka part")
    parser.add_argument("--profile", action="store_true", help="profile the core, print the top")
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="chiso766-bench-replay-"))
    # Registered before the embedded store opens, so it runs after the store closes at exit.
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    base = Settings.resolve({"store": "embedded", "chdb_path": str(folder / "chdb")})
    reference = load_reference(base)
    export = folder / "events.jsonl"
    lines = generate(export, args.days)
    count = len(lines)
    now_ms = int(time.time() * 1000)
    print(f"{count:,} events ({args.days} province days) on {multiprocessing.cpu_count()} cores "
          "shared with the broker, ClickHouse and whatever else runs")  # fmt: skip

    timed("baseline: orjson.loads", count, lambda: [_load(x) for x in lines])
    timed("baseline: contract decode only", count, lambda: [_decode(x) for x in lines])
    timed("baseline: floor (decode+ms+row)", count, lambda: _floor(lines))

    def core_only() -> None:
        processor = build_processor(reference, base.late_horizon_days)
        for records, _ in file_records(lines, "events.jsonl", now_ms, Window(), BATCH):
            fold(processor, records)

    timed("core only (file records, no store)", count, core_only)
    if args.profile:
        profiler = cProfile.Profile()
        profiler.enable()
        core_only()
        profiler.disable()
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(12)
        print(out.getvalue())

    store = open_store(base)
    live = base.replace(namespace=f"bench-live-{uuid.uuid4().hex[:6]}")
    copy = base.replace(namespace=f"bench-copy-{uuid.uuid4().hex[:6]}")

    with export.open("rb") as handle:
        timed("replay file -> embedded store", count,
              into_store(store, live, file_records(handle, "events.jsonl", now_ms, Window(), BATCH),
                         reference, now_ms))  # fmt: skip
    archived = int(store.query(f"SELECT count() FROM {live.database}.events_raw")[0][0])
    timed("replay archive -> embedded store", archived,
          into_store(store, copy, archive_batches(store, live.database, Window()), reference, now_ms))  # fmt: skip

    if not args.no_kafka:
        kafka_part(base, lines, store, reference, now_ms, folder)


def kafka_part(base: Settings, lines: list[bytes], store: Store, reference: Reference,
               now_ms: int, folder: Path) -> None:  # fmt: skip
    from bench_stream import in_child, run_worker

    from pipeline.stack.kafka import LocalKafka

    LocalKafka(base).up()
    source = base.replace(namespace=f"bench-kafka-{uuid.uuid4().hex[:6]}")
    target = source.replace(namespace=source.namespace + "-r")
    try:
        _replay_from_kafka(source, target, lines, store, reference, now_ms)
        worker_settings = source.replace(chdb_path=str(folder / "worker-chdb"))
        result = in_child(run_worker, worker_settings, None, len(lines), False)
        print(f"{'baseline: live worker (Faust)':<34}: {result['events_per_s']:>10,.0f} events/s  "
              f"({result['messages']:,} messages from the same topics)")  # fmt: skip
    finally:
        broker.delete_namespace_topics(source)
        broker.delete_namespace_topics(target)


def _replay_from_kafka(source: Settings, target: Settings, lines: list[bytes], store: Store,
                       reference: Reference, now_ms: int) -> None:  # fmt: skip
    """Produce the lines into ``source``'s topics as history, then replay them into ``target``."""
    broker.ensure_topics(source)
    topics: dict[str, str] = {}
    messages: list[Message] = []
    for raw in lines:
        record_ms = None
        try:
            payload = orjson.loads(raw)
            topic = broker.topic_for_type(str(payload["type"]))
            key = str(payload["dossier_id"]).encode()
            # Loaded as history: the record carries the event's own time, as in a file replay.
            record_ms = record_ms_for(occurred_ms_of(raw), now_ms)
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            topic, key = broker.DOSSIER_EVENTS, None
        full = topics.setdefault(topic, source.topic(topic))
        messages.append((full, key, raw, None, record_ms))
    produce_all(source, [messages])
    kafka = open_kafka_source(
        source.bootstrap_servers,
        [source.topic(t) for t in broker.INPUT_TOPICS],
        Window(),
        batch_size=BATCH,
    )
    try:
        run = into_store(store, target, kafka.batches(), reference, now_ms)
        timed("replay Kafka -> embedded store", kafka.total, run)
    finally:
        kafka.close()


def into_store(store: Store, target: Settings, batches: Iterable[tuple[list[Record], int]],
               reference: Reference, now_ms: int) -> Callable[[], None]:  # fmt: skip
    """What ``chiso766 replay`` does after choosing a source: migrate, replay, refresh."""

    def run() -> None:
        schema.migrate(store, target.database)
        replay(
            batches,
            build_processor(reference, target.late_horizon_days),
            ResultWriter(store, target.database).write,
            None,
            now_ms=now_ms,
            clock_s=time.monotonic,
        )
        hourly.refresh_all(store, target.database)

    return run


def _load(raw: bytes) -> object:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None


def _floor(lines: list[bytes]) -> None:
    """The least any core does per event: decode, time, find the dossier, build its row."""
    last_seen: dict[str, int] = {}
    rows = []
    for raw in lines:
        try:
            event, ts_ms = decode_timed(raw)
        except DecodeError:
            continue
        last_seen[event.dossier_id] = ts_ms
        rows.append((event.event_id, ts_ms, event.unit_code, event.dossier_id,
                     event.procedure_code, raw.decode()))  # fmt: skip


def _decode(raw: bytes) -> object:
    try:
        return decode_event(raw)
    except Exception:
        return None


if __name__ == "__main__":
    main()
