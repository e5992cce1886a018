"""Wire one worker: topics, the batch agent, and the batch pipeline (process -> store -> refresh -> dead letters)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import faust

from pipeline.processing import BatchProcessor, BatchResult, DeadLetter, Incoming
from pipeline.settings import Settings
from streams.agents import add_batch_agent
from streams.app import create_app, input_topic
from streams.consumer import WorkerApp
from streams.logs import new_runner

log = logging.getLogger(__name__)

StoreBatch = Callable[[BatchResult, int], None]
"""Stores a batch's rows (raises when it cannot); the int is the wall-clock ms of recording."""
PublishDeadLetters = Callable[[Sequence[tuple[bytes, str, str, str]]], int]
RefreshAggregates = Callable[[BatchResult], None]
"""Recomputes the hourly aggregates that a stored batch may have changed (raises when it cannot)."""


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


class BatchPipeline:
    """Process a batch, store its rows, refresh the aggregates it touched, publish its dead
    letters, count. Synchronous on purpose: offsets are committed after all of it returned, so a
    crash before the refresh re-processes the batch, which stores and refreshes again."""

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

    def __call__(self, messages: Sequence[Incoming]) -> None:
        result = self.processor.process(messages)
        self.store_batch(result, self.clock_ms())
        if self.refresh_aggregates is not None:
            self.refresh_aggregates(result)
        self.publish_dead_letters([_as_tuple(d) for d in result.dead_letters])
        counters = self.counters
        counters.messages += len(messages)
        counters.accepted += result.accepted
        counters.unchanged += result.unchanged
        counters.dead_letters += len(result.dead_letters)
        counters.batches += 1
        if counters.keep_latencies:
            stored_s = time.time()
            counters.latencies_s.extend(
                stored_s - m.timestamp_ms / 1000 for m in messages if m.timestamp_ms is not None
            )


def build_worker_app(
    settings: Settings, pipeline: BatchPipeline, group: str | None = None
) -> WorkerApp:
    """The Faust app of one worker, with its agent registered."""
    app = create_app(settings, group)
    add_batch_agent(app, input_topic(app, settings), pipeline)
    return app


def run(app: faust.App, loglevel: str = "warning") -> None:
    """Run the worker until SIGTERM/SIGINT (blocks)."""
    new_runner(app, loglevel=loglevel).execute_from_commandline()


def _as_tuple(letter: DeadLetter) -> tuple[bytes, str, str, str]:
    return (letter.raw, letter.source, letter.kind, letter.reason)
