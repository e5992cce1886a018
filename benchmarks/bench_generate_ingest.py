"""Throughput of ``generate`` (to a file) and ``ingest`` (into Kafka), each beside a plain-json baseline.

Run from the repository root, with a broker up (``chiso766 stack up``, or any at --kafka-port):

    .venv/bin/python benchmarks/bench_generate_ingest.py --kafka-port 19092

What is measured, in one run on the same events:

- generate, ours: the whole simulation (province model, lifecycles, noise off) plus writing
  JSON Lines, ``generate_batches`` -> ``write_jsonl``;
- generate, baseline: only the output stage done the plain way (a dict per event, times made
  with ``datetime.isoformat``, ``json.dumps``, one ``write`` per line) for the same events,
  decoded beforehand and not timed; the baseline does no simulation, which flatters it;
- ingest, ours: read the file, decode and validate each line (msgspec + reference checks),
  route by family keyed by dossier_id, send with the bulk producer, wait for the broker's acks;
- ingest, baseline: ``json.loads`` and a dict check of the same lines, sent one by one with
  kafka-python's ``KafkaProducer.send`` (same batching settings), then ``flush``.

Figures are lines per second of wall time; the machine is shared, so run it twice.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from kafka import KafkaProducer

from pipeline import broker
from pipeline.broker import ensure_topics, topic_for_type
from pipeline.generator import generate_batches, profile_named, write_jsonl
from pipeline.ingest import IngestSummary, route_lines
from pipeline.producing import produce_all
from pipeline.reference import load_reference
from pipeline.settings import Settings

VIETNAM = timezone(timedelta(hours=7))
_TIME_FIELDS = ("occurred_at", "due_at")


_CPU_S: list[float] = []
"""This process's CPU seconds of each timed run, in order (the broker's work is not in it)."""


def timed(work: Callable[[], int]) -> tuple[int, float]:
    """(what ``work`` returns, wall seconds); also records the CPU seconds in _CPU_S."""
    started, cpu = time.perf_counter(), time.process_time()
    count = work()
    _CPU_S.append(time.process_time() - cpu)
    return count, time.perf_counter() - started


def generate_ours(path: Path, profile: str, days: int, seed: int) -> int:
    reference = load_reference()
    batches = generate_batches(
        reference, seed=seed, start=date(2024, 1, 1), days=days, profile=profile_named(profile)
    )
    with path.open("wb", buffering=1 << 20) as out:
        return write_jsonl(batches, out).lines


def baseline_records(path: Path, limit: int) -> list[dict[str, Any]]:
    """The first ``limit`` events as plain values: epoch seconds instead of text times (untimed)."""
    records = []
    with path.open("rb") as handle:
        for number, line in enumerate(handle):
            if number >= limit:
                break
            event = json.loads(line)
            for name in _TIME_FIELDS:
                if name in event:
                    event[name] = int(datetime.fromisoformat(event[name]).timestamp())
            records.append(event)
    return records


def timed_baseline(ours_file: Path, baseline_file: Path, limit: int) -> tuple[int, float]:
    records = baseline_records(ours_file, limit)  # untimed: the baseline gets its events for free
    return timed(lambda: generate_baseline(records, baseline_file))


def generate_baseline(records: list[dict[str, Any]], path: Path) -> int:
    with path.open("w", encoding="utf-8") as out:
        for record in records:
            event = dict(record)
            for name in _TIME_FIELDS:
                if name in event:
                    event[name] = datetime.fromtimestamp(event[name], VIETNAM).isoformat()
            out.write(json.dumps(event, ensure_ascii=False, separators=(",", ":")) + "\n")
    return len(records)


def ingest_ours(path: Path, settings: Settings, limit: int) -> int:
    reference = load_reference()
    summary = IngestSummary()
    now_ms = int(time.time() * 1000)
    with path.open("rb", buffering=1 << 20) as handle:
        lines = (line for number, line in enumerate(handle) if number < limit)
        chunks = route_lines(
            lines,
            reference=reference,
            now_ms=now_ms,
            settings=settings,
            source=path.name,
            summary=summary,
        )
        produce_all(settings, chunks)
    assert summary.bad == 0, summary.reasons
    return summary.good


def ingest_baseline(path: Path, settings: Settings, limit: int) -> int:
    reference = load_reference()
    units, procedures = reference.unit_codes, reference.procedure_codes
    producer = KafkaProducer(
        bootstrap_servers=settings.bootstrap_servers,
        acks=1,
        linger_ms=20,
        batch_size=512 * 1024,
        max_request_size=4 * 1024 * 1024,
    )
    sent = 0
    with path.open("rb") as handle:
        for number, raw in enumerate(handle):
            if number >= limit:
                break
            value = raw.rstrip(b"\n")
            event = json.loads(value)
            ok = (
                isinstance(event, dict)
                and event.get("unit_code") in units
                and event.get("procedure_code") in procedures
            )
            topic = settings.topic(topic_for_type(event["type"]) if ok else "dead-letters")
            producer.send(topic, value=value, key=event["dossier_id"].encode())
            sent += 1
    producer.flush()
    producer.close()
    return sent


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--kafka-port",
        type=int,
        default=None,
        help="local broker port (default: CHISO766_KAFKA_PORT or 9092)",
    )
    parser.add_argument("--kafka-bootstrap", default=None, help="host:port of another broker")
    parser.add_argument(
        "--profile",
        default="province",
        help="generator profile (default: province, 1M dossiers/year)",
    )
    parser.add_argument(
        "--days", type=int, default=120, help="days to generate (default 120, about 2M lines)"
    )
    parser.add_argument(
        "--baseline-generate-lines",
        type=int,
        default=500_000,
        help="lines for the generate baseline",
    )
    parser.add_argument("--seed", type=int, default=766)
    parser.add_argument(
        "--ingest-lines", type=int, default=1_000_000, help="lines to ingest with our path"
    )
    parser.add_argument(
        "--baseline-lines",
        type=int,
        default=150_000,
        help="lines for the slow kafka-python baseline",
    )
    args = parser.parse_args()
    flags = {"kafka_port": args.kafka_port, "kafka_bootstrap": args.kafka_bootstrap}
    settings = Settings.resolve({**flags, "namespace": f"bench-{uuid.uuid4().hex[:8]}"})

    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"load average before the run: {load} ({os.cpu_count()} cores, shared)")
    with tempfile.TemporaryDirectory(prefix="chiso766-bench-") as folder:
        ours_file, baseline_file = Path(folder) / "ours.jsonl", Path(folder) / "baseline.jsonl"
        lines, ours_s = timed(lambda: generate_ours(ours_file, args.profile, args.days, args.seed))
        base_lines, baseline_s = timed_baseline(
            ours_file, baseline_file, args.baseline_generate_lines
        )
        size_mb = ours_file.stat().st_size / 1e6
        print(
            f"generate to file ({args.profile}, {args.days} days from 2024-01-01, {size_mb:,.0f} MB)"
        )
        row(
            "ours: simulation + f-strings in msgspec layout, a write a day",
            lines,
            ours_s,
            _CPU_S[0],
        )
        row(
            "baseline: json.dumps + isoformat, output stage only", base_lines, baseline_s, _CPU_S[1]
        )

        ensure_topics(settings)
        try:
            sent, ingest_s = timed(lambda: ingest_ours(ours_file, settings, args.ingest_lines))
            base_sent, base_s = timed(
                lambda: ingest_baseline(ours_file, settings, args.baseline_lines)
            )
        finally:
            broker.delete_namespace_topics(settings)
        print(f"ingest into Kafka at {settings.bootstrap_servers}")
        row("ours: msgspec decode + validation, aiokafka batches", sent, ingest_s, _CPU_S[2])
        row("baseline: json.loads, kafka-python send per message", base_sent, base_s, _CPU_S[3])


def row(label: str, count: int, wall_s: float, cpu_s: float) -> None:
    print(
        f"  {label:<62} {count / wall_s:>9,.0f} events/s"
        f"  ({count:,} lines in {wall_s:.1f} s; {count / cpu_s:,.0f} per CPU-second of this process)"
    )


if __name__ == "__main__":
    main()
