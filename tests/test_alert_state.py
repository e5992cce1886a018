"""The state machine of one alert, table-driven: for, keep_firing_for, hysteresis, unjudged hours."""

from __future__ import annotations

import pytest

from pipeline.alerts.state import (
    FIRING,
    NORMAL,
    NOT_JUDGED,
    PENDING,
    RESOLVED,
    AlertState,
    Judgement,
    step,
)

B = Judgement(True, breach=True, recovered=False, value=0.1)  # breach
M = Judgement(True, breach=False, recovered=False, value=0.5)  # between the thresholds
R = Judgement(True, breach=False, recovered=True, value=0.7)  # recovered
_ = NOT_JUDGED


def run(seq: list[Judgement], for_h: int, keep_h: int) -> list[str]:
    state = AlertState("r", "u")
    out = []
    for at, seen in enumerate(seq):
        state, moved = step(state, seen, for_h, keep_h, at)
        out.append(state.state + ("!" if moved else ""))
    return out


@pytest.mark.parametrize(
    ("timeline", "for_h", "keep_h", "expected"),
    [
        # for 0: the first breach fires; the first recovery resolves.
        ([B, R], 0, 0, [FIRING + "!", RESOLVED + "!"]),
        # for 1: pending first; a recovery while pending goes back to normal silently.
        ([B, R, B, B], 1, 0, [PENDING, NORMAL, PENDING, FIRING + "!"]),
        # unjudged hours change nothing, even in the middle of "for".
        ([B, _, _, B], 1, 0, [PENDING, PENDING, PENDING, FIRING + "!"]),
        # hysteresis: between the thresholds a firing alert keeps firing and resets keep_firing_for.
        ([B, M, R, M, R, R], 0, 1, [FIRING + "!", FIRING, FIRING, FIRING, FIRING, RESOLVED + "!"]),
        # a breach during keep_firing_for keeps it firing with no new transition.
        ([B, R, B, R, R], 0, 1, [FIRING + "!", FIRING, FIRING, FIRING, RESOLVED + "!"]),
        # after resolving, a new breach fires again.
        ([B, R, B], 0, 0, [FIRING + "!", RESOLVED + "!", FIRING + "!"]),
    ],
)
def test_timelines(timeline: list[Judgement], for_h: int, keep_h: int, expected: list[str]) -> None:
    assert run(timeline, for_h, keep_h) == expected


def test_transition_time_and_values() -> None:
    state, moved = step(AlertState("r", "u"), B, 0, 0, 3_600_000)
    assert moved and state.since_ms == 3_600_000 and state.value == 0.1
