"""Keep ``hourly_counts`` equal to what ``indicator_hourly`` (the merge-at-read view) would say.

Readers take ``hourly_counts FINAL WHERE denominator > 0``: absolute totals of every (unit,
indicator, hour) bucket, the row with the highest ``version`` winning. Two ways to write them:

``refresh_dossiers`` (the worker, after each stored batch) recomputes only the buckets that the
batch's dossiers may have changed:

1. Copy the batch's snapshots into ``snapshots_by_dossier`` (``dossier_state`` again, in small
   granules by dossier id), read every snapshot of those dossiers from it and merge them: this gives each dossier's current bucket and every bucket it was ever counted in
   (the units and hours of all its receptions, the hours of all its completions). A dossier can
   leave a bucket (an earlier reception moves it to another hour or unit); the bucket it left
   is among those, so it is recomputed and may get a zero row. A snapshot that came without a
   reception (the worker's cache had evicted the dossier) is merged with the stored reception
   the same way.
2. Add the dossiers' current buckets to ``dossier_buckets`` (the index of which dossiers were
   ever counted in a bucket; rows are never removed, stale ones are filtered in step 4).
3. Take the version (below).
4. For every affected bucket, merge all dossiers the index lists for it and count those whose
   current bucket it is, with the indicator SQL of the view (``schema.COUNTS_SELECT``). Buckets
   that end up empty are written as zero rows.

The work is proportional to the batch's dossiers and their buckets' neighbours, never to the
history: every read is a primary-key range of ``snapshots_by_dossier`` or ``dossier_buckets``.

Why the newest version is always right, with several workers and in any order: the version is
the wall clock in epoch nanoseconds (strictly increasing within a process), taken *after* the
batch's snapshots and index rows are stored and *before* the recomputing read starts. Take the
recomputation R of a bucket with the highest version v. Every batch B that can change the
bucket recomputes it itself, with a version taken after B's rows were stored; that version is
at most v, so B's rows were stored before R's read began and R saw them. R therefore saw every
snapshot and index row that matter, and computed the exact totals (the index lists every
dossier currently in the bucket: the batch that last stored a snapshot of a dossier reads it
after that store, so it sees the dossier's final bucket and indexes it). Re-processing a batch
after a crash or a restart stores the same facts again and recomputes again: idempotent.
Workers on several hosts need clocks synchronised (NTP) well within the time between a batch
being stored and its recomputation starting.

``refresh_all`` recomputes everything from the view (slow, exact): for loads that bypass the
worker.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Sequence
from typing import TypeVar

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
INDEX_COLUMNS = ("unit_code", "bucket_start", "anchor", "dossier_id")
COUNT_COLUMNS = ("unit_code", "indicator", "bucket_start", "numerator", "denominator", "version")

IDS_PER_QUERY = 2_000
"""Dossier ids per lookup (keeps each SQL text well under ClickHouse's 256 KiB query limit)."""
BUCKETS_PER_QUERY = 1_000

T = TypeVar("T")
Bucket = tuple[str, int, str]
"""(unit_code, bucket_start in epoch seconds, anchor)."""


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


def refresh_dossiers(
    store: Store, database: str, snapshots: Sequence[Row], versions: VersionClock = VERSIONS
) -> int:
    """Rewrite every bucket that a stored batch's snapshots (``dossier_state`` rows) may have
    changed.

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


def refresh_all(store: Store, database: str) -> None:
    """Rebuild the index and rewrite every bucket of ``hourly_counts`` from the view (slow, exact).

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
    version = VERSIONS.next()
    store.execute(
        f"""INSERT INTO {database}.hourly_counts ({", ".join(COUNT_COLUMNS)})
            SELECT unit_code, indicator, bucket_start, numerator, denominator, {version}
            FROM {database}.indicator_hourly"""
    )
    store.execute(
        f"""INSERT INTO {database}.hourly_counts ({", ".join(COUNT_COLUMNS)})
            SELECT unit_code, indicator, bucket_start, 0, 0, {version}
            FROM {database}.hourly_counts FINAL
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
