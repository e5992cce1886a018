"""Semantic checks of a decoded event against the reference data and plain physics.

The contract (``pipeline.events``) checks shape and types; this module checks meaning: a known
unit and procedure, a time that is not in the future, values that cannot happen together. It is
pure: the caller passes ``now_ms`` (epoch milliseconds) instead of reading a clock. Every
problem is a ``DecodeError`` whose ``kind`` the caller routes to the dead-letter topic:

==================  ===========================================================================
kind                meaning
==================  ===========================================================================
unknown_unit        ``unit_code`` is not a unit of the reference data
unknown_procedure   ``procedure_code`` is not a procedure of the reference data
far_future          ``occurred_at`` is more than one day after now (exactly one day is accepted)
impossible_value    a received or feedback ``due_at`` before ``occurred_at``;
                    ``reused_components`` > ``components``; a successful payment of 0 VND
==================  ===========================================================================
"""

from __future__ import annotations

from pipeline.errors import DecodeError
from pipeline.events import (
    AnyEvent,
    DossierDigitized,
    DossierReceived,
    FeedbackReceived,
    PaymentSucceeded,
    decode_event,
    to_ms,
)
from pipeline.reference import Reference

UNKNOWN_UNIT = "unknown_unit"
UNKNOWN_PROCEDURE = "unknown_procedure"
FAR_FUTURE = "far_future"
IMPOSSIBLE_VALUE = "impossible_value"
MAX_AHEAD_MS = 86_400_000
"""How far after ``now_ms`` an event may say it happened (clock skew between systems)."""


def problem_of(event: AnyEvent, reference: Reference, now_ms: int) -> DecodeError | None:
    """The first semantic problem of a decoded event, or None when it is acceptable."""
    if not reference.has_unit(event.unit_code):
        return _problem(event, UNKNOWN_UNIT, "unit_code", f"unknown unit {event.unit_code!r}")
    if not reference.has_procedure(event.procedure_code):
        return _problem(
            event,
            UNKNOWN_PROCEDURE,
            "procedure_code",
            f"unknown procedure {event.procedure_code!r}",
        )
    occurred_ms = to_ms(event.occurred_at)
    if occurred_ms > now_ms + MAX_AHEAD_MS:
        return _problem(
            event,
            FAR_FUTURE,
            "occurred_at",
            f"{event.occurred_at.isoformat()} is more than one day after now",
        )
    if isinstance(event, DossierReceived | FeedbackReceived) and to_ms(event.due_at) < occurred_ms:
        return _problem(event, IMPOSSIBLE_VALUE, "due_at", "due_at is before occurred_at")
    if isinstance(event, DossierDigitized) and event.reused_components > event.components:
        return _problem(
            event,
            IMPOSSIBLE_VALUE,
            "reused_components",
            f"reused_components {event.reused_components} > components {event.components}",
        )
    if isinstance(event, PaymentSucceeded) and event.amount == 0:
        return _problem(event, IMPOSSIBLE_VALUE, "amount", "a successful payment of 0 VND")
    return None


def validate_event(event: AnyEvent, reference: Reference, now_ms: int) -> AnyEvent:
    """Return the event unchanged if it is acceptable; raise its DecodeError otherwise."""
    problem = problem_of(event, reference, now_ms)
    if problem is not None:
        raise problem
    return event


def accept_event(raw: bytes | str, reference: Reference, now_ms: int) -> AnyEvent:
    """Decode (contract) then validate (meaning) one message; raises DecodeError and nothing else."""
    return validate_event(decode_event(raw), reference, now_ms)


def _problem(event: AnyEvent, kind: str, field: str, reason: str) -> DecodeError:
    return DecodeError(
        reason, field=field, event_id=event.event_id, event_type=event.type, kind=kind
    )
