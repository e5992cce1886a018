"""Read a namespace's input topics for a replay with a plain consumer that joins no group.

No consumer group means no rebalance with the live workers and no committed offsets to move:
the replay assigns every partition itself, seeks by time, and stops at the end offsets taken
when it starts, so the run is bounded and a second run reads the same messages.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field

from kafka import KafkaConsumer, TopicPartition
from kafka.errors import KafkaError

from pipeline.errors import StackError
from pipeline.replay.records import Record, Window, occurred_ms_of
from pipeline.validation import MAX_AHEAD_MS

STALL_S = 60.0
"""Give up when no partition moves for this long although messages are still due."""


@dataclass
class KafkaSource:
    """The input topics between start offsets (by time) and the end offsets at open time."""

    consumer: KafkaConsumer
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
        """(records in the window, records outside it) per poll, until every end offset."""
        consumer, end, window = self.consumer, self.end, self.window
        everything = window.is_everything
        remaining = {tp for tp in end if self.start[tp] < end[tp]}
        last_progress = time.monotonic()
        while remaining:
            polled = consumer.poll(timeout_ms=500, max_records=self.batch_size)
            batch: list[Record] = []
            skipped = 0
            for tp, messages in polled.items():
                stop = end[tp]
                name = f"{tp.topic}[{tp.partition}]@"
                for message in messages:
                    if message.offset >= stop:
                        break
                    self.read += 1
                    raw = message.value
                    if not everything and not window.contains(occurred_ms_of(raw)):
                        skipped += 1
                        continue
                    batch.append((raw, f"{name}{message.offset}", message.timestamp))
            for tp in list(remaining):
                if consumer.position(tp) >= end[tp]:
                    remaining.discard(tp)
                    consumer.pause(tp)
            if batch or skipped:
                last_progress = time.monotonic()
                yield batch, skipped
            elif time.monotonic() - last_progress > STALL_S:
                raise StackError(
                    f"replay from Kafka stalled: no message for {STALL_S:.0f} s with "
                    f"{len(remaining)} partitions short of their end offsets"
                )

    def close(self) -> None:
        self.consumer.close()


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
    try:
        consumer = KafkaConsumer(
            bootstrap_servers=bootstrap_servers,
            client_id=client_id,
            group_id=None,
            enable_auto_commit=False,
            max_partition_fetch_bytes=4 * 1024 * 1024,
            fetch_max_bytes=32 * 1024 * 1024,
        )
    except KafkaError as exc:
        raise StackError(f"Kafka at {bootstrap_servers} is not reachable: {exc}") from exc
    try:
        partitions = []
        for topic in topics:
            found = consumer.partitions_for_topic(topic)
            if not found:
                raise StackError(f"topic {topic} does not exist at {bootstrap_servers}")
            partitions += [TopicPartition(topic, p) for p in sorted(found)]
        consumer.assign(partitions)
        end = consumer.end_offsets(partitions)
        read_from_ms = window.read_from_ms
        if read_from_ms is None:
            start = consumer.beginning_offsets(partitions)
        else:
            by_time = consumer.offsets_for_times(
                {tp: max(0, read_from_ms - MAX_AHEAD_MS) for tp in partitions}
            )
            start = {
                tp: (found.offset if found is not None else end[tp])
                for tp, found in by_time.items()
            }
        for tp in partitions:
            consumer.seek(tp, start[tp])
    except KafkaError as exc:
        consumer.close()
        raise StackError(f"reading offsets from Kafka at {bootstrap_servers}: {exc}") from exc
    except BaseException:
        consumer.close()
        raise
    return KafkaSource(consumer, start, end, window, batch_size)
