"""Bulk producing to Kafka: many small messages, fast, with the key -> partition mapping of every client.

kafka-python's ``KafkaProducer.send`` costs about 30-80 µs a message in Python (futures,
locks, a sender thread competing for the GIL, a pure-Python CRC-32C unless the optional
``crc32c`` package is installed), far below the 50k messages/s that ``ingest`` needs on two
cores. aiokafka, already here for Faust, has a public batch API (``create_batch`` /
``send_batch``) whose record encoding is compiled: one open batch per (topic, partition),
sent when full. Partitions follow the Java client's rule, murmur2(key) mod partitions, like
kafka-python, aiokafka and Faust do, so all events of a dossier land on the same partition
number in every topic. Admin work (topics) stays with ``pipeline.broker``.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from aiokafka.partitioner import murmur2

from pipeline.errors import StackError
from pipeline.settings import Settings

Message = tuple[str, bytes | None, bytes, Sequence[tuple[str, bytes]] | None, int | None]
"""(full topic name, key, value, headers or None, record timestamp in epoch ms or None).

A None timestamp lets the client stamp the produce time. Tools that load history give each
event its own time (``pipeline.validation.record_ms_for``): the worker measures lateness
against the record timestamp, and Kafka 4 refuses record timestamps more than an hour ahead.
"""

MAX_BATCH_BYTES = 512 * 1024
"""Below the broker's default message.max.bytes (1 MiB), which caps one record batch."""
MAX_MESSAGE_BYTES = MAX_BATCH_BYTES - 16 * 1024
"""The largest value ``BulkProducer`` sends whole (room left for key, headers and framing)."""
_KEY_CACHE_LIMIT = 200_000


class Pacer:
    """Holds a sender to ``rate`` messages per second on average (None: no limit)."""

    def __init__(self, rate: float | None, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self._clock = clock
        self._started = clock()

    def delay_s(self, sent: int) -> float:
        """How long to wait, after ``sent`` messages in total, to stay at the rate."""
        if not self.rate:
            return 0.0
        return max(0.0, sent / self.rate - (self._clock() - self._started))


class BulkProducer:
    """An open aiokafka producer that takes messages one by one and sends them in big batches."""

    def __init__(self, producer: AIOKafkaProducer) -> None:
        self._producer = producer
        self._partitions: dict[str, list[int]] = {}
        self._open: dict[tuple[str, int], object] = {}
        self._deliveries: list[asyncio.Future[object]] = []
        self._by_key: dict[bytes, int] = {}
        self._round_robin = itertools.count()

    async def partition_for(self, topic: str, key: bytes | None) -> int:
        partitions = self._partitions.get(topic)
        if partitions is None:
            partitions = self._partitions[topic] = await self._ready_partitions(topic)
        if key is None:
            return partitions[next(self._round_robin) % len(partitions)]
        index = self._by_key.get(key)
        if index is None:
            if len(self._by_key) >= _KEY_CACHE_LIMIT:
                self._by_key.clear()
            index = self._by_key[key] = (murmur2(key) & 0x7FFFFFFF) % len(partitions)
        return partitions[index]

    async def _ready_partitions(self, topic: str, timeout_s: float = 10.0) -> list[int]:
        """The topic's partitions, once each has a leader (a new topic needs a moment)."""
        known = await self._producer.partitions_for(topic)
        deadline = time.monotonic() + timeout_s
        cluster = self._producer.client.cluster
        while (
            cluster.available_partitions_for_topic(topic) != known and time.monotonic() < deadline
        ):
            await asyncio.sleep(0.1)
            await self._producer.client.force_metadata_update()
            known = await self._producer.partitions_for(topic)
        return sorted(known)

    async def send(
        self,
        topic: str,
        key: bytes | None,
        value: bytes,
        headers: Sequence[tuple[str, bytes]] | None = None,
        timestamp_ms: int | None = None,
    ) -> None:
        partition = await self.partition_for(topic, key)
        slot = (topic, partition)
        batch = self._open.get(slot)
        if batch is None:
            batch = self._open[slot] = self._producer.create_batch()
        headers = headers or []
        if batch.append(key=key, value=value, timestamp=timestamp_ms, headers=headers) is None:  # type: ignore[attr-defined]
            await self._ship(slot, batch)
            batch = self._open[slot] = self._producer.create_batch()
            if batch.append(key=key, value=value, timestamp=timestamp_ms, headers=headers) is None:  # type: ignore[attr-defined]
                raise StackError(f"a message of {len(value)} bytes does not fit in a Kafka batch")

    async def _ship(self, slot: tuple[str, int], batch: object) -> None:
        future = await self._producer.send_batch(batch, slot[0], partition=slot[1])
        self._deliveries.append(future)
        if len(self._deliveries) >= 256:
            await self._settle(keep=64)

    async def _settle(self, keep: int = 0) -> None:
        """Wait for all but the ``keep`` newest deliveries; raise if any failed."""
        done, self._deliveries = (
            self._deliveries[: len(self._deliveries) - keep],
            self._deliveries[len(self._deliveries) - keep :],
        )
        for future in done:
            await future

    async def flush(self) -> None:
        """Send every open batch and wait until the broker has acknowledged all of them."""
        for slot, batch in list(self._open.items()):
            if batch.record_count():  # type: ignore[attr-defined]
                await self._ship(slot, batch)
        self._open.clear()
        await self._settle()


@contextmanager
def _quiet_retries() -> Iterator[None]:
    """Hide aiokafka's warning for each retried produce request while we run.

    Right after topics are created, KRaft brokers answer NOT_LEADER_OR_FOLLOWER for a moment
    although the metadata already names the leaders; aiokafka retries (and succeeds) but logs
    every retry, which on a terminal looks like failure. Errors that last still raise.
    """
    logger = logging.getLogger("aiokafka.producer.sender")
    before = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(before)


async def _produce(
    settings: Settings,
    chunks: Iterable[Sequence[Message]],
    rate: float | None,
    on_chunk: Callable[[int], None] | None,
) -> int:
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.bootstrap_servers,
        client_id=settings.group("bulk-producer"),
        acks=1,
        linger_ms=20,
        max_batch_size=MAX_BATCH_BYTES,
        max_request_size=4 * MAX_BATCH_BYTES,
        request_timeout_ms=30_000,
    )
    try:
        await producer.start()
    except KafkaError as exc:
        await producer.stop()
        raise StackError(f"Kafka at {settings.bootstrap_servers} is not reachable: {exc}") from exc
    sent = 0
    pacer = Pacer(rate)
    try:
        bulk = BulkProducer(producer)
        for chunk in chunks:
            for topic, key, value, headers, timestamp_ms in chunk:
                await bulk.send(topic, key, value, headers, timestamp_ms)
                sent += 1
                if rate and sent % max(1, int(rate // 20)) == 0:
                    await bulk.flush()
                    await asyncio.sleep(pacer.delay_s(sent))
            if on_chunk is not None:
                on_chunk(len(chunk))
            await asyncio.sleep(0)  # let the sender run between chunks
        await bulk.flush()
    except KafkaError as exc:
        raise StackError(
            f"producing to Kafka at {settings.bootstrap_servers} failed: {exc}"
        ) from exc
    finally:
        await producer.stop()
    return sent


def produce_all(
    settings: Settings,
    chunks: Iterable[Sequence[Message]],
    *,
    rate: float | None = None,
    on_chunk: Callable[[int], None] | None = None,
) -> int:
    """Send every message of every chunk, in order per partition; return how many were sent.

    ``rate`` (messages/s) paces the sending, for live demos; None sends as fast as possible.
    ``on_chunk(n)`` is called after each chunk (progress bars). Raises StackError when Kafka is
    unreachable or refuses the messages; nothing is skipped silently.
    """
    with _quiet_retries():
        return asyncio.run(_produce(settings, chunks, rate, on_chunk))
