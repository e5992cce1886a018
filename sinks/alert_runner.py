"""Drive the evaluator over stored data: live (state kept in ClickHouse) or as a backtest (nothing written).

The live path reads the facts of each due instant with a few queries, stores the transitions
(outbox), the changed states and then the progress, in that order, so a crash at any point
re-evaluates at most one instant and finds its transitions already stored. A backtest loads
the range once and keeps state in memory; both judge the same numbers.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from pipeline.alerts.evaluate import STALL_LOOKBACK_MS, Evaluator, StateKey
from pipeline.alerts.evaluate import needs as all_needs
from pipeline.alerts.state import AlertState, Transition
from pipeline.windows import HOUR_MS, bucket_of
from sinks import alert_store
from sinks.alert_reader import read_facts, read_history
from sinks.alert_store import StoredEvent
from sinks.store import Store


def evaluate_due(
    store: Store, database: str, evaluator: Evaluator, clock_ms: int, start_ms: int | None = None
) -> list[Transition]:
    """Evaluate every whole-hour instant after the stored progress up to ``clock_ms``.

    Without progress, starts at ``start_ms`` (default: the hour of ``clock_ms``).
    """
    progress = alert_store.load_progress(store, database)
    first = (
        progress + HOUR_MS
        if progress is not None
        else bucket_of(start_ms if start_ms is not None else clock_ms)
    )
    states = alert_store.load_states(store, database)
    transitions: list[Transition] = []
    for at_ms in range(first, bucket_of(clock_ms) + 1, HOUR_MS):
        facts = read_facts(store, database, evaluator.needs(at_ms))
        changed, moved = evaluator.evaluate(facts, states, at_ms)
        alert_store.record_transitions(store, database, moved)
        alert_store.save_states(store, database, changed)
        alert_store.save_progress(store, database, at_ms)
        states.update({(s.rule, s.unit_code): s for s in changed})
        transitions.extend(moved)
    return transitions


def backtest(
    store: Store, database: str, evaluator: Evaluator, from_ms: int, to_ms: int
) -> list[Transition]:
    """Every transition of [from_ms, to_ms] (whole-hour instants) starting from all Normal."""
    first = bucket_of(from_ms) + (HOUR_MS if from_ms % HOUR_MS else 0)
    history = read_history(
        store, database, earliest_needed(evaluator, first), bucket_of(to_ms) + HOUR_MS
    )
    states: dict[StateKey, AlertState] = {}
    transitions: list[Transition] = []
    for at_ms in range(first, to_ms + 1, HOUR_MS):
        changed, moved = evaluator.evaluate(history.facts(evaluator.needs(at_ms)), states, at_ms)
        states.update({(s.rule, s.unit_code): s for s in changed})
        transitions.extend(moved)
    return transitions


def earliest_needed(evaluator: Evaluator, at_ms: int) -> int:
    """The oldest hour any rule looks at when evaluated at ``at_ms`` (later instants look later)."""
    needs = all_needs(evaluator.ruleset, at_ms, skip_muted=False)
    starts = [start for start, _ in needs.rate_windows] + [
        start for start, _ in needs.message_windows
    ]
    starts += [end - STALL_LOOKBACK_MS for _, end in needs.topic_ends]
    return min(starts, default=at_ms)


def deliver(
    store: Store,
    database: str,
    publish: Callable[[Sequence[StoredEvent]], None] | None,
    notify: Callable[[StoredEvent], None] | None,
    now_ms: Callable[[], int],
) -> tuple[int, int]:
    """Send stored, undelivered transitions to the topic and the webhook; mark each as it succeeds.

    Returns (published, notified). A failure leaves the rest undelivered for the next call.
    """
    pending = alert_store.load_events(store, database, undelivered=True)
    published_at = {e.transition.key: e.published_ms for e in pending}
    to_publish = [e for e in pending if e.published_ms == 0] if publish is not None else []
    if to_publish and publish is not None:
        publish(to_publish)
        stamp = now_ms()
        alert_store.mark_delivered(
            store, database, to_publish, published_ms=stamp, notified_ms=None
        )
        published_at.update({e.transition.key: stamp for e in to_publish})
    notified = 0
    if notify is not None:
        for event in pending:
            if event.notified_ms:
                continue
            notify(event)
            alert_store.mark_delivered(
                store,
                database,
                [StoredEvent(event.transition, published_at[event.transition.key], 0)],
                published_ms=None,
                notified_ms=now_ms(),
            )
            notified += 1
    return len(to_publish), notified
