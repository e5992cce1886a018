"""Drive the real worker as a process: produce lines, run `python -m pipeline worker`, wait, read back.

Everything goes through the product's own entry points (the CLI) and the real broker; results
are read back with `chiso766 rates --granularity hour --json`, i.e. through a second process.
"""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterable, Sequence
from datetime import date
from pathlib import Path

from pipeline import broker
from pipeline.generator.noise import Noise
from pipeline.generator.profile import profile_named
from pipeline.generator.stream import QUIET, generate_batches
from pipeline.reference import load_reference
from pipeline.settings import Settings
from pipeline.validation import meaning_problem
from sinks.server import ServerStore
from tests.oracle import recompute

REPO = Path(__file__).resolve().parents[1]


def settings_flags(settings: Settings) -> list[str]:
    flags = [
        "--namespace", settings.namespace,
        "--store", settings.store,
        "--kafka-port", str(settings.kafka_port),
        "--clickhouse-port", str(settings.clickhouse_port),
        "--chdb-path", str(settings.chdb_dir),
    ]  # fmt: skip
    if settings.kafka_bootstrap:
        flags += ["--kafka-bootstrap", settings.kafka_bootstrap]
    return flags


Record = bytes | None | tuple[bytes | None, int | None]
"""A message (None: a tombstone), or (message, record timestamp in epoch ms; None: now)."""


def produce(
    settings: Settings, records: Sequence[Record], keying: str = "dossier", seed: int = 7
) -> None:
    """Send records to their input topics. ``keying``: by dossier_id, ``none``, or ``random`` keys."""
    rng = random.Random(seed)
    broker.ensure_topics(settings)
    producer = broker.new_producer(settings)
    try:
        for record in records:
            raw, timestamp_ms = record if isinstance(record, tuple) else (record, None)
            try:
                payload = json.loads(raw) if raw is not None else None
            except (ValueError, RecursionError):
                payload = None
            event_type = payload.get("type") if isinstance(payload, dict) else None
            topic = settings.topic(broker.topic_for_type(str(event_type or "")))
            key = None
            if keying == "dossier" and isinstance(payload, dict):
                key = str(payload.get("dossier_id", "")).encode()
            elif keying == "random" or raw is None:  # a tombstone needs a key
                key = rng.randbytes(6)
            producer.send(topic, key=key, value=raw, timestamp_ms=timestamp_ms)
        producer.flush()
    finally:
        producer.close()


def start_worker(settings: Settings, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with open(log, "ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "pipeline", "worker", *settings_flags(settings)],
            cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip


def stop(
    process: subprocess.Popen[bytes], sig: int = signal.SIGTERM, timeout_s: float = 60
) -> None:
    if process.poll() is None:
        process.send_signal(sig)
    process.wait(timeout=timeout_s)


def input_offsets(settings: Settings) -> tuple[int, int]:
    return broker.input_progress(settings)


def wait_until_consumed(
    settings: Settings, workers: Iterable[subprocess.Popen[bytes]], timeout_s: float = 180
) -> None:
    """Block until the worker group has committed every input message (i.e. stored its rows)."""
    deadline = time.monotonic() + timeout_s
    workers = list(workers)
    while time.monotonic() < deadline:
        for worker in workers:
            if worker.poll() is not None:
                raise AssertionError(f"worker exited with {worker.returncode} before finishing")
        end, done = input_offsets(settings)
        if end and done >= end:
            return
        time.sleep(1.0)
    raise AssertionError(
        f"workers did not consume everything in {timeout_s} s: {input_offsets(settings)}"
    )


def archived_events(settings: Settings) -> int:
    """Rows in the raw archive right now (server store), read with a plain query."""
    store = ServerStore(settings.clickhouse_host, settings.clickhouse_port)
    try:
        return int(store.query(f"SELECT count() FROM {settings.database}.events_raw")[0][0])
    finally:
        store.close()


def wait_for_archive(settings: Settings, more_than: int, timeout_s: float = 120) -> None:
    """Return as soon as the archive holds more than ``more_than`` rows (polls every 10 ms)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if archived_events(settings) > more_than:
            return
        time.sleep(0.01)
    raise AssertionError(f"the archive did not grow past {more_than} rows in {timeout_s} s")


def hourly_from_cli(settings: Settings) -> list[dict[str, object]]:
    """What `chiso766 rates --granularity hour --json` prints, as dicts, sorted."""
    out = subprocess.run(
        [sys.executable, "-m", "pipeline", "rates", *settings_flags(settings), "--granularity", "hour",
         "--from", "2000-01-01", "--to", "2100-01-01", "--json"],
        cwd=REPO, capture_output=True, check=True, timeout=120,
    )  # fmt: skip
    rows = [json.loads(line) for line in out.stdout.decode().splitlines() if line.strip()]
    return sorted(rows, key=lambda r: (r["unit_code"], r["indicator"], r["bucket_start"]))


def dead_letters(settings: Settings, timeout_s: float = 10) -> list[tuple[bytes, str, str]]:
    """(original bytes, kind, reason) of every message on the namespace's dead-letter topic."""
    from kafka import KafkaConsumer

    consumer = KafkaConsumer(
        settings.topic(broker.DEAD_LETTERS),
        bootstrap_servers=settings.bootstrap_servers,
        auto_offset_reset="earliest",
        consumer_timeout_ms=int(timeout_s * 1000),
    )
    try:
        out = []
        for message in consumer:
            headers = dict(message.headers)
            out.append(
                (
                    message.value,
                    headers[broker.HEADER_KIND].decode(),
                    headers[broker.HEADER_REASON].decode(),
                )
            )
        return out
    finally:
        consumer.close()


def spare_port() -> int:
    """A TCP port free on 127.0.0.1 right now (for a stack of a test's own)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


REFERENCE = load_reference()


def emitted_records(
    seed: int, days: int, profile: str, noise: Noise = QUIET
) -> list[tuple[bytes, int]]:
    """Generated days from 2024-06-03 as ``generate`` puts them on Kafka: each line with its
    emission time (epoch ms) as the record timestamp, in emission order."""
    batches = generate_batches(REFERENCE, seed=seed, start=date(2024, 6, 3), days=days,
                               profile=profile_named(profile), noise=noise)  # fmt: skip
    return [
        (line.encode(), int(emitted_s * 1000))
        for batch in batches
        for emitted_s, line, _, _ in batch.items
    ]


def clean_expected(records: Sequence[tuple[bytes, int]]) -> list[dict[str, object]]:
    """The independent recomputation's hourly rows of a stream without poison."""
    result = recompute(
        records,
        units=REFERENCE.unit_codes,
        result_is_document=REFERENCE.result_is_document,
        semantic_check=lambda event: meaning_problem(event, REFERENCE),
    )
    assert not result.rejected, f"this stream should hold no poison: {result.rejected}"
    return result.rows()
