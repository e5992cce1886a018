"""Keep ``hourly_counts`` equal to what ``indicator_hourly`` (the merge-at-read view) would say,
and its roll-ups ``daily_counts`` and ``monthly_counts`` equal to its sums per day and month.

Readers take ``hourly_counts FINAL WHERE denominator > 0``: absolute totals of every (unit,
indicator, hour) bucket, the row with the highest ``version`` winning; ``daily_counts`` and
``monthly_counts`` hold the same per (unit, indicator, Vietnam day) and (..., month), read the
same way, so that a month or a year costs tens of rows per unit instead of every hour. Two ways
to write them:

``refresh_dossiers`` (the worker, after each stored batch) recomputes only the buckets that the
batch's dossiers may have changed:

1. The batch's snapshots are in ``snapshots_by_dossier`` (``dossier_state`` again, in small
   granules by dossier id, copied on insert by a materialized view); take the *contribution
   version* (below).
2. Read every snapshot of the batch's dossiers from it and merge them, in one query. This gives
   each dossier's history — every bucket it was ever counted in (the units and hours of all
   its receptions, the hours of all its completions) — and, with the indicator SQL of the view
   (``schema.DOSSIER_SHARES_SELECT``, ``COUNTS_SELECT`` before the sum), what it adds to each
   indicator of its current buckets. A dossier can leave a bucket (an earlier reception moves
   it to another hour or unit); the bucket it left is in its history. A snapshot that came
   without a reception (the worker's cache had evicted the dossier) is merged with the stored
   reception the same way.
3. Write, for every bucket of each dossier's history, what the dossier adds there now per
   indicator of the bucket's anchor (0 where it no longer counts) into
   ``bucket_contributions``, with the contribution version.
4. Take the *count version* (below). For every bucket touched, sum the newest contribution of
   each dossier listed there and write the absolute totals (zero rows for emptied buckets) to
   ``hourly_counts`` with the count version. This step and the next are ``INSERT … SELECT``:
   the rows never travel to Python and back.
5. After those rows are stored, take a second version and recompute the totals of every
   (unit, day) holding an affected bucket from the latest version of each of its hours in
   ``hourly_counts`` (``argMax`` by version: what ``FINAL`` reads, faster on 18.16), every
   indicator, zeros included, into ``daily_counts``; then, after those are stored, a third
   version and the (unit, month) totals of those days from ``daily_counts`` the same way.

The work is proportional to the batch's dossiers and the rows of their buckets, never to the
history, and only the batch's own dossiers are merged: every read is a primary-key range of
``snapshots_by_dossier`` (the batch's dossiers) or of ``bucket_contributions`` (their buckets).
Step 5 reads the month partitions of ``hourly_counts`` that hold the affected days and one
partition of ``daily_counts`` per affected month (docs/hourly-aggregates.md).

Why the newest versions are always right, with several workers and in any order: versions are
the wall clock in epoch nanoseconds (strictly increasing within a process). The contribution
version is taken *after* the batch's snapshots are stored and *before* they are read back; the
count version *after* the contributions are stored and *before* they are summed.

* The newest contribution of a dossier in a bucket is right. Take the batch C that wrote it,
  with version v. Every batch B that stored a snapshot of the dossier took its own contribution
  version after storing it, and wrote a row for every bucket of the history it read. The
  snapshot that put the dossier in this bucket was stored before v (had it been stored later,
  the batch that stored it would have written a newer row here). So a B with a version above v
  read after that snapshot was stored, saw the bucket in the history and wrote a newer row —
  impossible. Every B's version is at most v: its snapshots were stored before C read, and C
  merged them all.
* The newest ``hourly_counts`` row of a bucket, written by R with count version w, is right.
  Every batch that wrote contributions to the bucket recounts it itself, with a count version
  taken after its contributions were stored; that version is at most w, so those rows were
  stored before R's read began and R saw them all, and summed each dossier's newest one.

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
from typing import TypeVar

from pipeline.errors import RetryableSinkError
from sinks.schema import (
    ANCHOR_INDICATORS,
    CONTRIBUTION_COLUMNS,
    DOSSIER_SHARES_SELECT,
    MERGED_SELECT,
    TZ,
    anchor_of,
    insert_contributions,
    per_indicator,
)
from sinks.store import Row, Store

RECEIVED = "received"
COMPLETED = "completed"
assert set(ANCHOR_INDICATORS) == {RECEIVED, COMPLETED}
COUNT_COLUMNS = ("unit_code", "indicator", "bucket_start", "numerator", "denominator", "version")
DAY_COLUMNS = ("unit_code", "indicator", "day", "numerator", "denominator", "version")
MONTH_COLUMNS = ("unit_code", "indicator", "month", "numerator", "denominator", "version")

LIST_BYTES = 160_000
"""Bytes of literals in one query's list of dossier ids or bucket keys: keeps each SQL text
well under ClickHouse's 256 KiB query limit, whatever the length of the ids (up to 128
characters), while a batch of a few thousand messages takes one query each."""
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
Contribution = tuple[str, int, str, str, list[int], list[int], int]
"""A ``bucket_contributions`` row (``CONTRIBUTION_COLUMNS``)."""


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
    quoted_ids = sorted({_quote(str(row[0])) for row in snapshots})
    if not quoted_ids:
        return 0
    contributed = versions.next()
    contributions: list[Contribution] = []
    buckets: set[Bucket] = set()
    for chunk in _chunks_of_bytes(quoted_ids, _list_item_bytes):
        rows, touched = _contributions(store, database, chunk, contributed)
        contributions.extend(rows)
        buckets.update(touched)
    store.insert(f"{database}.bucket_contributions", CONTRIBUTION_COLUMNS, contributions)
    version = versions.next()
    written = 0
    # A bucket's key, and at most one hour of up to ten digits in the list of hours.
    keyed = [(bucket, _quote(_key(bucket))) for bucket in sorted(buckets)]
    for bucket_chunk in _chunks_of_bytes(keyed, lambda item: _list_item_bytes(item[1]) + 12):
        _recount(store, database, bucket_chunk, version)
        written += sum(len(ANCHOR_INDICATORS[anchor]) for (_, _, anchor), _ in bucket_chunk)
    days = sorted({(unit, day_number(start_s)) for unit, start_s, _ in buckets})
    day_version = versions.next()  # after every hourly row of the batch is stored
    for day_chunk in _chunks(days, DAYS_PER_QUERY):
        _recount_days(store, database, day_chunk, day_version)
    months = sorted({(unit, _month_of(day)) for unit, day in days})
    month_version = versions.next()  # after every daily row of the batch is stored
    for month_chunk in _chunks(months, MONTHS_PER_QUERY):
        _recount_months(store, database, month_chunk, month_version)
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


_HISTORY_COLUMNS = f"""
    groupUniqArrayIf(unit_code, received_key != '') AS history_units,
    groupUniqArrayIf({_hour_of("received_ms")}, received_key != '') AS history_received_hours,
    groupUniqArrayIf({_hour_of("completed_ms")}, completed_key != '') AS history_completed_hours,"""
"""Merged along with each dossier: the units and hours of all its receptions and the hours of
all its completions, so every bucket it was ever counted in."""


def _contributions(
    store: Store, database: str, quoted_ids: Sequence[str], version: int
) -> tuple[list[Contribution], set[Bucket]]:
    """What each dossier (``quoted_ids``: SQL literals) adds now to every bucket of its history
    (0 where it no longer counts), stamped with ``version``; and those buckets."""
    merged = MERGED_SELECT.format(
        source=f"{database}.snapshots_by_dossier",
        where=f"WHERE dossier_id IN ({', '.join(quoted_ids)})",
    )
    first_column = "SELECT\n    dossier_id,"
    assert merged.startswith(first_column)
    merged = first_column + _HISTORY_COLUMNS + merged[len(first_column) :]
    shares = DOSSIER_SHARES_SELECT.format(
        merged=f"({merged})",
        tz=TZ,
        passed="\n    history_units, history_received_hours, history_completed_hours,",
    )
    # One row per dossier: its history, and per bucket it counts in now the arrays of what it
    # adds to each indicator of the bucket's anchor (a dossier adds 0 or 1: UInt32 arrays come
    # back as Python ints from both engines, where UInt64 is text in chdb's JSON).
    rows = store.query(
        f"""SELECT dossier_id, any(units), any(received_hours), any(completed_hours),
                   groupArray((unit_code, start_s, anchor, numerators, denominators))
            FROM (
                SELECT dossier_id, any(history_units) AS units,
                       any(history_received_hours) AS received_hours,
                       any(history_completed_hours) AS completed_hours,
                       unit_code, toUInt32(bucket_start) AS start_s, anchor,
                       CAST({per_indicator("numerator")} AS Array(UInt32)) AS numerators,
                       CAST({per_indicator("denominator")} AS Array(UInt32)) AS denominators
                FROM (SELECT *, {anchor_of("indicator")} AS anchor FROM ({shares}))
                GROUP BY dossier_id, unit_code, start_s, anchor
            )
            GROUP BY dossier_id"""
    )
    zeros = {anchor: [0] * len(indicators) for anchor, indicators in ANCHOR_INDICATORS.items()}
    contributions: list[Contribution] = []
    touched: set[Bucket] = set()
    for dossier_id, units, r_hours, c_hours, shares_now in rows:
        dossier_id = str(dossier_id)
        now = {(u, s, a): (n, d) for u, s, a, n, d in shares_now}
        places = set(now)  # there already
        for past_unit in units:
            places.update((past_unit, hour, RECEIVED) for hour in r_hours)
            places.update((past_unit, hour, COMPLETED) for hour in c_hours)
        touched |= places
        for place in places:
            unit, start_s, anchor = place
            numerators, denominators = now.get(place) or (zeros[anchor], zeros[anchor])
            contributions.append(
                (unit, start_s, anchor, dossier_id, numerators, denominators, version)
            )
    return contributions, touched


def _key(bucket: Bucket) -> str:
    """The bucket as ``_recount`` names it in SQL (see there)."""
    unit, start_s, anchor = bucket
    return f"{unit}|{start_s}|{anchor}"


def _recount(
    store: Store, database: str, buckets: Sequence[tuple[Bucket, str]], version: int
) -> None:
    """Write the buckets' absolute totals into ``hourly_counts``, stamped with ``version``: per
    indicator of the bucket's anchor, the sum of the newest contribution of every dossier
    listed there (zero rows included: every bucket touched has a contribution row from the
    batch that touched it). Each bucket comes with its ``_key`` as a SQL literal. The rows
    stay inside ClickHouse."""
    # ``bucket_start IN`` on the first key column is what lets every engine (18.16 too) read
    # only the granules of those hours; the keys then pick the exact buckets. A list of
    # strings: both engines take a few times longer to analyse a list of tuples. (Hour and
    # anchor hold no '|', so a key names one bucket whatever the unit code holds.)
    keys = ", ".join(quoted for _, quoted in buckets)
    hours = ", ".join(str(s) for s in sorted({s for (_, s, _), _ in buckets}))
    key = "concat(unit_code, '|', toString(toUInt32(bucket_start)), '|', anchor)"
    names = (
        f"if(anchor = {_quote(RECEIVED)}, [{_quoted_list(ANCHOR_INDICATORS[RECEIVED])}], "
        f"[{_quoted_list(ANCHOR_INDICATORS[COMPLETED])}])"
    )
    # A withdrawn contribution is an empty array: a missing position is a 0.
    store.execute(
        f"""INSERT INTO {database}.hourly_counts ({", ".join(COUNT_COLUMNS)})
            SELECT unit_code, indicator, bucket_start,
                   if(position <= length(ns), ns[position], 0),
                   if(position <= length(ds), ds[position], 0),
                   toUInt64({version})
            FROM (
                SELECT unit_code, bucket_start, anchor, sumForEach(n) AS ns, sumForEach(d) AS ds
                FROM (
                    SELECT unit_code, bucket_start, anchor, dossier_id,
                           argMax(numerators, version) AS n, argMax(denominators, version) AS d
                    FROM {database}.bucket_contributions
                    WHERE bucket_start IN ({hours}) AND {key} IN ({keys})
                    GROUP BY unit_code, bucket_start, anchor, dossier_id
                ) AS newest
                GROUP BY unit_code, bucket_start, anchor
            ) AS totals
            ARRAY JOIN {names} AS indicator, arrayEnumerate({names}) AS position"""
    )


def _recount_days(store: Store, database: str, days: Sequence[Day], version: int) -> None:
    """Write the days' totals per indicator into ``daily_counts`` from the latest hourly rows
    (an indicator that ever counted in a day has hourly rows there, zero rows included)."""
    keys = ", ".join(f"({_quote(u)}, {d})" for u, d in days)
    units = _quoted_list(sorted({u for u, _ in days}))
    # One time range per run of consecutive days: only the partitions holding them are read.
    ranges = " OR ".join(
        f"(bucket_start >= toDateTime({_day_start_s(first)}) "
        f"AND bucket_start < toDateTime({_day_start_s(last + 1)}))"
        for first, last in _runs(sorted({d for _, d in days}))
    )
    hour_day = f"intDiv(toUInt32(bucket_start) + {VIETNAM_OFFSET_S}, {DAY_S})"
    _insert_latest_sums(
        store,
        f"{database}.daily_counts",
        DAY_COLUMNS,
        f"{database}.hourly_counts",
        "bucket_start",
        f"toDate(bucket_start, '{TZ}')",
        f"unit_code IN ({units}) AND ({ranges}) AND (unit_code, {hour_day}) IN ({keys})",
        version,
    )


def _insert_latest_sums(
    store: Store,
    target: str,
    columns: Sequence[str],
    source: str,
    time_column: str,
    period: str,
    where: str,
    version: int,
) -> None:
    """Into ``target``: per (unit, indicator, ``period``), the sums of the rows of ``source``
    matching ``where``, each key at its highest version (what ``FINAL`` reads; ``argMax`` by
    version does it in half the time on ClickHouse 18.16), stamped with ``version``. The rows
    stay inside ClickHouse."""
    store.execute(
        f"""INSERT INTO {target} ({", ".join(columns)})
            SELECT unit_code, indicator, period, sum(n), sum(d), toUInt64({version})
            FROM (SELECT unit_code, indicator, {time_column}, {period} AS period,
                         argMax(numerator, version) AS n, argMax(denominator, version) AS d
                  FROM {source}
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


def _recount_months(store: Store, database: str, months: Sequence[Month], version: int) -> None:
    """Write the months' totals per indicator into ``monthly_counts`` from the latest daily rows."""
    keys = ", ".join(f"({_quote(u)}, '{m.isoformat()}')" for u, m in months)
    units = _quoted_list(sorted({u for u, _ in months}))
    ranges = " OR ".join(
        f"(day >= toDate('{m.isoformat()}') AND day < toDate('{_next_month(m).isoformat()}'))"
        for m in sorted({m for _, m in months})
    )
    _insert_latest_sums(
        store,
        f"{database}.monthly_counts",
        MONTH_COLUMNS,
        f"{database}.daily_counts",
        "day",
        "toStartOfMonth(day)",
        f"unit_code IN ({units}) AND ({ranges}) "
        f"AND (unit_code, toString(toStartOfMonth(day))) IN ({keys})",
        version,
    )


def refresh_all(store: Store, database: str) -> None:
    """Rebuild what every dossier contributes, rewrite every bucket of ``hourly_counts`` from
    the view, then every day and month from the level below (slow, exact).

    For data stored without the worker's incremental refresh (bulk loads, benchmarks).
    """
    store.execute(
        f"INSERT INTO {database}.snapshots_by_dossier SELECT * FROM {database}.dossier_state"
    )
    # Every contribution written so far is withdrawn, and each dossier's current ones written
    # with a newer version: a dossier loaded around the worker may have moved since.
    withdrawn = VERSIONS.next()
    insert_contributions(store, database, VERSIONS.next(), withdrawn=withdrawn)
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


def _list_item_bytes(literal: str) -> int:
    """The bytes a SQL literal takes in a list: itself and the ``, `` after it."""
    return len(literal.encode()) + 2


def _chunks_of_bytes(items: Sequence[T], size_of: Callable[[T], int]) -> Iterable[Sequence[T]]:
    """``items`` in runs whose sizes add up to at most ``LIST_BYTES`` (one item at least)."""
    first, total = 0, 0
    for index, item in enumerate(items):
        size = size_of(item)
        if index > first and total + size > LIST_BYTES:
            yield items[first:index]
            first, total = index, 0
        total += size
    if first < len(items):
        yield items[first:]
