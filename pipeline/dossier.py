"""Per-dossier state: the join of a dossier's facts, the same whatever their order or duplicates.

Every field either only goes up (flags) or keeps the smallest ``(time, event_id)`` key seen (the
reception and the completion that count). Applying an event is therefore idempotent,
commutative and associative: two partial states of one dossier combine into the state of all
their events (``merge``), which is what lets the store merge snapshots written by different
workers, partitions or restarts (see ``sinks/schema.py``).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass

from pipeline.events import (
    ONLINE_PAYMENT_METHODS,
    DossierCompleted,
    DossierDigitized,
    DossierReceived,
    DossierResultIssued,
    DossierSynced,
    Event,
    PaymentSucceeded,
)

IsDocument = Callable[[str], bool]
"""Whether a procedure's result is a written document (from the reference data)."""


@dataclass(slots=True)
class DossierState:
    dossier_id: str
    unit_code: str = ""
    procedure_code: str = ""
    received_key: str = ""
    """``order_key`` of the reception that counts; empty until one is seen."""
    received_ms: int = 0
    channel: str = ""
    fee_amount: int = 0
    result_is_document: int = 0
    completed_key: str = ""
    """``order_key`` of the completion that counts; empty until one is seen."""
    completed_ms: int = 0
    outcome: str = ""
    paid_online: int = 0
    digitized: int = 0
    reused: int = 0
    synced: int = 0
    e_result: int = 0

    @property
    def is_received(self) -> bool:
        return bool(self.received_key)

    def to_row(self) -> tuple[object, ...]:
        """The snapshot row, in ``sinks.schema.DOSSIER_STATE_COLUMNS`` order."""
        return (
            self.dossier_id,
            self.unit_code,
            self.procedure_code,
            self.received_key,
            self.received_ms,
            self.channel,
            self.fee_amount,
            self.result_is_document,
            self.completed_key,
            self.completed_ms,
            self.outcome,
            self.paid_online,
            self.digitized,
            self.reused,
            self.synced,
            self.e_result,
        )


_FLAGS = ("paid_online", "digitized", "reused", "synced", "e_result")


def order_key(ts_ms: int, event_id: str) -> str:
    """A string that sorts like ``(ts_ms, event_id)`` (13 digits cover years 1970-2286)."""
    return f"{ts_ms:013d}|{event_id}"


def apply(state: DossierState, event: Event, is_document: IsDocument) -> bool:
    """Fold one event into ``state``; return whether anything changed.

    Only the facts behind the indicators are kept; other event types change nothing.
    """
    handler = _HANDLERS.get(type(event))
    return handler(state, event, is_document) if handler else False


def merge(into: DossierState, other: DossierState) -> bool:
    """Join ``other`` into ``into`` (same dossier); return whether ``into`` changed."""
    changed = False
    if other.received_key and (not into.received_key or other.received_key < into.received_key):
        for name in ("unit_code", "procedure_code", "received_key", "received_ms", "channel",
                     "fee_amount", "result_is_document"):  # fmt: skip
            setattr(into, name, getattr(other, name))
        changed = True
    if other.completed_key and (not into.completed_key or other.completed_key < into.completed_key):
        into.completed_key, into.completed_ms, into.outcome = (
            other.completed_key,
            other.completed_ms,
            other.outcome,
        )
        changed = True
    for name in _FLAGS:
        if getattr(other, name) and not getattr(into, name):
            setattr(into, name, 1)
            changed = True
    return changed


def _received(state: DossierState, event: DossierReceived, is_document: IsDocument) -> bool:
    ts_ms = event.ts_ms
    key = order_key(ts_ms, event.event_id)
    if state.received_key and state.received_key <= key:
        return False
    state.received_key = key
    state.received_ms = ts_ms
    # A province has a few hundred units and a few thousand procedures: share the strings, so
    # a state cache of hundreds of thousands of dossiers stays small.
    state.unit_code = sys.intern(event.unit_code)
    state.procedure_code = sys.intern(event.procedure_code)
    state.channel = sys.intern(event.channel)
    state.fee_amount = event.fee_amount
    state.result_is_document = int(is_document(event.procedure_code))
    return True


def _completed(state: DossierState, event: DossierCompleted, _: IsDocument) -> bool:
    ts_ms = event.ts_ms
    key = order_key(ts_ms, event.event_id)
    if state.completed_key and state.completed_key <= key:
        return False
    state.completed_key, state.completed_ms, state.outcome = key, ts_ms, sys.intern(event.outcome)
    return True


def _digitized(state: DossierState, event: DossierDigitized, _: IsDocument) -> bool:
    changed = False
    if event.components >= 1 and not state.digitized:
        state.digitized = 1
        changed = True
    if event.reused_components >= 1 and not state.reused:
        state.reused = 1
        changed = True
    return changed


def _synced(state: DossierState, _event: DossierSynced, _: IsDocument) -> bool:
    if state.synced:
        return False
    state.synced = 1
    return True


def _result_issued(state: DossierState, event: DossierResultIssued, _: IsDocument) -> bool:
    if not event.electronic or state.e_result:
        return False
    state.e_result = 1
    return True


def _payment(state: DossierState, event: PaymentSucceeded, _: IsDocument) -> bool:
    if event.method not in ONLINE_PAYMENT_METHODS or state.paid_online:
        return False
    state.paid_online = 1
    return True


_HANDLERS: dict[type, Callable[[DossierState, object, IsDocument], bool]] = {
    DossierReceived: _received,  # type: ignore[dict-item]
    DossierCompleted: _completed,  # type: ignore[dict-item]
    DossierDigitized: _digitized,  # type: ignore[dict-item]
    DossierSynced: _synced,  # type: ignore[dict-item]
    DossierResultIssued: _result_issued,  # type: ignore[dict-item]
    PaymentSucceeded: _payment,  # type: ignore[dict-item]
}
