"""A Faust app whose consumer hands fetched messages to the streams one fetch at a time.

Faust's consumer loop (``faust.transport.consumer.Consumer._drain_messages``) races every single
message against the "suspend flow" event with ``wait_first``, which creates two tasks per
message; on this machine that alone costs about as much as everything else in the worker
(benchmarks/bench_stream.py). This subclass keeps the same rules — offsets only move forward,
gaps are recorded for acking, commits every ``broker_commit_every`` acks, and delivery stops at
once when a rebalance suspends the flow — but races a whole fetched batch against the suspend
event, so it creates two tasks per fetch instead of two per message.

It overrides a private method of faust-streaming 0.15; the version pin in pyproject.toml and
the end-to-end tests (restarts, SIGKILL, two workers) guard it.
"""

from __future__ import annotations

import asyncio
from typing import Any

import faust
from faust.transport.consumer import CONSUMER_FETCHING
from faust.transport.drivers import aiokafka as aiokafka_driver

_YIELD_EVERY = 100


class BatchDrainConsumer(aiokafka_driver.Consumer):
    async def _drain_messages(self, fetcher: Any) -> None:  # pragma: no cover - runs in Faust
        consumer_should_stop = self._stopped.is_set
        fetcher_should_stop = fetcher._stopped.is_set
        try:
            while not (consumer_should_stop() or fetcher_should_stop()):
                self.diag.set_flag(CONSUMER_FETCHING)
                records = self.getmany(timeout=1.0)
                await self.sleep(0)
                if not self.should_stop:
                    delivery = asyncio.ensure_future(self._deliver(records))
                    await self.wait_first(delivery, self.suspend_flow.wait())
                    if not delivery.done():  # a rebalance suspended the flow: stop delivering
                        delivery.cancel()
                        await asyncio.gather(delivery, return_exceptions=True)
                    else:
                        delivery.result()  # re-raise what delivery raised
                self.diag.unset_flag(CONSUMER_FETCHING)
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

    async def _deliver(self, records: Any) -> None:
        callback = self.callback
        read_offset = self._read_offset
        acks_enabled_for = self.app.topics.acks_enabled_for
        commit_every = self._commit_every
        since_yield = 0
        async for tp, message in records:
            since_yield += 1
            if since_yield > _YIELD_EVERY:
                await asyncio.sleep(0)
                since_yield = 0
            offset = message.offset
            last = read_offset[tp]
            if last is not None and offset < last:
                continue  # already delivered before a seek: Faust drops these too
            if last and offset - last > 1 and acks_enabled_for(message.topic):
                await self._add_gap(tp, last + 1, offset)
            if commit_every is not None and self._n_acked >= commit_every:
                self._n_acked = 0
                await self.commit()
            await callback(message)
            read_offset[tp] = offset


class BatchDrainTransport(aiokafka_driver.Transport):
    Consumer = BatchDrainConsumer


class WorkerApp(faust.App):
    """``faust.App`` with the batch-draining consumer."""

    def _new_transport(self) -> Any:
        return BatchDrainTransport(self.conf.broker_consumer, self)
