"""Read a namespace's input topics for a replay with a plain consumer that joins no group.

No consumer group means no rebalance with the live workers and no committed offsets to move:
the replay assigns every partition itself, seeks by time, and stops at the end offsets taken
when it starts, so the run is bounded and a second run reads the same messages.

aiokafka, not kafka-python: its record parsing and CRC checks are compiled, several times
faster than kafka-python's pure-Python ones (benchmarks/bench_replay.py). The consumer runs on
a private event loop, driven one fetch at a time, so callers see a plain iterator.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError
from kafka import KafkaConsumer
from kafka.errors import KafkaError as ClientError

from pipeline.errors import StackError
from pipeline.replay.records import Record, Window, occurred_ms_of
from pipeline.validation import MAX_AHEAD_MS

STALL_S = 60.0
"""Give up when no partition moves for this long although messages are still due."""


@dataclass
class KafkaSource:
    """The input topics between start offsets (by time) and the end offsets at open time."""

    loop: asyncio.AbstractEventLoop
    consumer: AIOKafkaConsumer
    start: dict[TopicPartition, int]
    end: dict[TopicPartition, int]
    window: Window
    batch_size: int
    read: int = field(default=0)

    @property
    def total(self) -> int:
        """Messages between the start and end offsets (the replay reads exactly these)."""
        return sum(max(0, self.end[tp] - self.start[tp]) for tp in self.end)

    def batches(self) -> Iterator[tuple[list[Record], int]]:
        """(records in the window, records outside it) per fetch, until every end offset."""
        consumer, end, window, run = (
            self.consumer,
            self.end,
            self.window,
            self.loop.run_until_complete,
        )
        everything = window.is_everything
        remaining = {tp for tp in end if self.start[tp] < end[tp]}
        run(_pause(consumer, [tp for tp in end if tp not in remaining]))
        last_progress = time.monotonic()
        while remaining:
            try:
                fetched = run(consumer.getmany(timeout_ms=500, max_records=self.batch_size))
            except KafkaError as exc:
                raise StackError(f"replay from Kafka: {exc}") from exc
            batch: list[Record] = []
            skipped = 0
            for tp, messages in fetched.items():
                stop = end[tp]
                name = f"{tp.topic}[{tp.partition}]@"
                for message in messages:
                    if message.offset >= stop:
                        break
                    self.read += 1
                    raw = message.value
                    occurred_ms = occurred_ms_of(raw) if raw is not None else None
                    if not everything and not window.contains(occurred_ms):
                        skipped += 1
                        continue
                    stamp = message.timestamp if message.timestamp >= 0 else None
                    batch.append((raw, f"{name}{message.offset}", stamp))
            remaining -= run(_finished(consumer, remaining, end))
            if batch or skipped:
                last_progress = time.monotonic()
                yield batch, skipped
            elif time.monotonic() - last_progress > STALL_S:
                raise StackError(
                    f"replay from Kafka stalled: no message for {STALL_S:.0f} s with "
                    f"{len(remaining)} partitions short of their end offsets"
                )

    def close(self) -> None:
        try:
            self.loop.run_until_complete(self.consumer.stop())
        finally:
            self.loop.close()


def open_kafka_source(
    bootstrap_servers: str,
    topics: list[str],
    window: Window,
    batch_size: int = 20_000,
    client_id: str = "chiso766-replay",
) -> KafkaSource:
    """Assign every partition of ``topics``, seek by time, and snapshot the end offsets.

    The start is the first offset whose record time is at or after the window's read start
    minus one day (a sending system's clock may run up to a day ahead, the far-future limit),
    or the beginning without ``--from``. Raises StackError when Kafka cannot be reached or the
    topics do not exist.
    """
    loop = asyncio.new_event_loop()
    consumer = loop.run_until_complete(_new_consumer(bootstrap_servers, client_id))
    try:
        start, end = loop.run_until_complete(_position(consumer, bootstrap_servers, topics, window))
    except BaseException as exc:
        loop.run_until_complete(consumer.stop())
        loop.close()
        if isinstance(exc, KafkaError | ClientError):
            raise StackError(f"Kafka at {bootstrap_servers}: {exc}") from exc
        raise
    return KafkaSource(loop, consumer, start, end, window, batch_size)


async def _pause(consumer: AIOKafkaConsumer, partitions: list[TopicPartition]) -> None:
    consumer.pause(*partitions)  # needs the running loop


async def _finished(
    consumer: AIOKafkaConsumer, remaining: set[TopicPartition], end: dict[TopicPartition, int]
) -> set[TopicPartition]:
    """The partitions of ``remaining`` that reached their end offset, now paused."""
    done = {tp for tp in remaining if await consumer.position(tp) >= end[tp]}
    consumer.pause(*done)
    return done


def _partitions(bootstrap_servers: str, topics: list[str]) -> list[tuple[str, list[int]]]:
    """Each topic's partition numbers (aiokafka's public API only knows assigned topics)."""
    lookup = KafkaConsumer(bootstrap_servers=bootstrap_servers)
    try:
        found = [(topic, sorted(lookup.partitions_for_topic(topic) or ())) for topic in topics]
    finally:
        lookup.close()
    for topic, numbers in found:
        if not numbers:
            raise StackError(f"topic {topic} does not exist at {bootstrap_servers}")
    return found


async def _new_consumer(bootstrap_servers: str, client_id: str) -> AIOKafkaConsumer:
    """aiokafka objects must be made inside their event loop."""
    return AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers,
        client_id=client_id,
        group_id=None,
        enable_auto_commit=False,
        max_partition_fetch_bytes=4 * 1024 * 1024,
        fetch_max_bytes=32 * 1024 * 1024,
        request_timeout_ms=30_000,
    )


async def _position(
    consumer: AIOKafkaConsumer, bootstrap_servers: str, topics: list[str], window: Window
) -> tuple[dict[TopicPartition, int], dict[TopicPartition, int]]:
    try:
        await consumer.start()
    except KafkaError as exc:
        raise StackError(f"Kafka at {bootstrap_servers} is not reachable: {exc}") from exc
    partitions = [
        TopicPartition(topic, p)
        for topic, found in _partitions(bootstrap_servers, topics)
        for p in found
    ]
    consumer.assign(partitions)
    end = await consumer.end_offsets(partitions)
    read_from_ms = window.read_from_ms
    if read_from_ms is None:
        start = await consumer.beginning_offsets(partitions)
    else:
        by_time = await consumer.offsets_for_times(
            {tp: max(0, read_from_ms - MAX_AHEAD_MS) for tp in partitions}
        )
        start = {tp: (hit.offset if hit is not None else end[tp]) for tp, hit in by_time.items()}
    for tp in partitions:
        consumer.seek(tp, start[tp])
    return dict(start), dict(end)
