"""The one agent: take batches of raw messages and hand them to the batch handler.

Offsets: ``take_events`` acks a batch only after the handler returned, and the handler is
synchronous (no await inside), so a batch's offsets are committed only after its rows are
stored. Should storing fail for good, the process exits at once *without* acking: a graceful
stop would ack and commit the batch whose rows are missing.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence

import faust

from pipeline.processing import Incoming, record_ms_from_s

log = logging.getLogger(__name__)

BatchHandler = Callable[[Sequence[Incoming], Sequence[float]], None]
"""Called with the batch's messages and their Kafka timestamps (epoch seconds)."""

EXIT_STORE_FAILED = 70
MAX_BATCH = 20_000
"""Messages per batch at most; a batch also closes after ``within_s`` without a full buffer."""


def add_batch_agent(
    app: faust.App,
    topic: faust.TopicT,
    handle: BatchHandler,
    max_batch: int = MAX_BATCH,
    within_s: float = 0.5,
) -> None:
    # concurrency=1: with more, Faust can commit past a message still in flight (faust#606).
    @app.agent(topic, name="process-batches", concurrency=1)
    async def process_batches(stream: faust.StreamT) -> None:
        async for events in stream.take_events(max_batch, within_s):  # type: ignore[attr-defined]
            messages = [
                Incoming(
                    e.value,  # None for a tombstone: the processor dead-letters it
                    f"{e.message.topic}[{e.message.partition}]@{e.message.offset}",
                    record_ms_from_s(e.message.timestamp),
                )
                for e in events
            ]
            try:
                handle(messages, [e.message.timestamp for e in events])
            except Exception:
                log.critical("batch of %d messages could not be stored; exiting without commit",
                             len(messages), exc_info=True)  # fmt: skip
                logging.shutdown()
                os._exit(EXIT_STORE_FAILED)
