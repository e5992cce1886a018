"""The worker's decision core: a batch of raw messages in, rows to store and dead letters out.

No I/O here: the Faust agent (``streams/agents.py``) feeds batches and writes what comes back.
Whether a message is accepted depends only on the message (its bytes and its Kafka record
timestamp) and the configuration bound into ``check`` (``pipeline.validation``): never on
earlier batches, the partition or the clock. Every message is either accepted or becomes one
dead letter; no input can make ``process`` raise.

The processor keeps a bounded cache of dossier states so that duplicates and re-sent facts
produce no rows. Evicting a state is safe: a later event for that dossier starts a partial state
whose snapshot the store merges with the earlier ones (``sinks/schema.py``).

Dead-letter kinds: those of ``pipeline.events.decode_event`` (``not_json``, ``too_deep``,
``not_object``, ``unknown_type``, ``missing_field``, ``wrong_type``, ``impossible_value``,
``invalid``), of ``pipeline.validation`` (``too_late``, ``far_future``, ``unknown_unit``,
``unknown_procedure``, ``impossible_value``), and here ``tombstone`` (a record with a null
value) and ``internal_error`` (an unforeseen exception while reading one message). The writer
adds ``store_rejected`` (``sinks/writer.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from pipeline.dossier import DossierState, IsDocument, apply
from pipeline.errors import DecodeError
from pipeline.events import AnyEvent, decode_event
from pipeline.reference import Reference
from pipeline.validation import validate_event

TOMBSTONE = "tombstone"
INTERNAL_ERROR = "internal_error"

CheckEvent = Callable[[AnyEvent, int | None], None]
"""Validation of a decoded event given its record timestamp (epoch ms, or None when the record
has none); raises DecodeError."""


@dataclass(frozen=True, slots=True)
class Incoming:
    raw: bytes | None
    """The message value; None for a tombstone (a record whose value is null)."""
    source: str
    """Where the bytes came from, for messages: ``topic[partition]@offset``."""
    timestamp_ms: int | None
    """The Kafka record timestamp in epoch ms; None when the record has none."""


def record_ms_from_s(timestamp_s: float | None) -> int | None:
    """A record timestamp in epoch seconds as clients report it (Faust: float seconds, -0.001
    for "none") to epoch ms, or None when the record has none."""
    if timestamp_s is None or timestamp_s < 0:
        return None
    return round(timestamp_s * 1000)


@dataclass(frozen=True, slots=True)
class DeadLetter:
    raw: bytes
    """The original bytes (empty for a tombstone)."""
    source: str
    kind: str
    reason: str


@dataclass(slots=True)
class BatchResult:
    snapshots: list[tuple[object, ...]] = field(default_factory=list)
    """Rows for ``dossier_state``: the new state of every dossier the batch changed."""
    archive: list[tuple[object, ...]] = field(default_factory=list)
    """Rows for ``events_raw``: every accepted event with its original JSON."""
    archive_sources: list[str] = field(default_factory=list)
    """The source of each ``archive`` row, in the same order."""
    dead_letters: list[DeadLetter] = field(default_factory=list)
    accepted: int = 0
    unchanged: int = 0
    """Accepted events that changed no state: duplicates, re-sent facts, non-indicator events."""


class BatchProcessor:
    def __init__(
        self,
        is_document: IsDocument,
        check: CheckEvent,
        max_cached_dossiers: int = 150_000,
    ) -> None:
        self._is_document = is_document
        self._check = check
        # 150k dossiers is about six weeks of a 1M-dossier province, when nearly all of a
        # dossier's events arrive; a later event of an evicted dossier costs one more snapshot
        # row, never a wrong number. It bounds the worker's memory (benchmarks/bench_stream.py).
        self._max_cached = max_cached_dossiers
        self._states: dict[str, DossierState] = {}

    @property
    def cached_dossiers(self) -> int:
        return len(self._states)

    def process(self, batch: Sequence[Incoming]) -> BatchResult:
        """Decode, validate and fold a batch; never raises for bad input."""
        result = BatchResult()
        changed: dict[str, DossierState] = {}
        for message in batch:
            raw = message.raw
            if raw is None:
                result.dead_letters.append(
                    DeadLetter(
                        b"", message.source, TOMBSTONE, "a tombstone (null value) is no event"
                    )
                )
                continue
            try:
                event = decode_event(raw)
                self._check(event, message.timestamp_ms)
                text = raw.decode()
            except DecodeError as error:
                result.dead_letters.append(DeadLetter(raw, message.source, error.kind, str(error)))
                continue
            except Exception as error:  # one message's problem must not stop the batch
                result.dead_letters.append(
                    DeadLetter(
                        raw, message.source, INTERNAL_ERROR, f"{type(error).__name__}: {error}"
                    )
                )
                continue
            result.accepted += 1
            result.archive.append(
                (
                    event.event_id,
                    event.type,
                    event.ts_ms,
                    event.unit_code,
                    event.dossier_id,
                    event.procedure_code,
                    text,
                )
            )
            result.archive_sources.append(message.source)
            state = self._state_of(event.dossier_id)
            if apply(state, event, self._is_document):
                changed[event.dossier_id] = state
            else:
                result.unchanged += 1
        result.snapshots = [state.to_row() for state in changed.values()]
        return result

    def _state_of(self, dossier_id: str) -> DossierState:
        state = self._states.get(dossier_id)
        if state is None:
            if len(self._states) >= self._max_cached:
                self._evict_oldest(max(1, self._max_cached // 10))
            state = self._states[dossier_id] = DossierState(dossier_id)
        return state

    def _evict_oldest(self, count: int) -> None:
        for dossier_id in list(self._states)[:count]:
            del self._states[dossier_id]


def processor_for(
    reference: Reference, late_horizon_days: int, max_cached_dossiers: int = 150_000
) -> BatchProcessor:
    """The worker's processor: the reference data's checks, lateness against the record time."""

    def check(event: AnyEvent, record_ms: int | None) -> None:
        validate_event(event, reference, record_ms, late_horizon_days)

    return BatchProcessor(
        reference.result_is_document.__getitem__, check, max_cached_dossiers=max_cached_dossiers
    )
