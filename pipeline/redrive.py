"""Decide which dead letters can go back to the input topics: those the current rules now accept.

Pure: the caller passes the letters, the reference data and ``now_ms``; nothing is sent here.
A letter that still fails stays where it is, with the reason it fails for today; one that
passes is re-sent byte for byte to its input topic, keyed by its dossier, with its own
``occurred_at`` as the record time (as tools that load history do).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from pipeline.broker import topic_for_type
from pipeline.errors import DecodeError
from pipeline.reference import Reference
from pipeline.replay.records import occurred_ms_of
from pipeline.validation import accept_event, record_ms_for

L = TypeVar("L")


@dataclass(frozen=True)
class Resend(Generic[L]):
    letter: L
    """The letter being re-sent (``sinks.dead_letters.Letter`` in the CLI)."""
    topic: str
    """Input topic without the namespace: ``dossier-events`` and so on."""
    key: bytes
    value: bytes
    record_ms: int


@dataclass
class RedrivePlan(Generic[L]):
    resend: list[Resend[L]] = field(default_factory=list)
    still_failing: list[tuple[L, DecodeError]] = field(default_factory=list)


def plan_redrive(
    letters: Iterable[tuple[L, bytes]], reference: Reference, now_ms: int, late_horizon_days: int
) -> RedrivePlan[L]:
    """Sort (letter, original bytes) pairs into those to re-send and those that still fail."""
    plan: RedrivePlan[L] = RedrivePlan()
    for letter, value in letters:
        record_ms = record_ms_for(occurred_ms_of(value), now_ms)
        try:
            event = accept_event(value, reference, record_ms, late_horizon_days)
        except DecodeError as problem:
            plan.still_failing.append((letter, problem))
            continue
        plan.resend.append(
            Resend(letter, topic_for_type(event.type), event.dossier_id.encode(), value, record_ms)
        )
    return plan
