"""Keep ``hourly_counts`` equal to what ``indicator_hourly`` (the merge-at-read view) would say,
and its roll-ups ``daily_counts`` and ``monthly_counts`` equal to its sums per day and month.

Readers take ``hourly_counts FINAL WHERE denominator > 0``: absolute totals of every (unit,
indicator, hour) bucket, the row with the highest ``version`` winning; ``daily_counts`` and
``monthly_counts`` hold the same per (unit, indicator, Vietnam day) and (..., month), read the
same way, so that a month or a year costs tens of rows per unit instead of every hour. Two ways
to write them:

``refresh_dossiers`` (the worker, after each stored batch) recomputes only the buckets that the
batch's dossiers may have changed:

1. Copy the batch's snapshots into ``snapshots_by_dossier`` (``dossier_state`` again, in small
   granules by dossier id), read every snapshot of those dossiers from it and merge them: this
   gives each dossier's current bucket and every bucket it was ever counted in (the units and
   hours of all its receptions, the hours of all its completions). A dossier can leave a bucket
   (an earlier reception moves it to another hour or unit); the bucket it left is among those,
   so it is recomputed and may get a zero row. A snapshot that came without a reception (the
   worker's cache had evicted the dossier) is merged with the stored reception the same way.
2. Add the dossiers' current buckets to ``dossier_buckets`` (the index of which dossiers were
   ever counted in a bucket; rows are never removed, stale ones are filtered in step 4).
3. Take the version (below).
4. For every affected bucket, merge all dossiers the index lists for it and count those whose
   current bucket it is, with the indicator SQL of the view (``schema.COUNTS_SELECT``). Buckets
   that end up empty are written as zero rows.
5. After those rows are stored, take a second version and recompute the totals of every
   (unit, day) holding an affected bucket from the latest version of each of its hours in
   ``hourly_counts`` (``argMax`` by version: what ``FINAL`` reads, faster on 18.16), every
   indicator, zeros included, into ``daily_counts``; then, after those are stored, a third
   version and the (unit, month) totals of those days from ``daily_counts`` the same way.

The work is proportional to the batch's dossiers and their buckets' neighbours, never to the
history: every read of step 1-4 is a primary-key range of ``snapshots_by_dossier`` or
``dossier_buckets``; step 5 reads the month partitions of ``hourly_counts`` that hold the
affected days (the hours of a month of a province: some 10^5 rows) and one partition of
``daily_counts`` per affected month. Recounting the days from their dossiers instead would
merge every dossier of every affected unit-day: on a province-year, 800 ms instead of 480 ms
for the 600 newest dossiers (docs/hourly-aggregates.md).

Why the newest version is always right, with several workers and in any order: the version is
the wall clock in epoch nanoseconds (strictly increasing within a process), taken *after* the
batch's snapshots and index rows are stored and *before* the recomputing read starts. Take the
recomputation R of a bucket with the highest version v. Every batch B that can change the
bucket recomputes it itself, with a version taken after B's rows were stored; that version is
at most v, so B's rows were stored before R's read began and R saw them. R therefore saw every
snapshot and index row that matter, and computed the exact totals (the index lists every
dossier currently in the bucket: the batch that last stored a snapshot of a dossier reads it
after that store, so it sees the dossier's final bucket and indexes it).

The days and months follow by the same argument one level up (hours to days, days to months).
Take the recomputation D of a (unit, day) with the highest version w. The row of each of its
hours that finally wins in ``hourly_counts`` (the exact one, by the above) was written by some
batch B, which then recomputed the day with a version taken after that row was stored; that
version is at most w, so the row was stored before D's read began, and D read that row (it
has the highest version of its hour). D therefore summed the exact hours. Re-processing
a batch after a crash or a restart stores the same facts again and recomputes again:
idempotent. Workers on several hosts need clocks synchronised (NTP) well within the time
between a batch's rows being stored and its next recomputation starting.

``refresh_all`` recomputes everything from the view (slow, exact): for loads that bypass the
worker. Its days are summed from ``hourly_counts FINAL`` and its months from ``daily_counts
FINAL``, each with a version taken after the level below was stored (the argument above with
one writer of everything); keys it no longer finds get zero rows, as the hours do.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import date, timedelta
from typing import Any, TypeVar

from pipeline.errors import RetryableSinkError
from sinks.schema import (
    COMPLETED_INDICATORS,
    COUNTS_SELECT,
    DOSSIER_STATE_COLUMNS,
    MERGED_SELECT,
    RECEIVED_INDICATORS,
    TZ,
)
from sinks.store import Row, Store

RECEIVED = "received"
COMPLETED = "completed"
ANCHOR_INDICATORS = {RECEIVED: RECEIVED_INDICATORS, COMPLETED: COMPLETED_INDICATORS}
ANCHOR_OF = {i: anchor for anchor, indicators in ANCHOR_INDICATORS.items() for i in indicators}
INDICATORS = RECEIVED_INDICATORS + COMPLETED_INDICATORS
INDEX_COLUMNS = ("unit_code", "bucket_start", "anchor", "dossier_id")
COUNT_COLUMNS = ("unit_code", "indicator", "bucket_start", "numerator", "denominator", "version")
DAY_COLUMNS = ("unit_code", "indicator", "day", "numerator", "denominator", "version")
MONTH_COLUMNS = ("unit_code", "indicator", "month", "numerator", "denominator", "version")

IDS_PER_QUERY = 2_000
"""Dossier ids per lookup (keeps each SQL text well under ClickHouse's 256 KiB query limit)."""
BUCKETS_PER_QUERY = 1_000
DAYS_PER_QUERY = 2_000
MONTHS_PER_QUERY = 2_000

VIETNAM_OFFSET_S = 7 * 3600
"""Asia/Ho_Chi_Minh is UTC+7 all year (no daylight saving): days and months are plain
arithmetic on epoch seconds, the same as ClickHouse's ``toDate(bucket_start, TZ)``."""
DAY_S = 86_400

T = TypeVar("T")
Bucket = tuple[str, int, str]
"""(unit_code, bucket_start in epoch seconds, anchor)."""
Day = tuple[str, int]
"""(unit_code, Vietnam day number: days since 1970-01-01, the value of a ClickHouse Date)."""
Month = tuple[str, date]
"""(unit_code, the first day of the month)."""


class VersionClock:
    """Epoch nanoseconds, strictly increasing within the process (one clock per process)."""

    def __init__(self, clock_ns: Callable[[], int] = time.time_ns) -> None:
        self._clock_ns = clock_ns
        self._last = 0
        self._lock = threading.Lock()

    def next(self) -> int:
        with self._lock:
            self._last = max(self._clock_ns(), self._last + 1)
            return self._last


VERSIONS = VersionClock()


def day_number(epoch_s: int) -> int:
    """The Vietnam day of a moment, as days since 1970-01-01 (a ClickHouse Date's value)."""
    return (epoch_s + VIETNAM_OFFSET_S) // DAY_S


def date_of(day: int) -> date:
    return EPOCH_DAY + timedelta(days=day)


EPOCH_DAY = date(1970, 1, 1)


def refresh_dossiers(
    store: Store, database: str, snapshots: Sequence[Row], versions: VersionClock = VERSIONS
) -> int:
    """Rewrite every bucket, day and month that a stored batch's snapshots (``dossier_state``
    rows) may have changed.

    Call it after the snapshots are stored. Returns how many (unit, indicator, hour) rows were
    written. Raises what the store raises; calling it again is always safe.
    """
    ids = sorted({str(row[0]) for row in snapshots})
    if not ids:
        return 0
    store.insert(f"{database}.snapshots_by_dossier", DOSSIER_STATE_COLUMNS, snapshots)
    index_rows: list[tuple[str, int, str, str]] = []
    buckets: set[Bucket] = set()
    for chunk in _chunks(ids, IDS_PER_QUERY):
        rows, touched = _positions(store, database, chunk)
        index_rows.extend(rows)
        buckets.update(touched)
    store.insert(f"{database}.dossier_buckets", INDEX_COLUMNS, index_rows)
    version = versions.next()
    written = 0
    for bucket_chunk in _chunks(sorted(buckets), BUCKETS_PER_QUERY):
        rows_out = _recount(store, database, bucket_chunk, version)
        store.insert(f"{database}.hourly_counts", COUNT_COLUMNS, rows_out)
        written += len(rows_out)
    days = sorted({(unit, day_number(start_s)) for unit, start_s, _ in buckets})
    day_version = versions.next()  # after every hourly row of the batch is stored
    for day_chunk in _chunks(days, DAYS_PER_QUERY):
        store.insert(
            f"{database}.daily_counts",
            DAY_COLUMNS,
            _recount_days(store, database, day_chunk, day_version),
        )
    months = sorted({(unit, _month_of(day)) for unit, day in days})
    month_version = versions.next()  # after every daily row of the batch is stored
    for month_chunk in _chunks(months, MONTHS_PER_QUERY):
        month_rows = _recount_months(store, database, month_chunk, month_version)
        store.insert(f"{database}.monthly_counts", MONTH_COLUMNS, month_rows)
    return written


def refresh_with_retries(
    store: Store,
    database: str,
    snapshots: Sequence[Row],
    max_attempts: int = 8,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """``refresh_dossiers``, retried with bounded backoff on transient store errors (it is
    idempotent); the last error propagates, and the caller must then stop consuming."""
    for attempt in range(1, max_attempts + 1):
        try:
            return refresh_dossiers(store, database, snapshots)
        except RetryableSinkError:
            if attempt == max_attempts:
                raise
            sleep(min(5.0, 0.2 * 2 ** (attempt - 1)))
    return 0


def _hour_of(ms_column: str) -> str:
    return f"toUInt32(toStartOfHour(toDateTime(intDiv({ms_column}, 1000), '{TZ}')))"


def _positions(
    store: Store, database: str, ids: Sequence[str]
) -> tuple[list[tuple[str, int, str, str]], set[Bucket]]:
    """Current index rows of the dossiers, and every bucket they were ever counted in."""
    rows = store.query(
        f"""SELECT dossier_id,
                   argMinIf(unit_code, received_key, received_key != '') AS unit,
                   {_hour_of("argMinIf(received_ms, received_key, received_key != '')")},
                   minIf(completed_key, completed_key != '') != '' AS is_completed,
                   {_hour_of("argMinIf(completed_ms, completed_key, completed_key != '')")},
                   groupUniqArrayIf(unit_code, received_key != '') AS units,
                   groupUniqArrayIf({_hour_of("received_ms")}, received_key != ''),
                   groupUniqArrayIf({_hour_of("completed_ms")}, completed_key != '')
            FROM {database}.snapshots_by_dossier
            WHERE dossier_id IN ({_quoted_list(ids)})
            GROUP BY dossier_id
            HAVING length(units) > 0"""
    )
    index: list[tuple[str, int, str, str]] = []
    touched: set[Bucket] = set()
    for dossier_id, unit, received_s, is_completed, completed_s, units, r_hours, c_hours in rows:
        index.append((unit, int(received_s), RECEIVED, dossier_id))
        if int(is_completed):
            index.append((unit, int(completed_s), COMPLETED, dossier_id))
        for past_unit in units:
            touched.update((past_unit, int(hour), RECEIVED) for hour in r_hours)
            touched.update((past_unit, int(hour), COMPLETED) for hour in c_hours)
    return index, touched


def _recount(
    store: Store, database: str, buckets: Sequence[Bucket], version: int
) -> list[tuple[str, str, int, int, int, int]]:
    """Absolute totals of the buckets (zero rows included), stamped with ``version``."""
    keys = ", ".join(f"({_quote(u)}, {s}, {_quote(a)})" for u, s, a in buckets)
    units = _quoted_list(sorted({u for u, _, _ in buckets}))
    hours = ", ".join(str(s) for s in sorted({s for _, s, _ in buckets}))
    # ``bucket_start IN`` on the first key column is what lets every engine (18.16 too) read
    # only the granules of those hours; the tuple then picks the exact buckets.
    candidates = (
        f"SELECT dossier_id FROM {database}.dossier_buckets "
        f"WHERE bucket_start IN ({hours}) AND unit_code IN ({units}) "
        f"AND (unit_code, bucket_start, anchor) IN ({keys})"
    )
    merged = (
        "("
        + MERGED_SELECT.format(
            source=f"{database}.snapshots_by_dossier", where=f"WHERE dossier_id IN ({candidates})"
        )
        + ")"
    )
    counts = COUNTS_SELECT.format(merged=merged, tz=TZ)
    rows = store.query(
        f"SELECT unit_code, indicator, toUInt32(bucket_start), numerator, denominator FROM ({counts})"
    )
    # A candidate may have moved to a bucket outside this chunk: only its counts here are whole.
    wanted = set(buckets)
    totals = {
        (str(u), str(i), int(s)): (int(n), int(d))
        for u, i, s, n, d in rows
        if (u, int(s), ANCHOR_OF[i]) in wanted
    }
    return [
        (unit, indicator, start_s, *totals.get((unit, indicator, start_s), (0, 0)), version)
        for unit, start_s, anchor in buckets
        for indicator in ANCHOR_INDICATORS[anchor]
    ]


def _recount_days(
    store: Store, database: str, days: Sequence[Day], version: int
) -> list[tuple[str, str, date, int, int, int]]:
    """The days' totals per indicator from the latest hourly rows (zero rows included)."""
    keys = ", ".join(f"({_quote(u)}, {d})" for u, d in days)
    units = _quoted_list(sorted({u for u, _ in days}))
    # One time range per run of consecutive days: only the partitions holding them are read.
    ranges = " OR ".join(
        f"(bucket_start >= toDateTime({_day_start_s(first)}) "
        f"AND bucket_start < toDateTime({_day_start_s(last + 1)}))"
        for first, last in _runs(sorted({d for _, d in days}))
    )
    day = f"intDiv(toUInt32(bucket_start) + {VIETNAM_OFFSET_S}, {DAY_S})"
    rows = _latest_sums(
        store,
        f"{database}.hourly_counts",
        "bucket_start",
        day,
        f"unit_code IN ({units}) AND ({ranges}) AND (unit_code, {day}) IN ({keys})",
    )
    totals = {(str(u), str(i), int(d)): (int(n), int(dn)) for u, i, d, n, dn in rows}
    return [
        (unit, indicator, date_of(day), *totals.get((unit, indicator, day), (0, 0)), version)
        for unit, day in days
        for indicator in INDICATORS
    ]


def _latest_sums(
    store: Store, table: str, time_column: str, period: str, where: str
) -> list[tuple[Any, ...]]:
    """(unit, indicator, ``period``, numerator, denominator): the sums per period of the rows of
    ``table`` matching ``where``, each key at its highest version (what ``FINAL`` reads;
    ``argMax`` by version does it in half the time on ClickHouse 18.16)."""
    return store.query(
        f"""SELECT unit_code, indicator, period, sum(n), sum(d)
            FROM (SELECT unit_code, indicator, {time_column}, {period} AS period,
                         argMax(numerator, version) AS n, argMax(denominator, version) AS d
                  FROM {table}
                  WHERE {where}
                  GROUP BY unit_code, indicator, {time_column}, period)
            GROUP BY unit_code, indicator, period"""
    )


def _day_start_s(day: int) -> int:
    return day * DAY_S - VIETNAM_OFFSET_S


def _runs(numbers: Sequence[int]) -> list[tuple[int, int]]:
    """Sorted distinct integers as (first, last) runs of consecutive ones."""
    runs: list[tuple[int, int]] = []
    for n in numbers:
        if runs and runs[-1][1] == n - 1:
            runs[-1] = (runs[-1][0], n)
        else:
            runs.append((n, n))
    return runs


def _month_of(day: int) -> date:
    return date_of(day).replace(day=1)


def _next_month(first: date) -> date:
    return (first + timedelta(days=31)).replace(day=1)


def _recount_months(
    store: Store, database: str, months: Sequence[Month], version: int
) -> list[tuple[str, str, date, int, int, int]]:
    """The months' totals per indicator from the latest daily rows (zero rows included)."""
    keys = ", ".join(f"({_quote(u)}, '{m.isoformat()}')" for u, m in months)
    units = _quoted_list(sorted({u for u, _ in months}))
    ranges = " OR ".join(
        f"(day >= toDate('{m.isoformat()}') AND day < toDate('{_next_month(m).isoformat()}'))"
        for m in sorted({m for _, m in months})
    )
    month = "toString(toStartOfMonth(day))"
    rows = _latest_sums(
        store,
        f"{database}.daily_counts",
        "day",
        month,
        f"unit_code IN ({units}) AND ({ranges}) AND (unit_code, {month}) IN ({keys})",
    )
    totals = {(str(u), str(i), str(m)): (int(n), int(d)) for u, i, m, n, d in rows}
    return [
        (unit, indicator, month, *totals.get((unit, indicator, month.isoformat()), (0, 0)), version)
        for unit, month in months
        for indicator in INDICATORS
    ]


def refresh_all(store: Store, database: str) -> None:
    """Rebuild the index and rewrite every bucket of ``hourly_counts`` from the view, then every
    day and month from the level below (slow, exact).

    For data stored without the worker's incremental refresh (bulk loads, benchmarks).
    """
    store.execute(
        f"INSERT INTO {database}.snapshots_by_dossier SELECT * FROM {database}.dossier_state"
    )
    for anchor, hour, where in (
        (RECEIVED, "received_at_ms", ""),
        (COMPLETED, "completed_at_ms", "WHERE first_completed_key != ''"),
    ):
        store.execute(
            f"""INSERT INTO {database}.dossier_buckets ({", ".join(INDEX_COLUMNS)})
                SELECT unit, toStartOfHour(toDateTime(intDiv({hour}, 1000), '{TZ}')),
                       '{anchor}', dossier_id
                FROM {database}.dossier_merged {where}"""
        )
    _rewrite(
        store,
        f"{database}.hourly_counts",
        COUNT_COLUMNS,
        f"""SELECT unit_code, indicator, bucket_start, numerator AS n, denominator AS d
            FROM {database}.indicator_hourly""",
    )
    _rewrite(
        store,
        f"{database}.daily_counts",
        DAY_COLUMNS,
        f"""SELECT unit_code, indicator, day, sum(numerator) AS n, sum(denominator) AS d
            FROM (SELECT unit_code, indicator, toDate(bucket_start, '{TZ}') AS day,
                         numerator, denominator
                  FROM {database}.hourly_counts FINAL)
            GROUP BY unit_code, indicator, day""",
    )
    _rewrite(
        store,
        f"{database}.monthly_counts",
        MONTH_COLUMNS,
        f"""SELECT unit_code, indicator, month, sum(numerator) AS n, sum(denominator) AS d
            FROM (SELECT unit_code, indicator, toStartOfMonth(day) AS month,
                         numerator, denominator
                  FROM {database}.daily_counts FINAL)
            GROUP BY unit_code, indicator, month""",
    )


def _rewrite(store: Store, table: str, columns: Sequence[str], source: str) -> None:
    """Every row of ``source`` (the table's key columns, ``n``, ``d``) into ``table`` with a new
    version, taken after whatever ``source`` reads was stored; zero rows for the table's other
    non-empty keys."""
    version = VERSIONS.next()
    key = ", ".join(columns[:3])
    store.execute(
        f"""INSERT INTO {table} ({", ".join(columns)})
            SELECT {key}, n, d, {version} FROM ({source})"""
    )
    store.execute(
        f"""INSERT INTO {table} ({", ".join(columns)})
            SELECT {key}, 0, 0, {version} FROM {table} FINAL
            WHERE version < {version} AND denominator > 0"""
    )


def _quote(text: str) -> str:
    """A ClickHouse string literal (backslash and quote escaped)."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _quoted_list(values: Iterable[str]) -> str:
    return ", ".join(_quote(v) for v in values)


def _chunks(items: Sequence[T], size: int) -> Iterable[Sequence[T]]:
    for first in range(0, len(items), size):
        yield items[first : first + size]
