"""The worker's decision core: a batch of raw messages in, rows to store and dead letters out.

No I/O here: the Faust agent (``streams/agents.py``) feeds batches and writes what comes back.
The processor keeps a bounded cache of dossier states so that duplicates and re-sent facts
produce no rows. Evicting a state is safe: a later event for that dossier starts a partial state
whose snapshot the store merges with the earlier ones (``sinks/schema.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from pipeline.dossier import DossierState, IsDocument, apply
from pipeline.errors import DecodeError
from pipeline.events import AnyEvent, decode_event

DAY_MS = 86_400_000

CheckEvent = Callable[[AnyEvent, int], None]
"""Semantic validation of a decoded event at wall-clock ``now_ms``; raises DecodeError."""


@dataclass(frozen=True, slots=True)
class Incoming:
    raw: bytes
    source: str
    """Where the bytes came from, for messages: ``topic[partition]@offset``."""
    timestamp_ms: int = -1
    """The Kafka record timestamp (epoch ms), -1 when there is none."""


@dataclass(frozen=True, slots=True)
class DeadLetter:
    raw: bytes
    source: str
    kind: str
    reason: str


@dataclass(slots=True)
class BatchResult:
    snapshots: list[tuple[object, ...]] = field(default_factory=list)
    """Rows for ``dossier_state``: the new state of every dossier the batch changed."""
    archive: list[tuple[object, ...]] = field(default_factory=list)
    """Rows for ``events_raw``: every accepted event with its original JSON."""
    dead_letters: list[DeadLetter] = field(default_factory=list)
    accepted: int = 0
    unchanged: int = 0
    """Accepted events that changed no state: duplicates, re-sent facts, non-indicator events."""


class BatchProcessor:
    def __init__(
        self,
        is_document: IsDocument,
        check: CheckEvent,
        late_horizon_days: int = 400,
        max_cached_dossiers: int = 150_000,
    ) -> None:
        self._is_document = is_document
        self._check = check
        self._horizon_ms = late_horizon_days * DAY_MS
        # 150k dossiers is about six weeks of a 1M-dossier province, when nearly all of a
        # dossier's events arrive; a later event of an evicted dossier costs one more snapshot
        # row, never a wrong number. It bounds the worker's memory (benchmarks/bench_stream.py).
        self._max_cached = max_cached_dossiers
        self._states: dict[str, DossierState] = {}
        self.stream_time_ms = 0
        """Newest event time accepted so far; lateness is measured against it, not the clock."""

    @property
    def cached_dossiers(self) -> int:
        return len(self._states)

    def process(self, batch: Sequence[Incoming], now_ms: int) -> BatchResult:
        """Decode, validate and fold a batch. ``now_ms`` (wall clock) only bounds future times."""
        result = BatchResult()
        changed: dict[str, DossierState] = {}
        for message in batch:
            try:
                event = decode_event(message.raw)
                self._check(event, now_ms)
                ts_ms = event.ts_ms
                if ts_ms < self.stream_time_ms - self._horizon_ms:
                    raise DecodeError(
                        f"occurred {(self.stream_time_ms - ts_ms) // DAY_MS} days before stream time, "
                        f"beyond the {self._horizon_ms // DAY_MS}-day horizon",
                        field="occurred_at",
                        event_id=event.event_id,
                        event_type=event.type,
                        kind="too_late",
                    )
            except DecodeError as error:
                result.dead_letters.append(
                    DeadLetter(message.raw, message.source, error.kind, str(error))
                )
                continue
            if ts_ms > self.stream_time_ms:
                self.stream_time_ms = ts_ms
            result.accepted += 1
            result.archive.append(
                (
                    event.event_id,
                    event.type,
                    ts_ms,
                    event.unit_code,
                    event.dossier_id,
                    event.procedure_code,
                    message.raw.decode(),
                )
            )
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
