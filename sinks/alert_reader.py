"""Read what the alert evaluator judges: windowed hourly counts, last event per topic, message counts.

``read_facts`` serves one evaluation instant with a few small queries (the live path);
``read_history`` loads a whole range once for a backtest. Both read ``hourly_counts FINAL``
(rows with a denominator), ``events_raw`` and ``dead_letters``, and give the same numbers.

A dead letter is placed in time by the ``occurred_at`` its bytes carry when they have a
readable one, else by when it was recorded; accepted events by their ``occurred_ms``.
"""

from __future__ import annotations

from pipeline import broker
from pipeline.alerts.evaluate import STALL_LOOKBACK_MS, Facts, Needs
from pipeline.alerts.history import History
from pipeline.rates import Counts
from sinks.store import Store

# Event type family -> input topic, as SQL (the type's prefix before the first dot).
TOPIC_SQL = "multiIf({})".format(
    ", ".join(
        f"startsWith(type, '{family}.'), '{topic}'"
        for family, topic in (
            ("dossier", broker.DOSSIER_EVENTS),
            ("payment", broker.PAYMENT_EVENTS),
            ("feedback", broker.FEEDBACK_EVENTS),
        )
    )
    + ", ''"
)
DEAD_LETTER_MS_SQL = (
    "if(toUInt32(ifNull(parseDateTimeBestEffortOrNull(visitParamExtractString(raw, 'occurred_at')), "
    "toDateTime(0))) > 0, toUInt64(toUInt32(ifNull(parseDateTimeBestEffortOrNull("
    "visitParamExtractString(raw, 'occurred_at')), toDateTime(0)))) * 1000, recorded_ms)"
)


def read_facts(store: Store, database: str, needs: Needs) -> Facts:
    """Facts for one instant: one query per kind of fact, each over the hours it needs only."""
    facts = Facts()
    if needs.rate_windows and needs.indicators:
        facts.rates = _rate_sums(store, database, needs)
    ends = sorted({end for _, end in needs.topic_ends})
    for end in ends:
        rows = store.query(
            f"""SELECT topic, max(occurred_ms) FROM (
                    SELECT {TOPIC_SQL} AS topic, occurred_ms FROM {database}.events_raw
                    WHERE occurred_ms >= {end - STALL_LOOKBACK_MS} AND occurred_ms < {end})
                GROUP BY topic"""
        )
        newest = {str(topic): int(ms) for topic, ms in rows}
        for topic, at_end in needs.topic_ends:
            if at_end == end:
                facts.last_event_ms[(topic, end)] = newest.get(topic)
    for start, end in sorted(needs.message_windows):
        accepted = store.query(
            f"""SELECT uniqExact(event_id) FROM {database}.events_raw
                WHERE occurred_ms >= {start} AND occurred_ms < {end}"""
        )[0][0]
        dead = store.query(
            f"""SELECT uniqExact(source) FROM {database}.dead_letters
                WHERE {DEAD_LETTER_MS_SQL} >= {start} AND {DEAD_LETTER_MS_SQL} < {end}"""
        )[0][0]
        facts.messages[(start, end)] = (int(dead), int(accepted))
    return facts


def _rate_sums(store: Store, database: str, needs: Needs) -> dict[tuple[int, int], dict]:
    windows = sorted(needs.rate_windows)
    lo = min(start for start, _ in windows) // 1000
    hi = max(end for _, end in windows) // 1000
    indicators = ", ".join(f"'{indicator}'" for indicator in sorted(needs.indicators))
    # Each hour joins every window holding it: a literal array of window numbers (0 = none).
    # No lambda over the row's columns, which ClickHouse 18.16 cannot resolve in this place.
    membership = ", ".join(
        f"if(t >= {start // 1000} AND t < {end // 1000}, {k}, 0)"
        for k, (start, end) in enumerate(windows, 1)
    )
    rows = store.query(
        f"""SELECT unit_code, indicator, w, sum(numerator), sum(denominator)
            FROM (
                SELECT unit_code, indicator, numerator, denominator,
                       arrayJoin(arrayFilter(x -> x > 0, [{membership}])) AS w
                FROM (
                    SELECT unit_code, indicator, toUInt32(bucket_start) AS t, numerator, denominator
                    FROM {database}.hourly_counts FINAL
                    WHERE bucket_start >= toDateTime({lo}) AND bucket_start < toDateTime({hi})
                      AND denominator > 0 AND indicator IN ({indicators})
                )
            )
            GROUP BY unit_code, indicator, w"""
    )
    out: dict[tuple[int, int], dict] = {window: {} for window in windows}
    for unit, indicator, w, numerator, denominator in rows:
        out[windows[int(w) - 1]].setdefault(str(unit), {})[str(indicator)] = Counts(
            int(numerator), int(denominator)
        )
    return out


def read_history(store: Store, database: str, start_ms: int, end_ms: int) -> History:
    """Every hourly count, per-topic event hour and dead-letter hour of [start_ms, end_ms)."""
    hourly = store.query(
        f"""SELECT unit_code, indicator, toUInt64(toUInt32(bucket_start)) * 1000, numerator, denominator
            FROM {database}.hourly_counts FINAL
            WHERE bucket_start >= toDateTime({start_ms // 1000})
              AND bucket_start < toDateTime({end_ms // 1000}) AND denominator > 0"""
    )
    topic_hours = store.query(
        f"""SELECT topic, h, uniqExact(event_id), max(occurred_ms) FROM (
                SELECT {TOPIC_SQL} AS topic, intDiv(occurred_ms, 3600000) * 3600000 AS h,
                       event_id, occurred_ms
                FROM {database}.events_raw
                WHERE occurred_ms >= {start_ms} AND occurred_ms < {end_ms})
            GROUP BY topic, h"""
    )
    dead_hours = store.query(
        f"""SELECT h, uniqExact(source) FROM (
                SELECT intDiv({DEAD_LETTER_MS_SQL}, 3600000) * 3600000 AS h, source
                FROM {database}.dead_letters)
            WHERE h >= {start_ms} AND h < {end_ms}
            GROUP BY h"""
    )
    return History(
        start_ms,
        end_ms,
        [(str(u), str(i), int(b), int(n), int(d)) for u, i, b, n, d in hourly],
        [(str(t), int(h), int(c), int(m)) for t, h, c, m in topic_hours],
        [(int(h), int(c)) for h, c in dead_hours],
    )
