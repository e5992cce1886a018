"""Keep alert state, transitions and the evaluator's progress in ClickHouse, so restarts neither re-fire nor forget.

Tables (migration 5 in ``sinks.schema``): ``alert_state`` (one row per rule and unit, FINAL),
``alert_events`` (every transition under its idempotency key, with when it was published and
notified; 0 = not yet) and ``alert_progress`` (the last evaluated instant).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from pipeline.alerts.state import AlertState, Transition
from sinks.schema import ALERT_EVENT_COLUMNS, ALERT_STATE_COLUMNS
from sinks.store import Store

EVALUATOR = "alerts"


@dataclass(frozen=True)
class StoredEvent:
    transition: Transition
    published_ms: int
    notified_ms: int


def load_states(store: Store, database: str) -> dict[tuple[str, str], AlertState]:
    rows = store.query(
        f"""SELECT rule, unit_code, state, since_ms, breaches, recoveries, value, baseline, denominator
            FROM {database}.alert_state FINAL"""
    )
    return {
        (str(r[0]), str(r[1])): AlertState(
            rule=str(r[0]),
            unit_code=str(r[1]),
            state=str(r[2]),
            since_ms=int(r[3]),
            breaches=int(r[4]),
            recoveries=int(r[5]),
            value=None if r[6] is None else float(r[6]),
            baseline=None if r[7] is None else float(r[7]),
            denominator=None if r[8] is None else int(r[8]),
        )
        for r in rows
    }


def save_states(store: Store, database: str, states: Sequence[AlertState]) -> None:
    version = time.time_ns()
    store.insert(
        f"{database}.alert_state",
        ALERT_STATE_COLUMNS,
        [
            (
                s.rule,
                s.unit_code,
                s.state,
                s.since_ms,
                s.breaches,
                s.recoveries,
                s.value,
                s.baseline,
                s.denominator,
                version,
            )
            for s in states
        ],  # fmt: skip
    )


def record_transitions(store: Store, database: str, transitions: Sequence[Transition]) -> None:
    """Add transitions not stored yet (a re-evaluated instant finds its own keys and adds nothing)."""
    if not transitions:
        return
    keys = ", ".join(f"'{t.key}'" for t in transitions)
    known = {
        str(row[0])
        for row in store.query(
            f"SELECT event_key FROM {database}.alert_events WHERE event_key IN ({keys})"
        )
    }
    fresh = [t for t in transitions if t.key not in known]
    _write_events(store, database, [StoredEvent(t, 0, 0) for t in fresh])


def mark_delivered(
    store: Store,
    database: str,
    events: Sequence[StoredEvent],
    published_ms: int | None,
    notified_ms: int | None,
) -> None:
    """Rewrite events with the time they reached the topic and/or the webhook."""
    _write_events(
        store,
        database,
        [
            StoredEvent(
                e.transition,
                published_ms if published_ms is not None else e.published_ms,
                notified_ms if notified_ms is not None else e.notified_ms,
            )
            for e in events
        ],
    )


def _write_events(store: Store, database: str, events: Iterable[StoredEvent]) -> None:
    version = time.time_ns()
    rows = [
        (e.transition.key, e.transition.rule, e.transition.unit_code, e.transition.indicator,
         e.transition.state, e.transition.at_ms, e.transition.value, e.transition.baseline,
         e.transition.denominator, e.transition.severity, e.transition.kind, e.published_ms,
         e.notified_ms, version)
        for e in events
    ]  # fmt: skip
    store.insert(f"{database}.alert_events", ALERT_EVENT_COLUMNS, rows)


def load_events(
    store: Store,
    database: str,
    since_ms: int | None = None,
    undelivered: bool = False,
    limit: int | None = None,
) -> list[StoredEvent]:
    """Stored transitions, oldest first (``undelivered``: those not yet published or notified)."""
    where = ["1"]
    if since_ms is not None:
        where.append(f"at_ms >= {int(since_ms)}")
    if undelivered:
        where.append("(published_ms = 0 OR notified_ms = 0)")
    rows = store.query(
        f"""SELECT rule, unit_code, indicator, state, at_ms, value, baseline, denominator,
                   severity, kind, published_ms, notified_ms
            FROM {database}.alert_events FINAL
            WHERE {" AND ".join(where)}
            ORDER BY at_ms, rule, unit_code, state"""
    )
    events = [
        StoredEvent(
            Transition(
                rule=str(r[0]), unit_code=str(r[1]), indicator=str(r[2]), state=str(r[3]),
                at_ms=int(r[4]), value=None if r[5] is None else float(r[5]),
                baseline=None if r[6] is None else float(r[6]),
                denominator=None if r[7] is None else int(r[7]), severity=str(r[8]), kind=str(r[9]),
            ),
            int(r[10]),
            int(r[11]),
        )
        for r in rows
    ]  # fmt: skip
    return events[-limit:] if limit else events


def load_progress(store: Store, database: str) -> int | None:
    rows = store.query(
        f"SELECT evaluated_ms FROM {database}.alert_progress FINAL WHERE evaluator = '{EVALUATOR}'"
    )
    return int(rows[0][0]) if rows else None


def save_progress(store: Store, database: str, evaluated_ms: int) -> None:
    store.insert(
        f"{database}.alert_progress",
        ("evaluator", "evaluated_ms", "version"),
        [(EVALUATOR, evaluated_ms, time.time_ns())],
    )
