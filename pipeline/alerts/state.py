"""The life of one alert (a rule at a unit): Normal -> Pending -> Firing -> Resolved, one judgement at a time.

``step`` is the whole state machine. It counts *judged* evaluations only: an hour that is muted
(outside office hours, a public holiday) or has too little volume to judge changes nothing, so
an alert that fired on Monday afternoon is still firing on Tuesday morning and resolves only
when the rate is seen to recover. ``for`` is how many hours a breach must hold beyond the first
judgement (0: fire at once); ``keep_firing_for`` is how many hours the recovery must hold beyond
the first recovered judgement before the alert resolves. Between the breach and the recovery
thresholds (hysteresis) a firing alert stays firing.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace

NORMAL = "normal"
PENDING = "pending"
FIRING = "firing"
RESOLVED = "resolved"
STATES = (NORMAL, PENDING, FIRING, RESOLVED)


@dataclass(frozen=True)
class Judgement:
    """What one evaluation of a rule at a unit saw. ``judged`` False means: say nothing."""

    judged: bool
    breach: bool = False
    recovered: bool = False
    value: float | None = None
    baseline: float | None = None
    denominator: int | None = None


NOT_JUDGED = Judgement(judged=False)


@dataclass(frozen=True)
class AlertState:
    rule: str
    unit_code: str
    state: str = NORMAL
    since_ms: int = 0
    """When the current state began (event time of the evaluation)."""
    breaches: int = 0
    """Consecutive judged evaluations in breach (Pending and Firing)."""
    recoveries: int = 0
    """Consecutive judged evaluations recovered while Firing."""
    value: float | None = None
    baseline: float | None = None
    denominator: int | None = None
    """The last judged values."""

    @property
    def is_active(self) -> bool:
        return self.state in (PENDING, FIRING)


@dataclass(frozen=True)
class Transition:
    """An alert started firing or resolved: what goes to the topic, the table and the webhook."""

    rule: str
    unit_code: str
    indicator: str
    state: str
    """``firing`` or ``resolved``."""
    at_ms: int
    value: float | None
    baseline: float | None
    denominator: int | None
    severity: str
    kind: str

    @property
    def key(self) -> str:
        """Idempotency key: the same transition (same data) always has the same key."""
        text = f"{self.rule}|{self.unit_code}|{self.state}|{self.at_ms}"
        return hashlib.sha256(text.encode()).hexdigest()[:32]


def step(
    current: AlertState, seen: Judgement, for_hours: int, keep_firing_for_hours: int, at_ms: int
) -> tuple[AlertState, bool]:
    """The state after judging ``seen`` at ``at_ms``, and whether it is a firing/resolved transition."""
    if not seen.judged:
        return current, False
    measured = replace(
        current, value=seen.value, baseline=seen.baseline, denominator=seen.denominator
    )
    if current.state in (NORMAL, RESOLVED, PENDING):
        if not seen.breach:
            if current.state == PENDING:
                return replace(measured, state=NORMAL, since_ms=at_ms, breaches=0), False
            return measured, False
        breaches = current.breaches + 1 if current.state == PENDING else 1
        since_ms = current.since_ms if current.state == PENDING else at_ms
        if breaches > for_hours:
            return replace(
                measured, state=FIRING, since_ms=at_ms, breaches=breaches, recoveries=0
            ), True
        return replace(measured, state=PENDING, since_ms=since_ms, breaches=breaches), False
    # FIRING
    if not seen.recovered:
        return replace(measured, recoveries=0, breaches=current.breaches + int(seen.breach)), False
    recoveries = current.recoveries + 1
    if recoveries > keep_firing_for_hours:
        return replace(measured, state=RESOLVED, since_ms=at_ms, breaches=0, recoveries=0), True
    return replace(measured, recoveries=recoveries), False
