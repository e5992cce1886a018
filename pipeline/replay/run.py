"""The replay loop: record batches through the worker's core into a writer, counted, nothing else.

The same ``BatchProcessor`` (decode, validate, fold) and the same writer as the worker; the
caller (``pipeline/cli/replay.py``) picks the source, the target namespace and the clock.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from pipeline.processing import BatchProcessor, BatchResult, DeadLetter, processor_for
from pipeline.reference import Reference
from pipeline.replay.records import Record

StoreBatch = Callable[[BatchResult, int], None]
"""Stores a batch's rows or raises (``sinks.writer.ResultWriter.write``); int: recorded_ms."""
PublishDeadLetters = Callable[[Sequence[tuple[bytes, str, str, str]]], int]
"""Sends (raw, source, kind, reason) tuples to a dead-letter topic."""

REPLAY_CACHED_DOSSIERS = 400_000
"""A replay runs alone and briefly: a bigger state cache than the worker's means fewer rows."""


@dataclass
class ReplaySummary:
    """Counts of one replay. ``messages`` = ``accepted`` + ``dead_letters``: what the core saw."""

    messages: int = 0
    accepted: int = 0
    unchanged: int = 0
    """Accepted events that changed no dossier state (duplicates, re-sent facts, other types)."""
    dead_letters: int = 0
    skipped: int = 0
    """Events read but outside the window (``--from/--to`` and margin); not fed to the core."""
    seconds: float = 0.0

    @property
    def events_per_s(self) -> int:
        return round(self.messages / self.seconds) if self.seconds > 0 else 0

    def to_json(self) -> dict[str, object]:
        return {
            "messages": self.messages,
            "accepted": self.accepted,
            "unchanged": self.unchanged,
            "dead_letters": self.dead_letters,
            "skipped": self.skipped,
            "seconds": round(self.seconds, 3),
            "events_per_s": self.events_per_s,
        }


def build_processor(
    reference: Reference,
    late_horizon_days: int,
    max_cached_dossiers: int = REPLAY_CACHED_DOSSIERS,
) -> BatchProcessor:
    """The worker's core with the worker's rules (reference checks, lateness horizon)."""
    return processor_for(reference, late_horizon_days, max_cached_dossiers)


def fold(processor: BatchProcessor, records: Sequence[Record]) -> BatchResult:
    """Run one batch through the core (a ``Record`` is the core's ``Message``).

    Each record carries its record time (Kafka timestamp, or the event's own time), against
    which the core judges lateness and far-future times.
    """
    return processor.process(records)


def replay(
    batches: Iterable[tuple[Sequence[Record], int]],
    processor: BatchProcessor,
    store_batch: StoreBatch,
    publish_dead_letters: PublishDeadLetters | None,
    *,
    now_ms: int,
    clock_s: Callable[[], float],
    on_batch: Callable[[ReplaySummary], None] | None = None,
) -> ReplaySummary:
    """Fold every (records, skipped) batch, store its rows, publish its dead letters; count.

    Raises whatever storing or publishing raises (nothing is skipped silently); the rows
    already stored stay, and running the replay again is safe because every write merges.
    """
    summary = ReplaySummary()
    started_s = clock_s()
    for records, skipped in batches:
        summary.skipped += skipped
        if records:
            result = fold(processor, records)
            store_batch(result, now_ms)
            if publish_dead_letters is not None and result.dead_letters:
                publish_dead_letters([_as_tuple(d) for d in result.dead_letters])
            summary.messages += len(records)
            summary.accepted += result.accepted
            summary.unchanged += result.unchanged
            summary.dead_letters += len(result.dead_letters)
        summary.seconds = clock_s() - started_s
        if on_batch is not None:
            on_batch(summary)
    summary.seconds = clock_s() - started_s
    return summary


def _as_tuple(letter: DeadLetter) -> tuple[bytes, str, str, str]:
    return (letter.raw, letter.source, letter.kind, letter.reason)
