"""Record consumer lag in ClickHouse: per input partition, the committed and the end offset.

Kafka knows how far behind the worker group is, but Grafana reads only ClickHouse. The worker
knows it too, without asking the broker: Faust keeps the offsets it committed, and every fetch
response carries the partition's end offset (the high watermark, which aiokafka keeps). So every
``LAG_EVERY_S`` a timer reads both and writes a row for each assigned input partition whose
offsets changed, or that has no row for the current minute yet, into ``consumer_offsets``
(migration 9: group, topic, partition, minute; the newest row of a minute wins).

Right after partitions are assigned (start, rebalance) nothing has been fetched yet, and the
backlog that built up while no worker read them is worth recording before the worker eats it.
So after Faust seeks to the committed offsets, the worker asks the broker once for the end
offsets (and, for partitions the group never committed, the first offsets, where it starts
reading) and writes that sample at once. ``peak_lag`` keeps the most messages behind seen in a
minute, so such a backlog stays visible after the minute's later rows replace the first one.

Recording never holds the worker up: it runs on the event loop between fetches, writes through
its own thread (and, on the ClickHouse server, its own connection), and a failed write is
dropped — the next tick writes the state of that moment. One line is logged when writing starts
to fail and one when it works again.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from sinks.schema import CONSUMER_OFFSET_COLUMNS
from sinks.store import Store
from streams.consumer import WorkerApp

log = logging.getLogger("chiso766.worker")

LAG_EVERY_S = 5.0
"""How often the worker records its offsets (and so how old the newest row may be)."""
MINUTE_MS = 60_000

Key = tuple[str, int]
"""(topic, partition)."""


@dataclass(frozen=True)
class Observation:
    """What the worker knows of one partition at one moment."""

    topic: str
    partition: int
    committed: int
    """The next offset the group will read: everything before it is stored and committed."""
    end: int
    """The offset the next message produced to the partition will get."""


class LagBook:
    """Which rows a sample adds: a partition's row when its offsets changed since the last row
    written, or when its minute has no row yet; each with the minute's peak lag so far."""

    def __init__(self, group: str) -> None:
        self.group = group
        self._written: dict[Key, tuple[int, int, int]] = {}
        """(minute, committed, end) of the last row written per partition."""
        self._peaks: dict[Key, tuple[int, int]] = {}
        """(minute, most messages behind seen in it) per partition."""

    def rows(self, observations: Iterable[Observation], now_ms: int) -> list[tuple[Any, ...]]:
        minute = now_ms - now_ms % MINUTE_MS
        out = []
        for seen in observations:
            key = (seen.topic, seen.partition)
            end = max(seen.end, seen.committed)  # a high watermark older than the commit
            lag = end - seen.committed
            peak_minute, peak = self._peaks.get(key, (minute, 0))
            peak = max(lag, peak if peak_minute == minute else 0)
            self._peaks[key] = (minute, peak)
            if self._written.get(key) != (minute, seen.committed, end):
                out.append(
                    (self.group, seen.topic, seen.partition, minute, now_ms, seen.committed, end, peak)
                )  # fmt: skip
        return out

    def written(self, rows: Iterable[tuple[Any, ...]]) -> None:
        for _, topic, partition, minute, _, committed, end, _ in rows:
            self._written[(topic, partition)] = (minute, committed, end)

    def forget(self, keep: set[Key]) -> None:
        """Drop partitions no longer assigned (another worker records them now)."""
        for key in [k for k in self._peaks if k not in keep]:
            self._peaks.pop(key, None)
            self._written.pop(key, None)


class LagRecorder:
    """Samples a Faust consumer's offsets of the ``topics`` and writes them to ``store``."""

    def __init__(
        self,
        store: Store,
        database: str,
        group: str,
        topics: Iterable[str],
        clock_ms: Callable[[], int] = lambda: int(time.time() * 1000),
    ) -> None:
        self.store = store
        self.table = f"{database}.consumer_offsets"
        self.topics = frozenset(topics)
        self.book = LagBook(group)
        self.clock_ms = clock_ms
        self._first: dict[Key, int] = {}
        """First offsets of partitions the group never committed (where reading starts)."""
        self._ends: dict[Key, int] = {}
        """End offsets the broker gave when the partitions were assigned."""
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="lag")
        self._lock: asyncio.Lock | None = None
        self._tasks: set[asyncio.Future[None]] = set()
        self._failing = False

    async def tick(self, consumer: Any) -> None:
        """Record the offsets the consumer knows now (a Faust timer calls this)."""
        committed = _committed(consumer)
        await self._record(self._observe(consumer, committed))

    def after_seek(self, consumer: Any) -> None:
        """Partitions were (re)assigned and Faust has just read the committed offsets: record
        the backlog now, with end offsets from the broker (in a task: the seek is not held up)."""
        committed = _committed(consumer)
        task = asyncio.ensure_future(self._sample_assigned(consumer, committed))
        self._tasks.add(task)  # held until done: the loop keeps only weak references
        task.add_done_callback(self._tasks.discard)

    async def _sample_assigned(self, consumer: Any, committed: Mapping[Key, int | None]) -> None:
        assigned = [tp for tp in consumer.assignment() if tp.topic in self.topics]
        if not assigned:
            return
        try:
            ends = await consumer.highwaters(*assigned)
            never = [tp for tp in assigned if committed.get((tp.topic, tp.partition)) is None]
            firsts = await consumer.earliest_offsets(*never) if never else {}
        except Exception as error:  # the broker is away: the timer records once it fetches
            log.info("consumer lag: end offsets not available after assignment: %s", error)
            return
        self._ends = {(tp.topic, tp.partition): int(o) for tp, o in ends.items() if o is not None}
        self._first.update(
            {(tp.topic, tp.partition): int(o) for tp, o in firsts.items() if o is not None}
        )
        await self._record(self._observe(consumer, committed))

    def _observe(self, consumer: Any, committed: Mapping[Key, int | None]) -> list[Observation]:
        out = []
        keep = set()
        for tp in sorted(consumer.assignment()):
            if tp.topic not in self.topics:
                continue
            key = (tp.topic, tp.partition)
            keep.add(key)
            done = committed.get(key)
            if done is None:
                done = self._first.get(key)
            try:
                fetched = consumer.highwater(tp)
            except Exception:  # not (or no longer) assigned in the client
                fetched = None
            ends = [e for e in (fetched, self._ends.get(key)) if e is not None]
            if done is None or not ends:
                continue
            out.append(Observation(tp.topic, tp.partition, int(done), int(max(ends))))
        self.book.forget(keep)
        return out

    async def _record(self, observations: list[Observation]) -> None:
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            rows = self.book.rows(observations, self.clock_ms())
            if not rows:
                return
            loop = asyncio.get_running_loop()
            try:
                await loop.run_in_executor(
                    self._executor, self.store.insert, self.table, CONSUMER_OFFSET_COLUMNS, rows
                )
            except Exception as error:
                if not self._failing:
                    log.warning("consumer lag not recorded (dropped until it works): %s", error)
                self._failing = True
                return
            if self._failing:
                log.warning("consumer lag recorded again")
                self._failing = False
            self.book.written(rows)


def _committed(consumer: Any) -> dict[Key, int | None]:
    """Faust's committed offsets (the next offset to read), per partition; None when the
    group never committed one (Faust also says None for a committed 0)."""
    return {(tp.topic, tp.partition): offset for tp, offset in consumer._committed_offset.items()}


def add_lag_recorder(app: WorkerApp, recorder: LagRecorder) -> None:
    """Record after every seek to the committed offsets, and every ``LAG_EVERY_S``."""
    app.after_seek = recorder.after_seek

    @app.timer(LAG_EVERY_S, name="chiso766-consumer-lag")
    async def record_consumer_lag() -> None:
        await recorder.tick(app.consumer)
