"""Load event lines straight into a store through the worker's decision core, without Kafka.

The same ``BatchProcessor`` and ``ResultWriter`` the worker runs, fed from an iterable: what a
worker would store for those events, for tests, calibration and benchmarks (a province-year is
much faster this way than through the broker).
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from pipeline.events import AnyEvent
from pipeline.processing import BatchProcessor, Incoming
from pipeline.reference import Reference
from pipeline.validation import validate_event
from sinks.store import Store
from sinks.writer import ResultWriter

BATCH = 20_000


def load_lines(
    store: Store,
    database: str,
    lines: Iterable[str | bytes],
    reference: Reference,
    *,
    now_ms: int | None = None,
    late_horizon_days: int = 400,
) -> int:
    """Process and store every line; return the number of accepted events.

    ``now_ms`` bounds future timestamps (default: the wall clock)."""
    now = int(time.time() * 1000) if now_ms is None else now_ms

    def check(event: AnyEvent, at_ms: int) -> None:
        validate_event(event, reference, at_ms)

    processor = BatchProcessor(
        reference.result_is_document.__getitem__, check, late_horizon_days=late_horizon_days
    )
    writer = ResultWriter(store, database)
    accepted = 0
    batch: list[Incoming] = []
    for n, line in enumerate(lines):
        raw = line.encode() if isinstance(line, str) else line
        batch.append(Incoming(raw, f"load@{n}"))
        if len(batch) >= BATCH:
            accepted += _flush(processor, writer, batch, now)
            batch = []
    if batch:
        accepted += _flush(processor, writer, batch, now)
    return accepted


def _flush(
    processor: BatchProcessor, writer: ResultWriter, batch: list[Incoming], now_ms: int
) -> int:
    result = processor.process(batch, now_ms)
    writer.write(result, now_ms)
    return result.accepted
