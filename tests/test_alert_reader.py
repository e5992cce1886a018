"""The live reader (a few windowed queries per instant) and the backtest loader give the same facts, on both engines."""

from __future__ import annotations

import random

import pytest

from pipeline.alerts.evaluate import Evaluator
from pipeline.alerts.rules import load_rules
from pipeline.processing import DeadLetter
from pipeline.reference import load_reference
from pipeline.settings import Settings
from pipeline.windows import HOUR_MS, parse_time, rfc3339
from sinks.alert_reader import read_facts, read_history
from sinks.alert_runner import earliest_needed
from sinks.schema import DEAD_LETTER_COLUMNS, EVENT_COLUMNS
from sinks.store import Store
from sinks.writer import dead_letter_row

pytestmark = pytest.mark.integration

REFERENCE = load_reference()
RULES = load_rules(None, REFERENCE.unit_codes, REFERENCE.levels)
START = parse_time("2024-05-06")
END = parse_time("2024-06-08")


def fill(store: Store, database: str) -> None:
    rng = random.Random(9)
    leaves = ["H70.22.01", "H70.22.02", "H70.05", "H70.24.03", "H70.09"]
    values = []
    for hour in range((END - START) // HOUR_MS):
        bucket = START + hour * HOUR_MS
        if not 0 <= (bucket // HOUR_MS + 7) % 24 - 7 < 10:  # 07:00-17:00 local
            continue
        for unit in leaves:
            for indicator in ("online_payment", "online_filing", "digitization", "e_result"):
                den = rng.randint(1, 12)
                values.append(
                    f"('{unit}', '{indicator}', {bucket // 1000}, {rng.randint(0, den)}, {den})"
                )
    for chunk in range(0, len(values), 400):  # keep each statement under max_query_size
        store.execute(
            f"""INSERT INTO {database}.hourly_counts
                SELECT tupleElement(x, 1), tupleElement(x, 2), toDateTime(tupleElement(x, 3)),
                       tupleElement(x, 4), tupleElement(x, 5), 1
                FROM (SELECT arrayJoin([{", ".join(values[chunk : chunk + 400])}]) AS x)"""
        )
    events = []
    for k in range(3000):
        ts = START + rng.randrange(END - START)
        kind = rng.choice(
            ["dossier.received", "payment.succeeded", "feedback.received", "dossier.synced"]
        )
        events.append((f"e{k}", kind, ts, "H70.05", f"d{k}", "p", "{}"))
    store.insert(f"{database}.events_raw", EVENT_COLUMNS, events)
    letters = []
    for k in range(2000):
        ts = START + rng.randrange(END - START)
        stamp = rfc3339(ts)
        raw = f'{{"type":"dossier.received","occurred_at":"{stamp}"}}' if k % 3 else "not json"
        letters.append(dead_letter_row(DeadLetter(raw.encode(), f"t[0]@{k}", "invalid", "bad"), ts))
    store.insert(f"{database}.dead_letters", DEAD_LETTER_COLUMNS, letters)


def test_live_facts_equal_backtest_facts(store: Store, store_settings: Settings) -> None:
    database = store_settings.database
    fill(store, database)
    evaluator = Evaluator(RULES, REFERENCE)
    first = parse_time("2024-06-03T09:00:00+07:00")
    history = read_history(store, database, earliest_needed(evaluator, first), END)
    compared = dead_seen = 0
    for at in (first, first + 2 * HOUR_MS, first + 5 * HOUR_MS, first + 26 * HOUR_MS):
        needs = evaluator.needs(at)
        live = read_facts(store, database, needs)
        loaded = history.facts(needs)
        assert live.rates == loaded.rates
        assert live.last_event_ms == loaded.last_event_ms
        assert live.messages == loaded.messages
        compared += sum(len(v) for v in live.rates.values()) + len(live.messages)
        dead_seen += sum(dead for dead, _ in live.messages.values())
    assert compared > 50 and dead_seen > 0
