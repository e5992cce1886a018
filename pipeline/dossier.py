"""Per-dossier state: the join of a dossier's facts, the same whatever their order or duplicates.

Every field either only goes up (flags), keeps the smallest ``(time, event_id)`` key seen (the
reception and the completion that count), or keeps the earliest time of a fact (0 = none yet:
the first dissatisfied rating, the first complaint and its answer), or the two earliest
distinct times of supplement requests (the 766 progress rule only asks "none, one, or more").
Times are kept, not just flags, so the score can be evaluated as of any moment (a pending
dossier turns overdue when its due time passes, with no event). Applying an event is therefore idempotent,
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
    DossierRated,
    DossierReceived,
    DossierResultIssued,
    DossierSupplementRequested,
    DossierSynced,
    Event,
    FeedbackRated,
    FeedbackReceived,
    FeedbackResolved,
    PaymentSucceeded,
    to_ms,
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
    due_ms: int = 0
    """Promised return time of the reception that counts."""
    supplement1_ms: int = 0
    """Earliest supplement request (0: none); ``supplement2_ms`` the next distinct one."""
    supplement2_ms: int = 0
    dissatisfied_ms: int = 0
    """Earliest ``dossier.rated`` with ``satisfied`` false (0: none)."""
    feedback_ms: int = 0
    """Earliest complaint (``feedback.received``) about the dossier (0: none)."""
    feedback_due_ms: int = 0
    """Due time of that earliest complaint (the smallest, if two arrived in the same ms)."""
    feedback_resolved_ms: int = 0
    """Earliest ``feedback.resolved`` of the dossier's complaints (0: none)."""
    feedback_dissatisfied_ms: int = 0
    """Earliest ``feedback.rated`` with ``satisfied`` false (0: none)."""
    data_store: int = 0
    """A component was taken from the applicant's data store on the portal (766 item 3.4)."""
    population_data: int = 0
    """Data from the population database / VNeID was used (766 item 3.5)."""
    e_result_ms: int = 0
    """Earliest electronic result (0: none), so 3.2 and 4.3 can ask "issued by then?"."""

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
            self.due_ms,
            self.supplement1_ms,
            self.supplement2_ms,
            self.dissatisfied_ms,
            self.feedback_ms,
            self.feedback_due_ms,
            self.feedback_resolved_ms,
            self.feedback_dissatisfied_ms,
            self.data_store,
            self.population_data,
            self.e_result_ms,
        )


_FLAGS = ("paid_online", "digitized", "reused", "synced", "e_result", "data_store",
          "population_data")  # fmt: skip
_EARLIEST = ("dissatisfied_ms", "feedback_resolved_ms", "feedback_dissatisfied_ms", "e_result_ms")
"""Fields that keep the earliest nonzero time seen."""


def order_key(ts_ms: int, event_id: str) -> str:
    """A string that sorts like ``(ts_ms, event_id)`` (13 digits cover years 1970-2286)."""
    return f"{ts_ms:013d}|{event_id}"


def apply(
    state: DossierState, event: Event, is_document: IsDocument, ts_ms: int | None = None
) -> bool:
    """Fold one event into ``state``; return whether anything changed.

    Only the facts behind the indicators are kept; other event types change nothing.
    ``ts_ms`` is the event's ``occurred_at`` in epoch ms when the caller has it already.
    """
    handler = HANDLERS.get(type(event))
    if handler is None:
        return False
    return handler(state, event, event.ts_ms if ts_ms is None else ts_ms, is_document)


def merge(into: DossierState, other: DossierState) -> bool:
    """Join ``other`` into ``into`` (same dossier); return whether ``into`` changed."""
    changed = False
    if other.received_key and (not into.received_key or other.received_key < into.received_key):
        for name in ("unit_code", "procedure_code", "received_key", "received_ms", "channel",
                     "fee_amount", "result_is_document", "due_ms"):  # fmt: skip
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
    for name in _EARLIEST:
        changed |= _keep_earliest(into, name, getattr(other, name))
    for ts_ms in (other.supplement1_ms, other.supplement2_ms):
        changed |= _add_supplement(into, ts_ms)
    changed |= _add_feedback(into, other.feedback_ms, other.feedback_due_ms)
    return changed


def _keep_earliest(state: DossierState, name: str, ts_ms: int) -> bool:
    current = getattr(state, name)
    if ts_ms and (not current or ts_ms < current):
        setattr(state, name, ts_ms)
        return True
    return False


def _add_supplement(state: DossierState, ts_ms: int) -> bool:
    """Keep the two earliest distinct request times (a join: the two smallest of a set)."""
    if not ts_ms or ts_ms in (state.supplement1_ms, state.supplement2_ms):
        return False
    first, second = state.supplement1_ms, state.supplement2_ms
    if not first or ts_ms < first:
        state.supplement1_ms, state.supplement2_ms = ts_ms, first
        return True
    if not second or ts_ms < second:
        state.supplement2_ms = ts_ms
        return True
    return False


def _add_feedback(state: DossierState, ts_ms: int, due_ms: int) -> bool:
    """Keep the earliest complaint, by (time, due time)."""
    if not ts_ms or (
        state.feedback_ms and (state.feedback_ms, state.feedback_due_ms) <= (ts_ms, due_ms)
    ):
        return False
    state.feedback_ms, state.feedback_due_ms = ts_ms, due_ms
    return True


def _received(
    state: DossierState, event: DossierReceived, ts_ms: int, is_document: IsDocument
) -> bool:
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
    state.due_ms = to_ms(event.due_at)
    return True


def _completed(state: DossierState, event: DossierCompleted, ts_ms: int, _: IsDocument) -> bool:
    key = order_key(ts_ms, event.event_id)
    if state.completed_key and state.completed_key <= key:
        return False
    state.completed_key, state.completed_ms, state.outcome = key, ts_ms, sys.intern(event.outcome)
    return True


def _digitized(state: DossierState, event: DossierDigitized, _ts_ms: int, _: IsDocument) -> bool:
    changed = False
    if event.components >= 1 and not state.digitized:
        state.digitized = 1
        changed = True
    if event.reused_components >= 1 and not state.reused:
        state.reused = 1
        changed = True
    if event.from_data_store and not state.data_store:
        state.data_store = 1
        changed = True
    if event.from_population_data and not state.population_data:
        state.population_data = 1
        changed = True
    return changed


def _synced(state: DossierState, _event: DossierSynced, _ts_ms: int, _: IsDocument) -> bool:
    if state.synced:
        return False
    state.synced = 1
    return True


def _result_issued(
    state: DossierState, event: DossierResultIssued, ts_ms: int, _: IsDocument
) -> bool:
    if not event.electronic:
        return False
    changed = _keep_earliest(state, "e_result_ms", ts_ms)
    if not state.e_result:
        state.e_result = 1
        changed = True
    return changed


def _payment(state: DossierState, event: PaymentSucceeded, _ts_ms: int, _: IsDocument) -> bool:
    if event.method not in ONLINE_PAYMENT_METHODS or state.paid_online:
        return False
    state.paid_online = 1
    return True


def _supplement(
    state: DossierState, event: DossierSupplementRequested, ts_ms: int, _: IsDocument
) -> bool:
    return _add_supplement(state, ts_ms)


def _rated(state: DossierState, event: DossierRated, ts_ms: int, _: IsDocument) -> bool:
    return not event.satisfied and _keep_earliest(state, "dissatisfied_ms", ts_ms)


def _feedback_received(
    state: DossierState, event: FeedbackReceived, ts_ms: int, _: IsDocument
) -> bool:
    return _add_feedback(state, ts_ms, to_ms(event.due_at))


def _feedback_resolved(
    state: DossierState, event: FeedbackResolved, ts_ms: int, _: IsDocument
) -> bool:
    return _keep_earliest(state, "feedback_resolved_ms", ts_ms)


def _feedback_rated(state: DossierState, event: FeedbackRated, ts_ms: int, _: IsDocument) -> bool:
    return not event.satisfied and _keep_earliest(state, "feedback_dissatisfied_ms", ts_ms)


HANDLERS: dict[type, Callable[[DossierState, object, int, IsDocument], bool]] = {
    DossierReceived: _received,  # type: ignore[dict-item]
    DossierCompleted: _completed,  # type: ignore[dict-item]
    DossierDigitized: _digitized,  # type: ignore[dict-item]
    DossierSynced: _synced,  # type: ignore[dict-item]
    DossierResultIssued: _result_issued,  # type: ignore[dict-item]
    PaymentSucceeded: _payment,  # type: ignore[dict-item]
    DossierSupplementRequested: _supplement,  # type: ignore[dict-item]
    DossierRated: _rated,  # type: ignore[dict-item]
    FeedbackReceived: _feedback_received,  # type: ignore[dict-item]
    FeedbackResolved: _feedback_resolved,  # type: ignore[dict-item]
    FeedbackRated: _feedback_rated,  # type: ignore[dict-item]
}
