"""A Faust app whose consumer hands each whole fetch to the worker's batch handler.

Faust delivers every message on its own: a ``Message`` and an ``Event`` object each, the
conductor's per-message lock and dispatch, the serializer registry, sensors, and an ack per
message. On this machine that machinery cost about three quarters of the worker's time per event
(benchmarks/bench_stream.py). The worker needs none of it: it decodes raw bytes itself and stores
whole batches. So this consumer keeps Faust for what it is good at — the app, the topics, the
agent that declares the subscription, group membership, rebalances, the commit loop — and goes
beneath it for the hot loop:

* a fetch (``records`` by partition, straight from aiokafka) becomes one list of ``Incoming``;
* the batch handler stores its rows in one store thread, so that while it waits out a
  ClickHouse outage (``streams/waiting.py``) the event loop goes on and the worker keeps its
  group membership and partitions;
* only then are the fetch's offsets acked, as one contiguous range per partition, which Faust's
  commit loop commits. Offsets therefore never move past rows that are not stored;
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
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import faust
from faust.transport.consumer import CONSUMER_FETCHING
from faust.transport.drivers import aiokafka as aiokafka_driver

from pipeline.processing import Incoming

log = logging.getLogger("chiso766.worker")

FetchHandler = Callable[[Sequence[Incoming]], None]
"""Stores one fetch's results (raises when it cannot); runs in a worker thread."""

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
                    await self._store(loop, executor, app.fetch_handler, batch)
                    if generation == app.consumer_generation_id:
                        self._ack_spans(spans)
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

    async def perform_seek(self) -> None:  # pragma: no cover - runs in Faust
        """Faust seeks to the committed offsets after every assignment; then the app may look
        at them (``WorkerApp.after_seek``: the consumer lag recorder)."""
        await super().perform_seek()
        app: WorkerApp = self.app  # type: ignore[assignment]
        if app.after_seek is not None:
            app.after_seek(self)

    async def _take(
        self, records: Any, active: Any
    ) -> tuple[list[Incoming], list[tuple[Any, int, int]]]:
        """The fetch as ``Incoming`` values, and per partition the offset range it covers."""
        batch: list[Incoming] = []
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
                Incoming(r.value, prefix + str(r.offset), _record_ms(r.timestamp))
                for r in tp_records
            )
            last_offset = tp_records[-1].offset
            spans.append((tp, first_offset, last_offset))
            read_offset[tp] = last_offset
            self.app.monitor.track_tp_end_offset(tp, self.highwater(tp))
        return batch, spans

    async def _store(
        self,
        loop: asyncio.AbstractEventLoop,
        executor: ThreadPoolExecutor,
        handle: FetchHandler,
        batch: list[Incoming],
    ) -> None:
        """Store the batch in the store thread. If storing fails for good, or the worker stops
        while a batch is still not stored after ``STOP_GRACE_S`` (the store is down), exit at
        once without acking it: it is read again after the restart."""
        stored = loop.run_in_executor(executor, handle, batch)
        try:
            await asyncio.shield(stored)
        except asyncio.CancelledError:
            await _finish_or_exit(stored, len(batch))
            raise
        except Exception:
            _exit_unstored(len(batch), EXIT_STORE_FAILED, "could not be stored")

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


class FetchBatchTransport(aiokafka_driver.Transport):
    Consumer = FetchBatchConsumer


class WorkerApp(faust.App):
    """``faust.App`` whose consumer hands whole fetches to ``fetch_handler``."""

    fetch_handler: FetchHandler | None = None
    after_seek: Callable[[Any], None] | None = None
    """Called with the consumer each time it has sought to the committed offsets."""

    def _new_transport(self) -> Any:
        return FetchBatchTransport(self.conf.broker_consumer, self)
