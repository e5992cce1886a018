"""Wire one worker: topics, the batch agent, and the batch pipeline (process -> store -> dead letters, then refresh)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import faust

from pipeline.processing import BatchProcessor, BatchResult, DeadLetter, Message
from pipeline.settings import Settings
from streams.agents import add_batch_agent
from streams.app import create_app, input_topic
from streams.consumer import WorkerApp
from streams.logs import new_runner

log = logging.getLogger(__name__)

StoreBatch = Callable[[BatchResult, int], None]
"""Stores a batch's rows (raises when it cannot); the int is the wall-clock ms of recording."""
PublishDeadLetters = Callable[[Sequence[tuple[bytes, str, str, str]]], int]
RefreshAggregates = Callable[[Sequence[tuple[object, ...]]], None]
"""Recomputes the aggregates that stored snapshot rows may have changed (raises when it cannot)."""


@dataclass
class WorkerCounters:
    """Running totals of one worker process, for logs, the demo and benchmarks."""

    messages: int = 0
    accepted: int = 0
    unchanged: int = 0
    dead_letters: int = 0
    batches: int = 0
    latencies_s: list[float] = field(default_factory=list)
    """Kafka timestamp to visible in the hourly aggregates, per message (only kept when
    ``keep_latencies``)."""
    keep_latencies: bool = False


@dataclass
class StoredBatch:
    """What is left to do for a stored batch: the aggregates its snapshots may have changed,
    and the counts to add once that is done."""

    snapshots: list[tuple[object, ...]]
    messages: int
    accepted: int
    unchanged: int
    dead_letters: int
    record_ms: list[int] = field(default_factory=list)
    """The messages' Kafka timestamps, kept only for ``WorkerCounters.keep_latencies``."""


class BatchPipeline:
    """Two steps per batch. ``__call__`` (the store thread): process, store the rows, publish
    the dead letters. ``follow_up`` (its own thread, several stored batches at once): refresh
    the aggregates they touched, count them. The consumer acks a batch's offsets only after
    its follow-up returned, so a crash at any point re-reads the batch, which is stored and
    refreshed again (both idempotent). Running the refresh beside the next batches, and for all
    the batches stored meanwhile in one go, is what keeps it from halving the worker's rate: the
    buckets of consecutive batches overlap (benchmarks/bench_stream.py)."""

    def __init__(
        self,
        processor: BatchProcessor,
        store_batch: StoreBatch,
        publish_dead_letters: PublishDeadLetters,
        counters: WorkerCounters | None = None,
        clock_ms: Callable[[], int] = lambda: int(time.time() * 1000),
        refresh_aggregates: RefreshAggregates | None = None,
    ) -> None:
        self.processor = processor
        self.store_batch = store_batch
        self.refresh_aggregates = refresh_aggregates
        self.publish_dead_letters = publish_dead_letters
        self.counters = counters or WorkerCounters()
        self.clock_ms = clock_ms

    def __call__(self, messages: Sequence[Message]) -> StoredBatch:
        result = self.processor.process(messages)
        self.store_batch(result, self.clock_ms())
        self.publish_dead_letters([_as_tuple(d) for d in result.dead_letters])
        record_ms = (
            [ms for _, _, ms in messages if ms is not None] if self.counters.keep_latencies else []
        )
        return StoredBatch(
            result.snapshots,
            len(messages),
            result.accepted,
            result.unchanged,
            len(result.dead_letters),
            record_ms,
        )

    def follow_up(self, stored: Sequence[StoredBatch]) -> None:
        if self.refresh_aggregates is not None:
            self.refresh_aggregates([row for batch in stored for row in batch.snapshots])
        counters = self.counters
        done_s = time.time()
        for batch in stored:
            counters.messages += batch.messages
            counters.accepted += batch.accepted
            counters.unchanged += batch.unchanged
            counters.dead_letters += batch.dead_letters
            counters.batches += 1
            if counters.keep_latencies:
                counters.latencies_s.extend(done_s - ms / 1000 for ms in batch.record_ms)


def build_worker_app(
    settings: Settings, pipeline: BatchPipeline, group: str | None = None
) -> WorkerApp:
    """The Faust app of one worker, with its agent registered."""
    app = create_app(settings, group)
    add_batch_agent(app, input_topic(app, settings), pipeline, pipeline.follow_up)
    return app


def run(app: faust.App, loglevel: str = "warning") -> None:
    """Run the worker until SIGTERM/SIGINT (blocks)."""
    new_runner(app, loglevel=loglevel).execute_from_commandline()


def _as_tuple(letter: DeadLetter) -> tuple[bytes, str, str, str]:
    return (letter.raw, letter.source, letter.kind, letter.reason)
