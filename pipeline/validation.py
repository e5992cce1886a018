"""Semantic checks of a decoded event against the reference data and plain physics.

The contract (``pipeline.events``) checks shape and types; this module checks meaning: a time
that fits the message's Kafka record timestamp, a known unit and procedure, values that cannot
happen together. Every problem is a ``DecodeError`` whose ``kind`` the caller routes to the
dead-letter topic; the checks run in this order and the first problem wins:

==================  ===========================================================================
kind                meaning
==================  ===========================================================================
too_late            ``occurred_at`` is more than ``late_horizon_days`` before the record timestamp
far_future          ``occurred_at`` is more than one day after the record timestamp (exactly one
                    day is accepted)
unknown_unit        ``unit_code`` is not a unit of the reference data
unknown_procedure   ``procedure_code`` is not a procedure of the reference data
impossible_value    a received or feedback ``due_at`` before ``occurred_at``;
                    ``reused_components`` > ``components``; a successful payment of 0 VND
==================  ===========================================================================

Whether a message counts therefore depends only on its bytes, its record timestamp and the
configuration: never on what a worker saw before, nor on the clock when it is processed, so a
replay of the same records gives the same verdicts. Tools that load history stamp each record
with the event's own time (``record_ms_for``), so a year-old export still counts.

A record without a timestamp (``record_ms`` None: a pre-0.10 message format, or a caller that
has none) is judged by its bytes alone: the two time checks are skipped, and the contract's
fixed range of ``occurred_at`` (``pipeline.events.EARLIEST``/``LATEST``) is the only bound.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pipeline.errors import DecodeError
from pipeline.events import (
    AnyEvent,
    DossierDigitized,
    DossierReceived,
    FeedbackReceived,
    PaymentSucceeded,
    decode_timed,
    to_ms,
)
from pipeline.reference import Reference

UNKNOWN_UNIT = "unknown_unit"
UNKNOWN_PROCEDURE = "unknown_procedure"
FAR_FUTURE = "far_future"
TOO_LATE = "too_late"
IMPOSSIBLE_VALUE = "impossible_value"
DAY_MS = 86_400_000
MAX_AHEAD_MS = DAY_MS
"""How far after its record timestamp an event may say it happened (clock skew between systems)."""


def problem_of(
    event: AnyEvent,
    reference: Reference,
    record_ms: int | None,
    late_horizon_days: int,
    ts_ms: int | None = None,
) -> DecodeError | None:
    """The first problem of a decoded event (timing, then meaning), or None when it is acceptable.

    ``record_ms`` is the message's Kafka record timestamp in epoch ms, or None when it has none;
    ``ts_ms`` is the event's ``occurred_at`` in epoch ms when the caller has it already
    (``pipeline.events.decode_timed``). The checks that pass cost a few comparisons and set
    lookups; only a failing one builds its message.
    """
    if record_ms is not None:
        if ts_ms is None:
            ts_ms = event.ts_ms
        if record_ms - ts_ms > late_horizon_days * DAY_MS or ts_ms - record_ms > MAX_AHEAD_MS:
            return timing_problem(event, record_ms, late_horizon_days)
    if event.unit_code not in reference.unit_codes:
        return _problem(event, UNKNOWN_UNIT, "unit_code", f"unknown unit {event.unit_code!r}")
    if event.procedure_code not in reference.procedure_codes:
        return _problem(
            event,
            UNKNOWN_PROCEDURE,
            "procedure_code",
            f"unknown procedure {event.procedure_code!r}",
        )
    value_problem = _VALUE_PROBLEMS.get(type(event))
    if value_problem is None:
        return None
    return value_problem(event, event.ts_ms if ts_ms is None else ts_ms)


def timing_problem(
    event: AnyEvent, record_ms: int | None, late_horizon_days: int
) -> DecodeError | None:
    """too_late or far_future measured against the record timestamp; None without one."""
    if record_ms is None:
        return None
    occurred_ms = event.ts_ms
    if record_ms - occurred_ms > late_horizon_days * DAY_MS:
        return _problem(
            event,
            TOO_LATE,
            "occurred_at",
            f"{event.occurred_at.isoformat()} is {(record_ms - occurred_ms) // DAY_MS} days before "
            f"its record timestamp, beyond the {late_horizon_days}-day horizon",
        )
    if occurred_ms - record_ms > MAX_AHEAD_MS:
        return _problem(
            event,
            FAR_FUTURE,
            "occurred_at",
            f"{event.occurred_at.isoformat()} is more than one day after its record timestamp",
        )
    return None


def meaning_problem(event: AnyEvent, reference: Reference) -> DecodeError | None:
    """Unknown unit or procedure, or values that cannot happen together; None when all is well."""
    return problem_of(event, reference, None, 0)


def _due_before_occurred(
    event: DossierReceived | FeedbackReceived, ts_ms: int
) -> DecodeError | None:
    if to_ms(event.due_at) < ts_ms:
        return _problem(event, IMPOSSIBLE_VALUE, "due_at", "due_at is before occurred_at")
    return None


def _more_reused_than_components(event: DossierDigitized, _ts_ms: int) -> DecodeError | None:
    if event.reused_components > event.components:
        return _problem(
            event,
            IMPOSSIBLE_VALUE,
            "reused_components",
            f"reused_components {event.reused_components} > components {event.components}",
        )
    return None


def _free_payment(event: PaymentSucceeded, _ts_ms: int) -> DecodeError | None:
    if event.amount == 0:
        return _problem(event, IMPOSSIBLE_VALUE, "amount", "a successful payment of 0 VND")
    return None


_VALUE_PROBLEMS: dict[type, Callable[[Any, int], DecodeError | None]] = {
    DossierReceived: _due_before_occurred,
    FeedbackReceived: _due_before_occurred,
    DossierDigitized: _more_reused_than_components,
    PaymentSucceeded: _free_payment,
}
"""The value checks of each event type (looked up by exact type: the event types have no
subclasses), so that an event pays for its own checks only."""


def validate_event(
    event: AnyEvent, reference: Reference, record_ms: int | None, late_horizon_days: int
) -> AnyEvent:
    """Return the event unchanged if it is acceptable; raise its DecodeError otherwise."""
    problem = problem_of(event, reference, record_ms, late_horizon_days)
    if problem is not None:
        raise problem
    return event


def accept_event(
    raw: bytes | str, reference: Reference, record_ms: int | None, late_horizon_days: int
) -> AnyEvent:
    """Decode (contract) then validate (timing, meaning) one message; raises DecodeError only."""
    event, ts_ms = decode_timed(raw)
    problem = problem_of(event, reference, record_ms, late_horizon_days, ts_ms)
    if problem is not None:
        raise problem
    return event


def record_ms_for(occurred_ms: int | None, now_ms: int) -> int:
    """The record timestamp a history-loading tool gives a message: the event's own time.

    A line whose time cannot be read (None) keeps the produce time ``now_ms``; so does an event
    dated after ``now_ms``, so that a future event is judged against the moment it was loaded
    (and brokers that refuse future record timestamps are not asked to store one).
    """
    return now_ms if occurred_ms is None else min(occurred_ms, now_ms)


def _problem(event: AnyEvent, kind: str, field: str, reason: str) -> DecodeError:
    return DecodeError(
        reason, field=field, event_id=event.event_id, event_type=event.type, kind=kind
    )
