"""Read results back: hourly counts per leaf unit, stream time, dead-letter counts.

Hourly numbers come from ``hourly_counts`` (latest version of each bucket, kept by the worker;
see ``sinks/hourly.py``), so a read costs what its time range costs.
"""

from __future__ import annotations

import calendar

from pipeline.errors import SinkError
from pipeline.rates import HourlyRow
from sinks.store import Store


def require_results(store: Store, database: str, namespace: str) -> None:
    """Raise SinkError with a hint when the namespace has no results database in this store."""
    rows = store.query(f"SELECT count() FROM system.databases WHERE name = '{database}'")
    if not int(rows[0][0]):
        raise SinkError(
            f"nothing stored for namespace {namespace!r} in the {store.backend} store "
            "(is --namespace or --store right? a worker or `chiso766 migrate` creates it)"
        )


def hourly_rows(store: Store, database: str, start_ms: int, end_ms: int) -> list[HourlyRow]:
    """Every (unit, indicator, hour) with a denominator, for buckets in [start_ms, end_ms)."""
    rows = store.query(
        f"""SELECT unit_code, indicator, toUInt64(toUInt32(bucket_start)) * 1000 AS bucket_ms,
                   numerator, denominator
            FROM {database}.hourly_counts FINAL
            WHERE bucket_start >= toDateTime({start_ms // 1000})
              AND bucket_start < toDateTime({end_ms // 1000})
              AND denominator > 0
            ORDER BY unit_code, indicator, bucket_ms"""
    )
    return [(str(u), str(i), int(b), int(n), int(d)) for u, i, b, n, d in rows]


def summed_rows(store: Store, database: str, start_ms: int, end_ms: int) -> list[HourlyRow]:
    """Like ``hourly_rows`` but summed over [start_ms, end_ms) in ClickHouse: one row per unit and
    indicator, stamped with ``start_ms``. Use it for windows and periods (a year is ~10^6 hours)."""
    rows = store.query(
        f"""SELECT unit_code, indicator, sum(numerator), sum(denominator)
            FROM {database}.hourly_counts FINAL
            WHERE bucket_start >= toDateTime({start_ms // 1000})
              AND bucket_start < toDateTime({end_ms // 1000})
              AND denominator > 0
            GROUP BY unit_code, indicator
            ORDER BY unit_code, indicator"""
    )
    return [(str(u), str(i), start_ms, int(n), int(d)) for u, i, n, d in rows]


def stream_time_ms(store: Store, database: str) -> int | None:
    """The newest accepted event time in the archive, or None when nothing is stored yet."""
    rows = store.query(f"SELECT max(occurred_ms), count() FROM {database}.events_raw")
    return int(rows[0][0]) if rows and int(rows[0][1]) else None


def dead_letter_counts(store: Store, database: str) -> dict[str, int]:
    """Dead letters by kind (each source message counted once: one (source, raw bytes) pair,
    however often it was recorded)."""
    rows = store.query(
        f"SELECT kind, uniqExact(source, raw_sha256) FROM {database}.dead_letters "
        "GROUP BY kind ORDER BY kind"
    )
    return {str(kind): int(count) for kind, count in rows}


STEP_SQL = {
    "hour": "toUInt32(bucket_start)",
    "day": "intDiv(toUInt32(bucket_start) + 25200, 86400)",
    "month": "toYYYYMM(bucket_start)",
}
"""Trend step -> the SQL key of a bucket (hour: epoch s; day: Vietnam day number; month: YYYYMM)."""


def stepped_rows(
    store: Store, database: str, start_ms: int, end_ms: int, step: str
) -> list[HourlyRow]:
    """Like ``hourly_rows`` but summed per ``step`` (hour, day or month, Vietnam time), each row
    stamped with the start of its step in epoch ms. For trend charts over long periods.

    Raises KeyError for an unknown step."""
    rows = store.query(
        f"""SELECT unit_code, indicator, {STEP_SQL[step]} AS step_key,
                   sum(numerator), sum(denominator)
            FROM {database}.hourly_counts FINAL
            WHERE bucket_start >= toDateTime({start_ms // 1000})
              AND bucket_start < toDateTime({end_ms // 1000})
              AND denominator > 0
            GROUP BY unit_code, indicator, step_key
            ORDER BY unit_code, indicator, step_key"""
    )
    return [
        (str(u), str(i), _step_start_ms(step, int(k)), int(n), int(d)) for u, i, k, n, d in rows
    ]


def _step_start_ms(step: str, key: int) -> int:
    if step == "hour":
        return key * 1000
    if step == "day":
        return key * 86_400_000 - 25_200_000
    year, month = divmod(key, 100)
    # Midnight of the 1st in Vietnam time (UTC+7, no daylight saving).
    return (calendar.timegm((year, month, 1, 0, 0, 0)) - 25200) * 1000
