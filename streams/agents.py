"""The one agent: take batches of raw messages and hand them to the batch handler in a thread.

Offsets: ``take_events`` acks a batch when the loop body is left, so the body is left only once
the handler has returned, i.e. after the batch's rows are stored. The handler runs in one
dedicated thread, one batch at a time, so that while it waits out a ClickHouse outage
(``streams/waiting.py``) the event loop goes on heartbeating and the worker keeps its
partitions; Faust pauses the partitions whose buffers fill meanwhile.

Should storing fail for good, or the worker be stopped while a batch is still not stored after
``STOP_GRACE_S`` (the store is down), the process exits at once *without* acking: leaving the
loop any other way would ack, and so commit, a batch whose rows are missing.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

import faust

from pipeline.processing import Incoming

log = logging.getLogger("chiso766.worker")

BatchHandler = Callable[[Sequence[Incoming], Sequence[float]], None]
"""Called with the batch's messages and their Kafka timestamps (epoch seconds)."""

EXIT_STORE_FAILED = 70
EXIT_STOPPED_UNSTORED = 75
MAX_BATCH = 20_000
"""Messages per batch at most; a batch also closes after ``within_s`` without a full buffer."""
STOP_GRACE_S = 15.0
"""On stop, how long a batch being stored may take before the worker exits without it."""


def add_batch_agent(
    app: faust.App,
    topic: faust.TopicT,
    handle: BatchHandler,
    max_batch: int = MAX_BATCH,
    within_s: float = 0.5,
) -> None:
    store_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="chiso766-store")

    # concurrency=1: with more, Faust can commit past a message still in flight (faust#606).
    @app.agent(topic, name="process-batches", concurrency=1)
    async def process_batches(stream: faust.StreamT) -> None:
        loop = asyncio.get_running_loop()
        async for events in stream.take_events(max_batch, within_s):  # type: ignore[attr-defined]
            messages = [
                Incoming(e.value, f"{e.message.topic}[{e.message.partition}]@{e.message.offset}")
                for e in events
            ]
            timestamps = [e.message.timestamp for e in events]
            stored = loop.run_in_executor(store_thread, handle, messages, timestamps)
            try:
                await asyncio.shield(stored)
            except asyncio.CancelledError:
                await _finish_or_exit(stored, len(messages))
                raise
            except Exception:
                _exit_unstored(len(messages), EXIT_STORE_FAILED, "could not be stored")


async def _finish_or_exit(stored: asyncio.Future[None], count: int) -> None:
    """The worker is stopping: let the batch in hand be stored, or exit without committing it."""
    await asyncio.wait([stored], timeout=STOP_GRACE_S)
    if not stored.done() or stored.exception() is not None:
        _exit_unstored(count, EXIT_STOPPED_UNSTORED, "was not stored before the stop")


def _exit_unstored(count: int, code: int, what: str) -> None:
    level = logging.CRITICAL if code == EXIT_STORE_FAILED else logging.WARNING
    log.log(level, "batch of %d messages %s; exiting without committing it (it will be read again)",
            count, what, exc_info=code == EXIT_STORE_FAILED)  # fmt: skip
    logging.shutdown()
    os._exit(code)
