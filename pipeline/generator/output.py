"""Where generated lines go: a JSON Lines file (or stdout), or the Kafka input topics.

The edge of the generator: it writes whole days at a time (one join, one encode, one write),
paces to ``rate`` lines per second for live demos, and reports counts in a ``Summary``.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import BinaryIO

from pipeline.broker import topic_for_type
from pipeline.generator.stream import DayBatch
from pipeline.producing import Message, Pacer, produce_all
from pipeline.settings import Settings
from pipeline.validation import record_ms_for

_LIVE_CHUNK_S = 0.1


@dataclass
class Summary:
    """What a generation run produced."""

    lines: int = 0
    """Lines written or sent, noise included."""
    events: int = 0
    """Distinct good events (each once, before duplicates)."""
    dossiers: int = 0
    """Dossiers received in the window."""
    bad_lines: int = 0
    duplicates: int = 0
    days: int = 0
    elapsed_s: float = 0.0

    def add(self, batch: DayBatch) -> None:
        self.lines += len(batch.items)
        self.events += batch.events
        self.dossiers += batch.dossiers
        self.bad_lines += batch.bad
        self.duplicates += batch.duplicates
        self.days += 1

    @property
    def lines_per_s(self) -> float:
        return self.lines / self.elapsed_s if self.elapsed_s > 0 else 0.0

    def to_json(self) -> dict[str, object]:
        return {
            "lines": self.lines,
            "events": self.events,
            "dossiers": self.dossiers,
            "bad_lines": self.bad_lines,
            "duplicates": self.duplicates,
            "days": self.days,
            "elapsed_s": round(self.elapsed_s, 3),
            "lines_per_s": round(self.lines_per_s),
        }


@contextmanager
def fewer_collections() -> Iterator[None]:
    """Collect garbage less often while millions of short-lived, acyclic tuples are made.

    The generator holds the events still pending for future days; with default thresholds the
    cyclic collector re-scans them again and again for nothing (about a tenth of the run).
    """
    before = gc.get_threshold()
    gc.set_threshold(200_000, 50, 1000)
    try:
        yield
    finally:
        gc.set_threshold(*before)


def write_jsonl(
    batches: Iterable[DayBatch],
    out: BinaryIO,
    *,
    rate: float | None = None,
    on_batch: Callable[[DayBatch], None] | None = None,
) -> Summary:
    """Write every line followed by a newline; return the counts.

    With ``rate`` (lines/s) the lines go out in small timed chunks and flushed, like a live
    feed; without it each day is one write.
    """
    summary = Summary()
    started = time.monotonic()
    pacer = Pacer(rate)
    with fewer_collections():
        for batch in batches:
            if batch.items and rate is None:
                out.write(batch.to_bytes())
            elif batch.items and rate is not None:
                lines = batch.lines
                step = max(1, int(rate * _LIVE_CHUNK_S))
                for i in range(0, len(lines), step):
                    out.write(("\n".join(lines[i : i + step]) + "\n").encode())
                    out.flush()
                    time.sleep(pacer.delay_s(summary.lines + i + step))
            summary.add(batch)
            if on_batch is not None:
                on_batch(batch)
    out.flush()
    summary.elapsed_s = time.monotonic() - started
    return summary


def kafka_messages(settings: Settings, batch: DayBatch, now_ms: int) -> list[Message]:
    """The batch as (topic, key = dossier_id, value = line) messages for the input topics.

    Each record is stamped with its line's simulated emission time (the event's own time, later
    only for lines the noise holds back or re-sends), capped at ``now_ms``: the worker judges
    lateness against the record timestamp, so a simulated past still counts when sent today.
    """
    topics: dict[str, str] = {}
    messages: list[Message] = []
    for emitted_s, line, dossier_id, kind in batch.items:
        topic = topics.get(kind)
        if topic is None:
            topic = topics[kind] = settings.topic(topic_for_type(kind))
        record_ms = record_ms_for(emitted_s * 1000, now_ms)
        messages.append((topic, dossier_id.encode(), line.encode(), None, record_ms))
    return messages


def produce_batches(
    batches: Iterable[DayBatch],
    settings: Settings,
    *,
    rate: float | None = None,
    on_batch: Callable[[DayBatch], None] | None = None,
) -> Summary:
    """Send every line to its input topic, keyed by dossier_id; the topics must exist."""
    summary = Summary()
    started = time.monotonic()
    pending: list[DayBatch] = []

    def chunks() -> Iterator[list[Message]]:
        for batch in batches:
            pending.append(batch)
            yield kafka_messages(settings, batch, now_ms=int(time.time() * 1000))

    def done(_: int) -> None:
        batch = pending.pop(0)
        summary.add(batch)
        if on_batch is not None:
            on_batch(batch)

    with fewer_collections():
        produce_all(settings, chunks(), rate=rate, on_chunk=done)
    summary.elapsed_s = time.monotonic() - started
    return summary
