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
from typing import NamedTuple

from pipeline.dossier import HANDLERS, DossierState, IsDocument
from pipeline.errors import DecodeError
from pipeline.events import TYPE_NAMES, AnyEvent, decode_timed
from pipeline.reference import Reference
from pipeline.validation import problem_of

TOMBSTONE = "tombstone"
INTERNAL_ERROR = "internal_error"

CheckEvent = Callable[[AnyEvent, int, int | None], DecodeError | None]
"""Validation of a decoded event given its ``occurred_at`` and its record timestamp (epoch ms;
the record's may be None when the record has none): the event's problem, or None."""


Message = tuple[bytes | None, str, int | None]
"""One message as the core reads it: ``Incoming``'s fields in a plain tuple, which is what the
worker builds per Kafka record (a named tuple's constructor is a Python call, several times the
cost of the tuple)."""


class Incoming(NamedTuple):
    """One message, with names (a ``Message``)."""

    raw: bytes | None
    """The message value; None for a tombstone (a record whose value is null)."""
    source: str
    """Where the bytes came from, for messages: ``topic[partition]@offset``."""
    timestamp_ms: int | None
    """The Kafka record timestamp in epoch ms; None when the record has none."""


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

    def process(self, batch: Sequence[Message]) -> BatchResult:
        """Decode, validate and fold a batch; never raises for bad input.

        The loop is the worker's hot path (benchmarks/bench_process.py): names are bound to
        locals and the fold's handlers are called directly, which is what ``dossier.apply``
        does for one event.
        """
        result = BatchResult()
        changed: dict[str, DossierState] = {}
        # Rows of changed states that an eviction replaced within the batch: the store merges
        # them with the row of the dossier's newer, partial state.
        replaced: list[tuple[object, ...]] = []
        dead_letters, archive, archive_sources = (
            result.dead_letters,
            result.archive,
            result.archive_sources,
        )
        states, new_state, check, is_document = (
            self._states,
            self._new_state,
            self._check,
            self._is_document,
        )
        handlers, type_names = HANDLERS, TYPE_NAMES
        accepted = unchanged = 0
        for raw, source, timestamp_ms in batch:
            if raw is None:
                dead_letters.append(
                    DeadLetter(b"", source, TOMBSTONE, "a tombstone (null value) is no event")
                )
                continue
            try:
                event, ts_ms = decode_timed(raw)
                problem = check(event, ts_ms, timestamp_ms)
                if problem is not None:
                    raise problem
                text = raw.decode()
            except DecodeError as error:
                dead_letters.append(DeadLetter(raw, source, error.kind, str(error)))
                continue
            except Exception as error:  # one message's problem must not stop the batch
                dead_letters.append(
                    DeadLetter(raw, source, INTERNAL_ERROR, f"{type(error).__name__}: {error}")
                )
                continue
            accepted += 1
            kind = type(event)
            dossier_id = event.dossier_id
            archive.append(
                (
                    event.event_id,
                    type_names[kind],
                    ts_ms,
                    event.unit_code,
                    dossier_id,
                    event.procedure_code,
                    text,
                )
            )
            archive_sources.append(source)
            handler = handlers.get(kind)
            state = states.get(dossier_id)
            if state is None:
                state = new_state(dossier_id)
                earlier = changed.pop(dossier_id, None)
                if earlier is not None:  # evicted earlier in this batch: keep its facts too
                    replaced.append(earlier.to_row())
            if handler is not None and handler(state, event, ts_ms, is_document):
                changed[dossier_id] = state
            else:
                unchanged += 1
        result.accepted, result.unchanged = accepted, unchanged
        result.snapshots = replaced + [state.to_row() for state in changed.values()]
        return result

    def _new_state(self, dossier_id: str) -> DossierState:
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

    def check(event: AnyEvent, ts_ms: int, record_ms: int | None) -> DecodeError | None:
        return problem_of(event, reference, record_ms, late_horizon_days, ts_ms)

    return BatchProcessor(
        reference.result_is_document.__getitem__, check, max_cached_dossiers=max_cached_dossiers
    )
