"""A real worker records its consumer lag in ClickHouse, exactly, and the operations dashboard
shows it.

A fresh group reads a pre-loaded topic: the sample taken when it gets its partitions says the
whole backlog, per partition, and the rows reach 0 once everything is stored. Then the worker
stops, more messages are produced, and the restarted worker's first sample says exactly how
many it had not consumed. Expected figures come from what the test produced and from the
broker's end offsets, never from the worker.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaConsumer, TopicPartition

from dashboards.build import BuildContext, all_dashboards
from dashboards.operations import UID
from dashboards.queries import panel_queries
from pipeline import broker
from pipeline.generator.profile import profile_named
from pipeline.generator.stream import generate_batches
from pipeline.reference import load_reference
from pipeline.settings import Settings
from sinks.store import open_store
from streams.lag import LagBook, Observation
from tests import stream_harness as harness

REFERENCE = load_reference()
Key = tuple[str, int]


def _records() -> list[bytes]:
    batches = generate_batches(REFERENCE, seed=21, start=date(2024, 6, 3), days=1,
                               profile=profile_named("small"))  # fmt: skip
    return [line.encode() for batch in batches for line in batch.lines]


def _end_offsets(settings: Settings) -> dict[Key, int]:
    """Every input partition's end offset, asked of the broker."""
    consumer = KafkaConsumer(bootstrap_servers=settings.bootstrap_servers)
    try:
        partitions = [
            TopicPartition(topic, p)
            for topic in (settings.topic(name) for name in broker.INPUT_TOPICS)
            for p in sorted(consumer.partitions_for_topic(topic) or ())
        ]
        return {(tp.topic, tp.partition): o for tp, o in consumer.end_offsets(partitions).items()}
    finally:
        consumer.close()


def _rows(settings: Settings, since_ms: int = 0) -> list[tuple[Any, ...]]:
    """(topic, partition, recorded_ms, committed, end, peak) of the worker group's rows (read
    while the worker runs: an embedded store is then read through the worker)."""
    store = open_store(settings)
    try:
        return store.query(
            "SELECT topic, partition, recorded_ms, committed_offset, end_offset, peak_lag "
            f"FROM {settings.database}.consumer_offsets "
            f"WHERE consumer_group = '{settings.group('worker')}' AND recorded_ms >= {since_ms} "
            "ORDER BY recorded_ms"
        )
    finally:
        store.close()


def _peaks(rows: list[tuple[Any, ...]]) -> dict[Key, int]:
    peaks: dict[Key, int] = {}
    for topic, partition, _, _, _, peak in rows:
        key = (str(topic), int(partition))
        peaks[key] = max(peaks.get(key, 0), int(peak))
    return peaks


def _wait_for_zero_lag(
    settings: Settings, ends: dict[Key, int], worker: Any, since_ms: int
) -> list[tuple[Any, ...]]:
    """The rows since ``since_ms`` once every partition's newest row says committed = end =
    the broker's end offset (the worker records every 5 s)."""
    deadline = time.monotonic() + 60
    while True:
        assert worker.poll() is None, "the worker exited"
        rows = _rows(settings, since_ms)
        newest = {(str(t), int(p)): (int(c), int(e)) for t, p, _, c, e, _ in rows}
        if newest == {key: (end, end) for key, end in ends.items()}:
            return rows
        assert time.monotonic() < deadline, f"lag rows never reached 0: {newest} vs {ends}"
        time.sleep(1.0)


def _lag_panels(settings: Settings, from_ms: int, to_ms: int) -> Iterator[tuple[str, list[Any]]]:
    dashboards = [d for d in all_dashboards(BuildContext(settings.database, REFERENCE))
                  if d.uid == UID]  # fmt: skip
    store = open_store(settings)
    try:
        for query in panel_queries(dashboards, from_ms, to_ms):
            if "consumer_offsets" in query.sql:
                yield query.title, [dict(zip(query.columns, r, strict=True))
                                    for r in store.query(query.sql)]  # fmt: skip
    finally:
        store.close()


def test_a_partition_gets_a_row_when_its_offsets_change_or_its_minute_has_none() -> None:
    book = LagBook("g")
    minute = 1_717_200_000_000  # a whole minute
    a, b = Observation("t", 0, 10, 50), Observation("t", 1, 7, 7)
    first = book.rows([a, b], minute + 1_000)
    assert first == [("g", "t", 0, minute, minute + 1_000, 10, 50, 40),
                     ("g", "t", 1, minute, minute + 1_000, 7, 7, 0)]  # fmt: skip
    book.written(first)
    assert book.rows([a, b], minute + 6_000) == [], "nothing changed"
    # Partition 0 catches up: its row says lag 0 now, and the minute's peak so far.
    later = book.rows([Observation("t", 0, 50, 50), b], minute + 11_000)
    assert later == [("g", "t", 0, minute, minute + 11_000, 50, 50, 40)]
    # A write that failed is offered again; a new minute gets a row even when unchanged, with
    # the peak of that minute only; a high watermark older than the commit counts as no lag.
    again = book.rows([Observation("t", 0, 50, 50), b], minute + 16_000)
    assert again == [("g", "t", 0, minute, minute + 16_000, 50, 50, 40)]
    book.written(again)
    next_minute = book.rows([Observation("t", 0, 52, 51), b], minute + 61_000)
    assert next_minute == [("g", "t", 0, minute + 60_000, minute + 61_000, 52, 52, 0),
                           ("g", "t", 1, minute + 60_000, minute + 61_000, 7, 7, 0)]  # fmt: skip
    book.forget({("t", 1)})
    assert book.rows([Observation("t", 0, 52, 52)], minute + 62_000)[0][6:] == (52, 0)


@pytest.mark.integration
@pytest.mark.parametrize("backend", ["server", "embedded"])
def test_the_worker_records_its_lag_and_the_backlog_left_while_it_was_stopped(
    kafka_settings: Settings, tmp_path: Path, backend: str
) -> None:
    settings = kafka_settings.replace(store=backend, chdb_path=str(tmp_path / "chdb"), partitions=2)
    records = _records()
    first, second = records[: len(records) // 2], records[len(records) // 2 :]
    log = tmp_path / "worker.log"

    # A fresh group on a pre-loaded topic: the first sample is the whole backlog.
    harness.produce(settings, first)
    started_ms = int(time.time() * 1000)
    worker = harness.start_worker(settings, log)
    try:
        harness.wait_until_consumed(settings, [worker])
        ends_1 = _end_offsets(settings)
        assert sum(ends_1.values()) == len(first)
        rows_1 = _wait_for_zero_lag(settings, ends_1, worker, started_ms)
        assert _peaks(rows_1) == ends_1, "the sample at assignment counts every message"
        # From the start of the minute: rows are bucketed by their minute.
        from_ms = started_ms - started_ms % 60_000
        panels = dict(_lag_panels(settings, from_ms, int(time.time() * 1000) + 1000))
        over_time = panels["Độ trễ tiêu thụ"]
        per_bucket: dict[Any, int] = {}
        for row in over_time:
            per_bucket[row["time"]] = per_bucket.get(row["time"], 0) + row["messages_behind"]
        assert max(per_bucket.values()) == len(first)
        assert {row["topic"] for row in over_time} <= set(broker.INPUT_TOPICS)
        [now] = panels["Độ trễ hiện tại"]
        assert now["messages_behind"] == 0 and now["seconds_since_record"] is not None
    finally:
        harness.stop(worker)

    # Stopped: more messages arrive; the restarted worker's first sample says how many.
    harness.produce(settings, second)
    ends_2 = _end_offsets(settings)
    behind = {key: ends_2[key] - ends_1.get(key, 0) for key in ends_2}
    assert sum(behind.values()) == len(second)
    restarted_ms = int(time.time() * 1000)
    worker = harness.start_worker(settings, log)
    try:
        harness.wait_until_consumed(settings, [worker])
        rows_2 = _wait_for_zero_lag(settings, ends_2, worker, restarted_ms)
        assert _peaks(rows_2) == behind
        [now] = dict(_lag_panels(settings, from_ms, int(time.time() * 1000) + 1000))[
            "Độ trễ hiện tại"
        ]
        assert now["messages_behind"] == 0
    finally:
        harness.stop(worker)
    assert "Traceback" not in log.read_text(errors="replace")
