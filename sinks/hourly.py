"""Keep ``hourly_counts`` equal to what ``indicator_hourly`` (the merge-at-read view) would say.

Readers take ``hourly_counts FINAL WHERE denominator > 0``: absolute totals of every (unit,
indicator, hour) bucket, the row with the highest ``version`` winning. Two ways to write them:

``refresh_dossiers`` (the worker, after each stored batch) recomputes only the buckets that the
batch's dossiers may have changed:

1. Copy the batch's snapshots into ``snapshots_by_dossier`` (``dossier_state`` again, in small
   granules by dossier id), then take the *contribution version* (below).
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
   ``hourly_counts`` with the count version.

The work is proportional to the batch's dossiers and the rows of their buckets, never to the
history, and only the batch's own dossiers are merged: every read is a primary-key range of
``snapshots_by_dossier`` (the batch's dossiers) or of ``bucket_contributions`` (their buckets).

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

Re-processing a batch after a crash or a restart stores the same facts again and recomputes
again: idempotent. Workers on several hosts need clocks synchronised (NTP) well within the time
between a batch being stored and its recomputation starting.

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
    ANCHOR_INDICATORS,
    CONTRIBUTION_COLUMNS,
    DOSSIER_SHARES_SELECT,
    DOSSIER_STATE_COLUMNS,
    MERGED_SELECT,
    TZ,
    insert_contributions,
)
from sinks.store import Row, Store

RECEIVED = "received"
COMPLETED = "completed"
assert set(ANCHOR_INDICATORS) == {RECEIVED, COMPLETED}
ANCHOR_OF = {i: anchor for anchor, indicators in ANCHOR_INDICATORS.items() for i in indicators}
COUNT_COLUMNS = ("unit_code", "indicator", "bucket_start", "numerator", "denominator", "version")

LIST_BYTES = 160_000
"""Bytes of literals in one query's list of dossier ids or bucket keys: keeps each SQL text
well under ClickHouse's 256 KiB query limit, whatever the length of the ids (up to 128
characters), while a batch of a few thousand messages takes one query each."""

T = TypeVar("T")
Bucket = tuple[str, int, str]
"""(unit_code, bucket_start in epoch seconds, anchor)."""
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
    contributed = versions.next()
    contributions: list[Contribution] = []
    buckets: set[Bucket] = set()
    for chunk in _chunks_of_bytes(ids, lambda i: len(_quote(i).encode()) + 2):
        rows, touched = _contributions(store, database, chunk, contributed)
        contributions.extend(rows)
        buckets.update(touched)
    store.insert(f"{database}.bucket_contributions", CONTRIBUTION_COLUMNS, contributions)
    version = versions.next()
    written = 0
    # A bucket's key, and at most one hour of up to ten digits in the list of hours.
    for bucket_chunk in _chunks_of_bytes(
        sorted(buckets), lambda b: len(_quote(_key(b)).encode()) + 14
    ):
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


_HISTORY_COLUMNS = f"""
    groupUniqArrayIf(unit_code, received_key != '') AS history_units,
    groupUniqArrayIf({_hour_of("received_ms")}, received_key != '') AS history_received_hours,
    groupUniqArrayIf({_hour_of("completed_ms")}, completed_key != '') AS history_completed_hours,"""
"""Merged along with each dossier: the units and hours of all its receptions and the hours of
all its completions, so every bucket it was ever counted in."""


def _contributions(
    store: Store, database: str, ids: Sequence[str], version: int
) -> tuple[list[Contribution], set[Bucket]]:
    """What each dossier adds now to every bucket of its history (0 where it no longer
    counts), stamped with ``version``; and those buckets."""
    merged = MERGED_SELECT.format(
        source=f"{database}.snapshots_by_dossier",
        where=f"WHERE dossier_id IN ({_quoted_list(ids)})",
    )
    first_column = "SELECT\n    dossier_id,"
    assert merged.startswith(first_column)
    merged = first_column + _HISTORY_COLUMNS + merged[len(first_column) :]
    shares = DOSSIER_SHARES_SELECT.format(
        merged=f"({merged})",
        tz=TZ,
        passed="\n    history_units, history_received_hours, history_completed_hours,",
    )
    # One row per dossier: its history, and what it adds to each indicator of its buckets.
    rows = store.query(
        "SELECT dossier_id, any(history_units), any(history_received_hours), "
        "any(history_completed_hours), groupArray((unit_code, indicator, "
        f"toUInt32(bucket_start), numerator, denominator)) FROM ({shares}) GROUP BY dossier_id"
    )
    contributions: list[Contribution] = []
    touched: set[Bucket] = set()
    for dossier_id, units, r_hours, c_hours, shares_now in rows:
        dossier_id = str(dossier_id)
        now = {(str(u), str(i), int(s)): (int(n), int(d)) for u, i, s, n, d in shares_now}
        places = {(unit, start_s, ANCHOR_OF[i]) for unit, i, start_s in now}  # there already
        for past_unit in map(str, units):
            places.update((past_unit, int(hour), RECEIVED) for hour in r_hours)
            places.update((past_unit, int(hour), COMPLETED) for hour in c_hours)
        touched.update(places)
        for unit, start_s, anchor in sorted(places):
            shares_here = [now.get((unit, i, start_s), (0, 0)) for i in ANCHOR_INDICATORS[anchor]]
            numerators = [n for n, _ in shares_here]
            denominators = [d for _, d in shares_here]
            contributions.append(
                (unit, start_s, anchor, dossier_id, numerators, denominators, version)
            )
    return contributions, touched


def _key(bucket: Bucket) -> str:
    """The bucket as ``_recount`` names it in SQL (see there)."""
    unit, start_s, anchor = bucket
    return f"{unit}|{start_s}|{anchor}"


def _recount(
    store: Store, database: str, buckets: Sequence[Bucket], version: int
) -> list[tuple[str, str, int, int, int, int]]:
    """Absolute totals of the buckets (zero rows included), stamped with ``version``: the sum
    of the newest contribution of every dossier listed in each."""
    # ``bucket_start IN`` on the first key column is what lets every engine (18.16 too) read
    # only the granules of those hours; the keys then pick the exact buckets. A list of
    # strings: both engines take a few times longer to analyse a list of tuples. (Hour and
    # anchor hold no '|', so a key names one bucket whatever the unit code holds.)
    keys = _quoted_list(map(_key, buckets))
    hours = ", ".join(str(s) for s in sorted({s for _, s, _ in buckets}))
    key = "concat(unit_code, '|', toString(toUInt32(bucket_start)), '|', anchor)"
    rows = store.query(
        f"""SELECT unit_code, toUInt32(bucket_start), anchor, sumForEach(n), sumForEach(d)
            FROM (
                SELECT unit_code, bucket_start, anchor, dossier_id,
                       argMax(numerators, version) AS n, argMax(denominators, version) AS d
                FROM {database}.bucket_contributions
                WHERE bucket_start IN ({hours}) AND {key} IN ({keys})
                GROUP BY unit_code, bucket_start, anchor, dossier_id
            ) AS newest
            GROUP BY unit_code, bucket_start, anchor"""
    )
    totals = {(str(u), int(s), str(a)): (list(n), list(d)) for u, s, a, n, d in rows}
    out = []
    for unit, start_s, anchor in buckets:
        numerators, denominators = totals.get((unit, start_s, anchor), ([], []))
        for position, indicator in enumerate(ANCHOR_INDICATORS[anchor]):
            # A withdrawn contribution is an empty array: a missing position is a 0.
            n = int(numerators[position]) if position < len(numerators) else 0
            d = int(denominators[position]) if position < len(denominators) else 0
            out.append((unit, indicator, start_s, n, d, version))
    return out


def refresh_all(store: Store, database: str) -> None:
    """Rebuild what every dossier contributes and rewrite every bucket of ``hourly_counts`` from
    the view (slow, exact).

    For data stored without the worker's incremental refresh (bulk loads, benchmarks).
    """
    store.execute(
        f"INSERT INTO {database}.snapshots_by_dossier SELECT * FROM {database}.dossier_state"
    )
    # Every contribution written so far is withdrawn, and each dossier's current ones written
    # with a newer version: a dossier loaded around the worker may have moved since.
    withdrawn = VERSIONS.next()
    insert_contributions(store, database, VERSIONS.next(), withdrawn=withdrawn)
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
