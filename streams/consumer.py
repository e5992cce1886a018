"""A Faust app whose consumer hands each whole fetch to the worker's batch handler.

Faust delivers every message on its own: a ``Message`` and an ``Event`` object each, the
conductor's per-message lock and dispatch, the serializer registry, sensors, and an ack per
message. On this machine that machinery cost about three quarters of the worker's time per event
(benchmarks/bench_stream.py). The worker needs none of it: it decodes raw bytes itself and stores
whole batches. So this consumer keeps Faust for what it is good at — the app, the topics, the
agent that declares the subscription, group membership, rebalances, the commit loop — and goes
beneath it for the hot loop:

* a fetch (``records`` by partition, straight from aiokafka) becomes one list of ``Message``;
* the batch handler stores its rows in one store thread, so that while it waits out a
  ClickHouse outage (``streams/waiting.py``) the event loop goes on and the worker keeps its
  group membership and partitions;
* the fetch's follow-up (the refresh of the aggregates) runs in a second thread, beside the
  next fetches, for every fetch stored meanwhile at once (``FollowUps``);
* only then are the fetch's offsets acked, as one contiguous range per partition, which Faust's
  commit loop commits. Offsets therefore never move past rows that are not stored and counted.
* after every seek to the committed offsets (each assignment), ``after_seek`` lets the consumer
  lag recorder (``streams/lag.py``) see the backlog before the first fetch.

Rebalances: fetching stops while the flow is suspended (Faust's ``_wait_next_records``), and a
batch that was in flight when the consumer generation changed is not acked: its partitions may
belong to another worker now, which re-reads it; storing is idempotent, so nothing counts twice.

It overrides private methods of faust-streaming 0.15; the version pin in pyproject.toml and the
end-to-end tests (restarts, SIGKILL between store and commit, two workers) guard it.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import faust
from faust.transport.consumer import CONSUMER_FETCHING
from faust.transport.drivers import aiokafka as aiokafka_driver

from pipeline.processing import Message

log = logging.getLogger("chiso766.worker")

FetchHandler = Callable[[Sequence[Message]], object]
"""Processes and stores one fetch (raises when it cannot); runs in the store thread. What it
returns is handed to the follow-up."""
FollowUp = Callable[[list[Any]], None]
"""Finishes stored fetches, several at once (raises when it cannot); runs in its own thread."""
MAX_PENDING_FOLLOW_UPS = 4
"""Stored fetches whose follow-up has not finished; the consumer waits beyond this many."""

EXIT_STORE_FAILED = 70
EXIT_STOPPED_UNSTORED = 75
STOP_GRACE_S = 15.0
"""On stop, how long a batch being stored may take before the worker exits without it."""


class FetchBatchConsumer(aiokafka_driver.Consumer):
    async def _drain_messages(self, fetcher: Any) -> None:  # pragma: no cover - runs in Faust
        app: WorkerApp = self.app  # type: ignore[assignment]
        consumer_should_stop = self._stopped.is_set
        fetcher_should_stop = fetcher._stopped.is_set
        executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="store")
        loop = asyncio.get_running_loop()
        follow_ups = FollowUps(loop, app.follow_up, self._ack_if_current, MAX_PENDING_FOLLOW_UPS)
        commit_every = self._commit_every
        try:
            while not (consumer_should_stop() or fetcher_should_stop()):
                self.diag.set_flag(CONSUMER_FETCHING)
                records, active = await self._wait_next_records(1.0)
                self.diag.unset_flag(CONSUMER_FETCHING)
                if not records or self.should_stop or app.fetch_handler is None:
                    continue
                generation = app.consumer_generation_id
                batch, spans = await self._take(records, active)
                if batch:
                    stored = await self._store(loop, executor, app.fetch_handler, batch)
                    await follow_ups.add(stored, spans, generation, len(batch))
                if commit_every is not None and self._n_acked >= commit_every:
                    self._n_acked = 0
                    await self.commit()
        except self.consumer_stopped_errors:
            if self.transport.app.should_stop:
                return
            raise
        except asyncio.CancelledError:
            if self.transport.app.should_stop:
                return
            raise
        finally:
            self.diag.unset_flag(CONSUMER_FETCHING)
            executor.shutdown(wait=True)
            await follow_ups.finish(STOP_GRACE_S)

    async def perform_seek(self) -> None:  # pragma: no cover - runs in Faust
        """Faust seeks to the committed offsets after every assignment; then the app may look
        at them (``WorkerApp.after_seek``: the consumer lag recorder)."""
        await super().perform_seek()
        app: WorkerApp = self.app  # type: ignore[assignment]
        if app.after_seek is not None:
            app.after_seek(self)

    async def _take(
        self, records: Any, active: Any
    ) -> tuple[list[Message], list[tuple[Any, int, int]]]:
        """The fetch as ``Message`` tuples, and per partition the offset range it covers."""
        batch: list[Message] = []
        spans: list[tuple[Any, int, int]] = []
        read_offset = self._read_offset
        buffered = self._buffered_partitions
        for tp, tp_records in records.items():
            if active is not None and tp not in active and tp not in buffered:
                continue
            # Faust's read offset is the last offset delivered, or after a seek the next one to
            # read: keep offsets from it on, as Faust does (a redelivered offset is harmless).
            last = read_offset[tp]
            if last is not None:
                tp_records = [r for r in tp_records if r.offset >= last]
            if not tp_records:
                continue
            first_offset = tp_records[0].offset
            if last is not None and first_offset - last > 1:
                await self._add_gap(tp, last + 1, first_offset - 1)
            prefix = f"{tp.topic}[{tp.partition}]@"
            batch.extend(
                (r.value, prefix + str(r.offset), _record_ms(r.timestamp)) for r in tp_records
            )
            last_offset = tp_records[-1].offset
            spans.append((tp, first_offset, last_offset))
            read_offset[tp] = last_offset
            monitor = self.app.monitor
            monitor.track_tp_end_offset(tp, self.highwater(tp))
            # What Faust's stream would note per event: its health check (every few minutes,
            # while a partition has a backlog) logs an error for a partition without it.
            monitor.stream_inbound_time[tp] = time.monotonic()
        return batch, spans

    async def _store(
        self,
        loop: asyncio.AbstractEventLoop,
        executor: ThreadPoolExecutor,
        handle: FetchHandler,
        batch: list[Message],
    ) -> object:
        """Store the batch in the store thread; return what the handler returned. If storing
        fails for good, or the worker stops while a batch is still not stored after
        ``STOP_GRACE_S`` (the store is down), exit at once without acking it: it is read again
        after the restart."""
        stored = loop.run_in_executor(executor, handle, batch)
        try:
            return await asyncio.shield(stored)
        except asyncio.CancelledError:
            await _finish_or_exit(stored, len(batch))
            raise
        except Exception:
            _exit_unstored(len(batch), EXIT_STORE_FAILED, "could not be stored")
            raise  # not reached: the process has exited

    def _ack_if_current(self, spans: list[tuple[Any, int, int]], generation: int) -> None:
        """Ack a finished fetch, unless a rebalance happened since it was fetched (its
        partitions may be another worker's now, which reads it again)."""
        if generation == self.app.consumer_generation_id:  # type: ignore[attr-defined]
            self._ack_spans(spans)

    def _ack_spans(self, spans: list[tuple[Any, int, int]]) -> None:
        """Ack every offset of the stored fetch: Faust's commit loop commits the runs."""
        committed_offset = self._committed_offset
        acked = self._acked
        for tp, first, last in spans:
            committed = committed_offset[tp]
            if committed is not None:
                first = max(first, committed)
            if first <= last:
                acked[tp].extend(range(first, last + 1))
                self._n_acked += last + 1 - first


def _record_ms(timestamp: int | None) -> int | None:
    """aiokafka's record timestamp (epoch ms, -1 or None when the record has none)."""
    return timestamp if timestamp is not None and timestamp >= 0 else None


async def _finish_or_exit(stored: asyncio.Future[Any], count: int) -> None:
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


class FollowUps:
    """Runs the follow-up of stored fetches in its own thread, all the fetches stored while the
    previous run was busy in one call, in fetch order, and acks each fetch when its run is done.

    ``add`` returns at once unless ``max_pending`` fetches wait, so the store thread goes on
    with the next fetches meanwhile. A follow-up that fails exits the worker without acking (the
    fetches are read again after the restart, like a batch that could not be stored).
    """

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        follow_up: FollowUp | None,
        ack: Callable[[list[tuple[Any, int, int]], int], None],
        max_pending: int,
    ) -> None:
        self._loop = loop
        self._follow_up = follow_up or (lambda _: None)
        self._ack = ack
        self._max_pending = max_pending
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="follow-up")
        self._waiting: list[tuple[object, list[tuple[Any, int, int]], int, int]] = []
        self._running: asyncio.Task[None] | None = None
        self._stopping = False

    async def add(
        self, stored: object, spans: list[tuple[Any, int, int]], generation: int, count: int
    ) -> None:
        self._waiting.append((stored, spans, generation, count))
        if self._running is None:
            self._start()
        while len(self._waiting) >= self._max_pending and self._running is not None:
            await asyncio.shield(self._running)

    async def finish(self, grace_s: float) -> None:
        """On stop: let the follow-ups in hand finish for up to ``grace_s``; fetches still
        waiting are not acked (they are read again after the restart)."""
        self._stopping = True
        if self._running is not None:
            await asyncio.wait([self._running], timeout=grace_s)
        self._executor.shutdown(wait=False)

    def _start(self) -> None:
        fetches, self._waiting = self._waiting, []
        self._running = self._loop.create_task(self._run(fetches))

    async def _run(
        self, fetches: list[tuple[object, list[tuple[Any, int, int]], int, int]]
    ) -> None:
        done = self._loop.run_in_executor(
            self._executor, self._follow_up, [stored for stored, _, _, _ in fetches]
        )
        count = sum(n for _, _, _, n in fetches)
        try:
            await asyncio.shield(done)
        except asyncio.CancelledError:
            return  # stopping: not acked, read again after the restart
        except Exception:
            _exit_unstored(
                count, EXIT_STORE_FAILED, "was stored but its aggregates could not be refreshed"
            )
        for _, spans, generation, _ in fetches:
            self._ack(spans, generation)
        self._running = None
        if self._waiting and not self._stopping:
            self._start()


class FetchBatchTransport(aiokafka_driver.Transport):
    Consumer = FetchBatchConsumer


class WorkerApp(faust.App):
    """``faust.App`` whose consumer hands whole fetches to ``fetch_handler``."""

    fetch_handler: FetchHandler | None = None
    follow_up: FollowUp | None = None
    after_seek: Callable[[Any], None] | None = None
    """Called with the consumer each time it has sought to the committed offsets."""

    def _new_transport(self) -> Any:
        return FetchBatchTransport(self.conf.broker_consumer, self)
